package listen

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/promotetest"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

const secret = "webhook-s3cret"

// fixture is a World and a running listener whose cycles are real watch cycles on it.
type fixture struct {
	t    testing.TB
	w    *promotetest.World
	base string // http://127.0.0.1:port
	logs *promotetest.Buffer

	mu     sync.Mutex
	cycles [][]string // the images of each cycle; nil for a full cycle
}

func start(t testing.TB, w *promotetest.World) *fixture {
	t.Helper()
	f := &fixture{t: t, w: w, logs: &promotetest.Buffer{}}
	m := NewMetrics()
	opts := w.Options()
	opts.RegistryOptions = append(opts.RegistryOptions, registry.WithRequestObserver(m.ObserveRequest))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Listener: ln,
			Secret:   []byte(secret),
			Metrics:  m,
			Log:      slog.New(slog.NewTextHandler(f.logs, nil)),
			Config:   func(ctx context.Context) (*config.Config, error) { return promote.LoadConfig(ctx, opts) },
			Watch: func(ctx context.Context, images []string) (*promote.Result, error) {
				f.mu.Lock()
				f.cycles = append(f.cycles, images)
				f.mu.Unlock()
				return promote.Watch(ctx, opts, promote.WatchOptions{Images: images})
			},
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	f.waitFor("the first cycle", func() bool { return f.get("/readyz") == http.StatusOK })
	return f
}

// waitFor polls cond until it holds, failing the test after a deadline.
func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("no %s within a minute\nlog:\n%s", what, f.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) get(path string) int {
	resp, err := http.Get(f.base + path)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// post sends a webhook; auth adds the kind's credentials (nil: none).
func (f *fixture) post(kind string, body []byte, auth func(*http.Request)) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.base+"/webhook/"+kind, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if kind == KindGHCR {
		req.Header.Set("X-GitHub-Event", "registry_package")
	}
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// senderAuth is how each sender carries the secret, as docs/watch.md tells users to set it up.
func senderAuth(kind string, body []byte) func(*http.Request) {
	return func(r *http.Request) {
		switch kind {
		case KindGHCR:
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(body)
			r.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		case KindDockerHub:
			r.URL.RawQuery = url.Values{"secret": {secret}}.Encode()
		case KindQuay:
			r.SetBasicAuth("ferry", secret)
		default:
			r.Header.Set("Authorization", "Bearer "+secret)
		}
	}
}

func (f *fixture) eventCycles() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]string
	for _, c := range f.cycles {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// pushSigned pushes and signs acme/<img>:<tag> and returns its digest.
func pushSigned(w *promotetest.World, img, tag string) string {
	d := w.Reg.PushRandom(w.T, "acme/"+img+":"+tag, registrytest.Image{})
	w.Sign(img, d)
	return d
}

func (f *fixture) devRuns(digest string) bool {
	return strings.Contains(f.w.Show("main", "envs/dev/kustomization.yaml"), digest)
}

// TestEachSenderDrivesACycle posts each sender's sample with the sender's own credentials
// after pushing a newer signed api: the commit that appears comes from the event's cycle, for
// api alone (the listener has no interval). Then /metrics is scraped and parsed.
func TestEachSenderDrivesACycle(t *testing.T) {
	w := promotetest.New(t, nil)
	f := start(t, w)
	for i, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			f.t = t
			d := pushSigned(w, "api", fmt.Sprintf("1.%d.0", 3+i))
			body := sample(t, kind)
			code, ans := f.post(kind, body, senderAuth(kind, body))
			if code != http.StatusAccepted || !strings.Contains(ans, `"accepted":1`) {
				t.Fatalf("POST /webhook/%s = %d %s", kind, code, ans)
			}
			f.waitFor("commit of the pushed api", func() bool { return f.devRuns(d) })
		})
	}
	f.t = t
	want := make([][]string, len(Kinds))
	for i := range want {
		want[i] = []string{"api"}
	}
	if diff := cmp.Diff(want, f.eventCycles()); diff != "" {
		t.Errorf("event cycles (-want +got):\n%s", diff)
	}
	checkMetrics(t, f)
}

// checkMetrics scrapes /metrics until every figure has reached its least value: a cycle
// records its figures after its push lands, so a scrape right after the commit appears can
// come before the last cycle's. It fails with the shortfalls of the last scrape.
func checkMetrics(t *testing.T, f *fixture) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		short, err := metricShortfalls(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(short) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, s := range short {
				t.Error(s)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricShortfalls scrapes /metrics once, parses it with the Prometheus text parser and lists
// each figure below its least value.
func metricShortfalls(f *fixture) ([]string, error) {
	resp, err := http.Get(f.base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parsing /metrics: %w", err)
	}
	var short []string
	value := func(name string, labels map[string]string) float64 {
		fam, ok := fams[name]
		if !ok {
			short = append(short, "/metrics has no "+name)
			return 0
		}
		var sum float64
		for _, m := range fam.Metric {
			if matches(m, labels) {
				switch {
				case m.Counter != nil:
					sum += m.Counter.GetValue()
				case m.Gauge != nil:
					sum += m.Gauge.GetValue()
				case m.Histogram != nil:
					sum += float64(m.Histogram.GetSampleCount())
				}
			}
		}
		return sum
	}
	n := float64(len(Kinds))
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"ferry_watch_cycles_total", map[string]string{"trigger": "event", "outcome": "ok"}, n},
		{"ferry_watch_cycles_total", map[string]string{"trigger": "full", "outcome": "ok"}, 1},
		{"ferry_watch_cycle_duration_seconds", nil, n + 1},
		{"ferry_registry_requests_total", map[string]string{"host": f.w.Reg.Host, "kind": "tags", "code": "200"}, n + 1},
		{"ferry_refusals_total", map[string]string{"reason": "unsigned"}, 1},
		{"ferry_commits_total", map[string]string{"environment": "dev"}, n + 1},
		{"ferry_last_selection_timestamp_seconds", map[string]string{"image": "api"}, float64(time.Now().Add(-time.Hour).Unix())},
		{"ferry_webhook_events_total", map[string]string{"outcome": "accepted"}, n},
		{"go_goroutines", nil, 1},
	} {
		if got := value(c.name, c.labels); got < c.min {
			short = append(short, fmt.Sprintf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min))
		}
	}
	return short, nil
}

func matches(m *dto.Metric, labels map[string]string) bool {
	found := 0
	for _, l := range m.Label {
		if v, ok := labels[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(labels)
}

// TestWebhookRefusals sends what must not start a cycle: each is answered, logged without its
// body, and no cycle runs.
func TestWebhookRefusals(t *testing.T) {
	w := promotetest.New(t, nil)
	f := start(t, w)
	generic := []byte(`{"repository": "` + w.Repository("api") + `", "tag": "BODY-MARKER"}`)
	bearer := func(s string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+s) }
	}
	ghcr := sample(t, KindGHCR)
	for _, tc := range []struct {
		name string
		kind string
		body []byte
		auth func(*http.Request)
		want int
		ans  string
	}{
		{"bad secret", KindGeneric, generic, bearer("guess"), http.StatusUnauthorized, "wrong secret"},
		{"no secret", KindGeneric, generic, nil, http.StatusUnauthorized, "no Authorization header"},
		{"basic with a wrong password", KindQuay, generic, func(r *http.Request) { r.SetBasicAuth("ferry", "guess") }, http.StatusUnauthorized, "wrong secret"},
		{"query secret is for docker hub only", KindGeneric, generic, func(r *http.Request) { r.URL.RawQuery = "secret=" + secret }, http.StatusUnauthorized, "no Authorization header"},
		{"github without signature", KindGHCR, ghcr, bearer(secret), http.StatusUnauthorized, "no X-Hub-Signature-256 signature"},
		{"github with a wrong signature", KindGHCR, ghcr, func(r *http.Request) {
			r.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("ab", 32))
		}, http.StatusUnauthorized, "wrong X-Hub-Signature-256 signature"},
		{"github signature of another body", KindGHCR, ghcr, senderAuth(KindGHCR, generic), http.StatusUnauthorized, "wrong X-Hub-Signature-256 signature"},
		{"oversized body", KindGeneric, bytes.Repeat([]byte(" "), 1<<20+1), bearer(secret), http.StatusRequestEntityTooLarge, "body over 1048576 bytes"},
		{"malformed JSON", KindGeneric, []byte(`{"repository": BODY-MARKER`), bearer(secret), http.StatusBadRequest, "malformed payload: invalid character 'B'"},
		{"unknown image", KindGeneric, []byte(`{"repository": "ghcr.io/acme/nothing", "tag": "1.0.0"}`), bearer(secret), http.StatusAccepted, `"unknown":1`},
		{"unknown kind", "bitbucket", generic, bearer(secret), http.StatusNotFound, "unknown webhook kind"},
		{"github ping", KindGHCR, []byte(`{"zen": "Keep it logically awesome."}`), nil, http.StatusOK, "not an image push"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			auth := tc.auth
			if tc.name == "github ping" {
				auth = func(r *http.Request) {
					senderAuth(KindGHCR, tc.body)(r)
					r.Header.Set("X-GitHub-Event", "ping")
				}
			}
			code, ans := f.post(tc.kind, tc.body, auth)
			if code != tc.want || !strings.Contains(ans, tc.ans) {
				t.Errorf("answer %d %q, want %d and %q", code, ans, tc.want, tc.ans)
			}
		})
	}
	f.t = t
	resp, err := http.Get(f.base + "/webhook/generic")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /webhook/generic = %d, want 405", resp.StatusCode)
	}
	if logs := f.logs.String(); strings.Contains(logs, "BODY-MARKER") || strings.Contains(logs, secret) {
		t.Errorf("the log shows a body or the secret:\n%s", logs)
	}
	if n := strings.Count(f.logs.String(), "webhook refused"); n != 9 {
		t.Errorf("%d refusals logged, want 9:\n%s", n, f.logs.String())
	}
	// A valid event afterwards drives the one and only event cycle.
	d := pushSigned(w, "worker", "1.3.0")
	if code, ans := f.post(KindGeneric, []byte(`{"repository": "`+w.Repository("worker")+`", "tag": "1.3.0"}`), bearer(secret)); code != http.StatusAccepted {
		t.Fatalf("valid event: %d %s", code, ans)
	}
	f.waitFor("commit of worker", func() bool { return f.devRuns(d) })
	if diff := cmp.Diff([][]string{{"worker"}}, f.eventCycles()); diff != "" {
		t.Errorf("event cycles (-want +got):\n%s", diff)
	}
}

// TestFloodCoalesces sends 200 copies of one push event at once (a sender retrying, or a
// burst): one cycle runs for them, not 200.
func TestFloodCoalesces(t *testing.T) {
	w := promotetest.New(t, nil)
	f := start(t, w)
	d := pushSigned(w, "api", "1.3.0")
	body := []byte(`{"repository": "` + w.Repository("api") + `", "tag": "1.3.0", "digest": "` + d + `"}`)
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 10 {
				code, ans := f.post(KindGeneric, body, senderAuth(KindGeneric, body))
				mu.Lock()
				answers[fmt.Sprint(code, " ", strings.TrimSpace(ans))]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	want := map[string]int{
		`202 {"accepted":1,"coalesced":0,"unknown":0}`: 1,
		`202 {"accepted":0,"coalesced":1,"unknown":0}`: 199,
	}
	if diff := cmp.Diff(want, answers); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	f.waitFor("commit of api 1.3.0", func() bool { return f.devRuns(d) })
	// Every answer is in: a later event's cycle comes after any the flood caused.
	d2 := pushSigned(w, "worker", "1.3.0")
	body2 := []byte(`{"repository": "` + w.Repository("worker") + `", "tag": "1.3.0"}`)
	f.post(KindGeneric, body2, senderAuth(KindGeneric, body2))
	f.waitFor("commit of worker 1.3.0", func() bool { return f.devRuns(d2) })
	apiCycles := 0
	for _, c := range f.eventCycles() {
		if slices.Contains(c, "api") {
			apiCycles++
		}
	}
	if apiCycles != 1 {
		t.Errorf("%d cycles for api after 200 copies of its push, want 1: %v", apiCycles, f.eventCycles())
	}
}

func TestHealthAndReadiness(t *testing.T) {
	w := promotetest.New(t, nil)
	f := start(t, w) // waits for /readyz 200 after the first cycle
	if code := f.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	// The config repo's ferry.yaml breaks: the next cycle fails and readiness says so.
	checkout := t.TempDir()
	promotetest.Git(t, "", "clone", "-q", w.Bare, checkout)
	promotetest.Git(t, checkout, "rm", "-q", "ferry.yaml")
	promotetest.Git(t, checkout, "-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-qm", "break")
	promotetest.Git(t, checkout, "push", "-q", "origin", "main")
	body := []byte(`{"repository": "` + w.Repository("api") + `", "tag": "1.1.0"}`)
	f.post(KindGeneric, body, senderAuth(KindGeneric, body))
	f.waitFor("readiness to fail", func() bool { return f.get("/readyz") == http.StatusServiceUnavailable })
}
