package notify

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
)

// hook is a loopback webhook that records bodies and answers with the statuses given in turn
// (then 200).
type hook struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   []string
	statuses []int
}

func newHook(t *testing.T, statuses ...int) *hook {
	h := &hook{statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.bodies = append(h.bodies, string(b))
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
		}
		if len(h.statuses) > 0 {
			w.WriteHeader(h.statuses[0])
			h.statuses = h.statuses[1:]
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

var when = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

var events = []Event{
	{Event: Commit, Command: "watch", Environment: "dev", Branch: "main", SHA: "0123456789abcdef0123",
		Changes: []Change{{Image: "api", From: "r/api:1.0.0", To: "r/api:1.1.0@sha256:aa"}}, Time: when},
	{Event: PullRequest, Command: "promote", Environment: "prod", Branch: "ferry/prod/from-staging", URL: "https://forge/pr/12", Number: 12, Time: when},
	{Event: Refused, Command: "watch", Environment: "dev", Image: "api", Tag: "1.2.0", Reason: "unsigned", Detail: "no signatures", Time: when},
	{Event: Rollback, Command: "rollback", Environment: "prod", Write: Commit, Branch: "main", SHA: "fedcba9876543210",
		Changes: []Change{{Image: "api", From: "r/api:1.1.0@sha256:aa", To: "r/api:1.0.0@sha256:bb"}}, Time: when},
}

func TestSendJSON(t *testing.T) {
	h := newHook(t)
	n := New(Options{})
	n.Send(context.Background(), []Target{{Name: "notify[0]", URL: h.URL, Format: FormatJSON, On: []string{Commit, Refused, Rollback}}}, events)
	var got []Event
	for _, b := range h.got() {
		var e Event
		if err := json.Unmarshal([]byte(b), &e); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
		got = append(got, e)
	}
	want := []Event{events[0], events[2], events[3]} // no pull-request: not in on
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// The refusal was told: a second cycle seeing it again sends nothing new for it.
	n.Send(context.Background(), []Target{{Name: "notify[0]", URL: h.URL, Format: FormatJSON, On: []string{Refused}}}, events)
	if n := len(h.got()); n != 3 {
		t.Errorf("%d deliveries after the same refusal again, want still 3", n)
	}
}

func TestSendSlack(t *testing.T) {
	h := newHook(t)
	New(Options{}).Send(context.Background(), []Target{{Name: "notify[0]", URL: h.URL, Format: FormatSlack}}, events)
	var got []string
	for _, b := range h.got() {
		var m map[string]string
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
		got = append(got, m["text"])
	}
	want := []string{
		"ferry watch committed to *dev* on `main` (0123456789ab)\n• api: r/api:1.0.0 → r/api:1.1.0@sha256:aa",
		"ferry promote opened pull request <https://forge/pr/12|#12> for *prod*",
		":warning: ferry watch refused `api:1.2.0` for *dev*: unsigned (no signatures)",
		":rewind: ferry rolled back *prod* on `main` (fedcba987654)\n• api: r/api:1.1.0@sha256:aa → r/api:1.0.0@sha256:bb",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("texts (-want +got):\n%s", diff)
	}
}

func TestSendRetriesAndNeverPrintsTheURL(t *testing.T) {
	for _, tc := range []struct {
		name      string
		statuses  []int
		wantCalls int
		wantWarn  string // "" means delivered
	}{
		{name: "5xx then success", statuses: []int{503, 500}, wantCalls: 3},
		{name: "429 is retried", statuses: []int{429}, wantCalls: 2},
		{name: "always failing: bounded", statuses: []int{500, 500, 500, 500}, wantCalls: 3, wantWarn: "after 3 attempt(s): HTTP 500"},
		{name: "4xx is not retried", statuses: []int{404}, wantCalls: 1, wantWarn: "after 1 attempt(s): HTTP 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHook(t, tc.statuses...)
			var logs bytes.Buffer
			n := New(Options{Backoff: time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			secretURL := h.URL + "/services/T000/B000/s3cr3t"
			n.Send(context.Background(), []Target{{Name: "notify[1]", URL: secretURL, Format: FormatJSON}}, events[:1])
			if got := len(h.got()); got != tc.wantCalls {
				t.Errorf("%d attempts, want %d", got, tc.wantCalls)
			}
			if tc.wantWarn == "" && logs.Len() > 0 {
				t.Errorf("warned for a delivered event:\n%s", logs.String())
			}
			if tc.wantWarn != "" && (!strings.Contains(logs.String(), tc.wantWarn) || !strings.Contains(logs.String(), "target=notify[1]")) {
				t.Errorf("warning %q does not say %q and name the target", logs.String(), tc.wantWarn)
			}
			if strings.Contains(logs.String(), "s3cr3t") || strings.Contains(logs.String(), h.Listener.Addr().String()) {
				t.Errorf("the log shows the URL:\n%s", logs.String())
			}
		})
	}
}

func TestSendUnreachableNeverPrintsTheURL(t *testing.T) {
	h := newHook(t)
	dead := h.URL + "/hooks/s3cr3t"
	h.Close() // nothing listens there any more: connection refused
	var logs bytes.Buffer
	n := New(Options{Backoff: time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	n.Send(context.Background(), []Target{{Name: "notify[0]", URL: dead}, {Name: "notify[1]"}}, events[:1])
	out := logs.String()
	if !strings.Contains(out, "after 3 attempt(s)") || !strings.Contains(out, "connection refused") {
		t.Errorf("warning does not say what failed:\n%s", out)
	}
	if !strings.Contains(out, "target=notify[1]") || !strings.Contains(out, "environment variable is unset") {
		t.Errorf("no warning for the target without a URL:\n%s", out)
	}
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "127.0.0.1") {
		t.Errorf("the log shows the URL:\n%s", out)
	}
}
