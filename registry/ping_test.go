package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

type countingRT struct {
	calls int
	errs  []error // returned in turn; then a 401 with a challenge
}

func (c *countingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	c.calls++
	if len(c.errs) > 0 {
		err := c.errs[0]
		c.errs = c.errs[1:]
		return nil, err
	}
	h := http.Header{}
	h.Set("WWW-Authenticate", `Bearer realm="https://auth.example.test/token",service="reg"`)
	return &http.Response{StatusCode: http.StatusUnauthorized, Header: h, Body: io.NopCloser(strings.NewReader(`{"errors":[]}`)), Request: req}, nil
}

// pingMemo asks each scheme://host once and gives every caller the same answer; other
// requests pass through; a failed ping is asked again, unless a plain-HTTP server answered
// the HTTPS ping.
func TestPingMemo(t *testing.T) {
	next := &countingRT{}
	p := &pingMemo{next: next}
	get := func(ctx context.Context, url string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p.RoundTrip(req)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	next.errs = []error{context.Canceled}
	if _, err := get(cancelled, "https://reg.example.test/v2/"); err == nil {
		t.Fatal("a cancelled ping succeeded")
	}
	for range 3 {
		resp, err := get(context.Background(), "https://reg.example.test/v2/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "realm=") || string(body) != `{"errors":[]}` {
			t.Errorf("answer %d %v %q", resp.StatusCode, resp.Header, body)
		}
	}
	if next.calls != 2 {
		t.Errorf("registry asked %d times, want 2 (the cancelled ping, then one)", next.calls)
	}
	next.errs = []error{errors.New("connection refused"), fmt.Errorf("dialing: %w", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"})}
	for range 3 {
		if _, err := get(context.Background(), "https://plain.example.test/v2/"); err == nil {
			t.Error("a failed ping succeeded")
		}
	}
	if _, err := get(context.Background(), "http://plain.example.test/v2/"); err != nil {
		t.Error(err)
	}
	if _, err := get(context.Background(), "https://reg.example.test/v2/acme/api/tags/list"); err != nil {
		t.Error(err)
	}
	if next.calls != 6 {
		t.Errorf("registry asked %d times, want 6 (two failed https pings, one http ping, one tag list)", next.calls)
	}
}
