package listen

import (
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/ferryhq/ferry/promote/promotetest"
)

// BenchmarkEventToCommit measures, in a config of 200 images, the time from posting a push
// event for one image to its commit on the bare config repo (ns/op), and the heap the running
// server holds at rest after its first full cycle (heap-MiB-at-rest: live heap after a GC,
// less the live heap before the server started, so the world's registry is not counted).
func BenchmarkEventToCommit(b *testing.B) {
	names := make([]string, 200)
	for i := range names {
		names[i] = fmt.Sprintf("app%03d", i)
	}
	w := promotetest.NewWorld(b, promotetest.Spec{Images: names})
	before := liveHeap()
	f := start(b, w)
	atRest := liveHeap() - before
	var worst time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		d := pushSigned(w, "app000", fmt.Sprintf("1.%d.0", 3+i))
		body := []byte(`{"repository": "` + w.Repository("app000") + `", "tag": "1.3.0", "digest": "` + d + `"}`)
		b.StartTimer()
		start := time.Now()
		if code, ans := f.post(KindGeneric, body, senderAuth(KindGeneric, body)); code != http.StatusAccepted {
			b.Fatalf("event: %d %s", code, ans)
		}
		f.waitFor("commit", func() bool { return f.devRuns(d) })
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(worst.Seconds()*1000, "worst-ms")
	b.ReportMetric(float64(atRest)/(1<<20), "heap-MiB-at-rest")
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
