package promote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/notify"
	"github.com/ferryhq/ferry/promote/promotetest"
)

// webhook is a loopback notification endpoint that records what it is sent and answers status.
type webhook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newWebhook(t *testing.T, status int) *webhook {
	h := &webhook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *webhook) events(t *testing.T) []notify.Event {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []notify.Event
	for _, b := range h.bodies {
		var e notify.Event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("notification %q: %v", b, err)
		}
		e.Time = time.Time{}
		out = append(out, e)
	}
	h.bodies = nil
	return out
}

func TestNotifyWatchRefusalsAndRollback(t *testing.T) {
	jsonHook, failing := newWebhook(t, http.StatusOK), newWebhook(t, http.StatusInternalServerError)
	t.Setenv("FERRY_TEST_JSON_HOOK", jsonHook.srv.URL+"/hook")
	t.Setenv("FERRY_TEST_FAILING_HOOK", failing.srv.URL+"/s3cr3t-path")
	w := promotetest.NewWorld(t, promotetest.Spec{FerryYAMLTail: `notify:
  - {url: env://FERRY_TEST_JSON_HOOK, format: json, on: [commit, refused, rollback]}
  - {url: env://FERRY_TEST_FAILING_HOOK, format: slack}
`})
	var logs bytes.Buffer
	opts := w.Options()
	opts.Log = slog.New(slog.NewTextHandler(&logs, nil))
	opts.Notifier = notify.New(notify.Options{Backoff: time.Millisecond, Log: opts.Log})
	ctx := context.Background()

	res, err := promote.Watch(ctx, opts, promote.WatchOptions{})
	if err != nil {
		t.Fatalf("watch failed (a failing notification must not fail it): %v", err)
	}
	if len(res.Commits) != 1 || w.Head("main") != res.Commits[0].SHA {
		t.Fatalf("commits = %+v, main at %s: the commit did not land", res.Commits, w.Head("main"))
	}
	want := []notify.Event{
		{Event: notify.Commit, Command: "watch", Environment: "dev", Branch: "main", SHA: res.Commits[0].SHA, Changes: []notify.Change{
			{Image: "api", To: w.Ref("api", "1.1.0")},
			{Image: "worker", To: w.Ref("worker", "1.1.0")},
		}},
		{Event: notify.Refused, Command: "watch", Environment: "dev", Image: "api", Tag: "1.2.0", Reason: "unsigned"},
		{Event: notify.Refused, Command: "watch", Environment: "dev", Image: "worker", Tag: "1.2.0", Reason: "unsigned"},
	}
	ignoreDetail := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Detail" || p.Last().String() == ".From" }, cmp.Ignore())
	if diff := cmp.Diff(want, jsonHook.events(t), ignoreDetail); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if n := len(failing.events(t)); n != 3*3 {
		t.Errorf("failing endpoint got %d requests, want 3 events × 3 attempts", n)
	}
	if !strings.Contains(logs.String(), "notification not delivered") || !strings.Contains(logs.String(), "target=notify[1]") {
		t.Errorf("no warning naming notify[1]:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "s3cr3t") || strings.Contains(logs.String(), failing.srv.Listener.Addr().String()) {
		t.Errorf("the log shows a notification URL:\n%s", logs.String())
	}

	// A second cycle sees the same unsigned tags: they were told already. Then a rollback of dev.
	if _, err := promote.Watch(ctx, opts, promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := jsonHook.events(t); len(got) != 0 {
		t.Errorf("second cycle notified again: %+v", got)
	}
	opts.Log = nil
	res, err = promote.Rollback(ctx, opts, "dev", promote.RollbackOptions{Images: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	want = []notify.Event{{Event: notify.Rollback, Command: "rollback", Environment: "dev", Write: notify.Commit, Branch: "main", SHA: res.Commits[0].SHA,
		Changes: []notify.Change{{Image: "api", To: w.Ref("api", "1.0.0")}}}}
	if diff := cmp.Diff(want, jsonHook.events(t), ignoreDetail); diff != "" {
		t.Errorf("rollback notification (-want +got):\n%s", diff)
	}
}

func TestWatchImagesRestrictsTheCycle(t *testing.T) {
	w := promotetest.New(t, nil)
	res, err := promote.Watch(context.Background(), w.Options(), promote.WatchOptions{Images: []string{"worker", "nosuch"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range res.Selected {
		got = append(got, s.Image+":"+s.Tag)
	}
	if diff := cmp.Diff([]string{"worker:1.1.0"}, got); diff != "" {
		t.Errorf("selected (-want +got):\n%s", diff)
	}
	kust := w.Show("main", "envs/dev/kustomization.yaml")
	if strings.Contains(kust, w.Digest["api:1.1.0"]) || !strings.Contains(kust, w.Digest["worker:1.1.0"]) {
		t.Errorf("dev got more (or less) than worker:\n%s", kust)
	}
}
