package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/ferryhq/ferry/internal/retry"
)

// hostTransport is the RoundTripper under every request the Client (and the verifier, through
// RemoteOptions) sends. Per request host it refuses plain HTTP unless the host is loopback or
// marked insecure, bounds the requests in flight, spends the host's requests-per-second budget,
// and retries 429, 5xx and connection resets with jittered exponential backoff, honouring
// Retry-After.
type hostTransport struct {
	inner       http.RoundTripper
	hosts       map[string]Host
	retry       Retry
	concurrency int
	// sleep waits d or until ctx ends; tests replace it to record the waits.
	sleep retry.SleepFunc
	// observe, when set, is told of every attempt's host, kind and status.
	observe RequestObserver

	mu    sync.Mutex
	state map[string]*hostState
}

type hostState struct {
	sem     chan struct{}
	limiter *rate.Limiter // nil: unlimited
}

func newHostTransport(inner http.RoundTripper, hosts map[string]Host, r Retry, concurrency int) *hostTransport {
	return &hostTransport{
		inner:       inner,
		hosts:       hosts,
		retry:       r,
		concurrency: concurrency,
		sleep:       retry.Sleep,
		state:       map[string]*hostState{},
	}
}

func (t *hostTransport) hostState(host string) *hostState {
	key, err := hostKey(host)
	if err != nil {
		key = host
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.state[key]
	if !ok {
		s = &hostState{sem: make(chan struct{}, t.concurrency)}
		if h, ok := t.hosts[key]; ok && h.RequestsPerSecond > 0 {
			burst := max(1, int(h.RequestsPerSecond))
			s.limiter = rate.NewLimiter(rate.Limit(h.RequestsPerSecond), burst)
		}
		t.state[key] = s
	}
	return s
}

// ErrPlainHTTP is returned for a plain-HTTP request to a host that is neither loopback nor
// marked insecure.
var ErrPlainHTTP = errors.New("plain HTTP refused")

func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if req.URL.Scheme == "http" && !isLoopback(host) {
		key, _ := hostKey(host)
		if h, ok := t.hosts[key]; !ok || !h.Insecure {
			return nil, fmt.Errorf("%w to %s: mark the registry insecure (registries[].insecure) to allow it", ErrPlainHTTP, host)
		}
	}
	ctx := req.Context()
	st := t.hostState(host)
	attempts := max(1, t.retry.Attempts)
	if !retryable(req) {
		attempts = 1
	}
	backoff := retry.Backoff{Base: t.retry.BaseDelay, Max: t.retry.MaxDelay, Jitter: true}
	var (
		resp *http.Response
		err  error
	)
	werr := retry.Run(ctx, attempts, t.sleep, func(attempt int, last bool) (bool, time.Duration) {
		if attempt > 1 && req.Body != nil {
			body, berr := req.GetBody()
			if berr != nil {
				resp, err = nil, fmt.Errorf("rewinding the request body of %s %s: %w", req.Method, req.URL.Redacted(), berr)
				return false, 0
			}
			req = req.Clone(ctx)
			req.Body = body
		}
		resp, err = t.once(ctx, st, req)
		switch {
		case err != nil:
			return !last && resetError(err) && ctx.Err() == nil, backoff.Delay(attempt)
		case retryStatus(resp.StatusCode) && !last:
			ra, ok := retry.After(resp.Header.Get("Retry-After"), time.Now())
			if ok && ra > t.retry.MaxDelay {
				// The registry asks for longer than we wait: give its answer back.
				return false, 0
			}
			wait := backoff.Delay(attempt)
			if ok {
				wait = ra
			}
			// Drain a little so the connection can be reused, then drop the answer.
			_, _ = io.CopyN(io.Discard, resp.Body, 4096)
			resp.Body.Close()
			resp = nil
			return true, wait
		}
		return false, 0
	})
	if werr != nil {
		return nil, werr
	}
	return resp, err
}

// once sends one attempt within the host's concurrency and rate budget.
func (t *hostTransport) once(ctx context.Context, st *hostState, req *http.Request) (*http.Response, error) {
	select {
	case st.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-st.sem }()
	if st.limiter != nil {
		if err := st.limiter.Wait(ctx); err != nil {
			return nil, err
		}
	}
	resp, err := t.inner.RoundTrip(req)
	if t.observe != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		t.observe(req.URL.Host, RequestKind(req), status)
	}
	return resp, err
}

// RequestKind names what a registry request asks for: ping (GET /v2/), tags, manifest,
// manifest-head, blob, blob-head, referrers, write (any other method than GET and HEAD), or
// other (token endpoints and the rest).
func RequestKind(req *http.Request) string {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return "write"
	}
	p, head := req.URL.Path, req.Method == http.MethodHead
	suffix := ""
	if head {
		suffix = "-head"
	}
	switch {
	case p == "/v2/" || p == "/v2":
		return "ping"
	case !strings.HasPrefix(p, "/v2/"):
		return "other"
	case strings.HasSuffix(p, "/tags/list"):
		return "tags"
	case strings.Contains(p, "/manifests/"):
		return "manifest" + suffix
	case strings.Contains(p, "/blobs/"):
		return "blob" + suffix
	case strings.Contains(p, "/referrers/"):
		return "referrers"
	}
	return "other"
}

// retryable reports whether req may be sent again: idempotent methods whose body can be
// re-read.
func retryable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func retryStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusRequestTimeout:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500 && code <= 599
}

// resetError reports whether err is a connection cut short: reset, broken pipe, or closed
// before the answer was complete.
func resetError(err error) bool {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
