package forge

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/internal/retry"
)

// retryTransport retries rate-limited requests: HTTP 429, and 403 when it carries a rate-limit
// sign (Retry-After, a zero remaining quota, or GitHub's "secondary rate limit" message). It
// waits as the forge says (Retry-After, else the quota's reset time, else one minute for a
// secondary limit, else exponential backoff from one second), at most maxRetries times and
// never longer than maxWait per wait; otherwise the response goes back to the client library,
// which turns it into an error.
type retryTransport struct {
	next       http.RoundTripper
	maxRetries int
	maxWait    time.Duration
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	var (
		resp *http.Response
		err  error
	)
	werr := retry.Run(req.Context(), t.maxRetries+1, nil, func(attempt int, last bool) (bool, time.Duration) {
		r := req
		if attempt > 1 {
			r = req.Clone(req.Context())
			if req.GetBody != nil {
				body, berr := req.GetBody()
				if berr != nil {
					resp, err = nil, berr
					return false, 0
				}
				r.Body = body
			}
		}
		resp, err = t.next.RoundTrip(r)
		if err != nil {
			return false, 0
		}
		wait, limited := rateLimitWait(resp, attempt-1, time.Now())
		if !limited || !replayable || last || wait > t.maxWait {
			return false, 0
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		resp = nil
		return true, wait
	})
	if werr != nil {
		return nil, werr
	}
	return resp, err
}

// rateLimitWait says whether resp is a rate limit and how long to wait before trying again.
// For a 403 it reads the body (and puts it back) to tell a secondary rate limit from a
// missing permission.
func rateLimitWait(resp *http.Response, attempt int, now time.Time) (time.Duration, bool) {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusForbidden:
	default:
		return 0, false
	}
	if d, ok := retry.After(resp.Header.Get("Retry-After"), now); ok {
		return d, true
	}
	if remainingZero(resp.Header) {
		if reset, ok := resetTime(resp.Header); ok {
			d := reset.Sub(now) + time.Second
			if d < time.Second {
				d = time.Second
			}
			return d, true
		}
		return backoff(attempt + 1), true
	}
	if resp.StatusCode == http.StatusForbidden {
		if !secondaryLimit(peekBody(resp)) {
			return 0, false
		}
		// GitHub: with no Retry-After, wait at least a minute before retrying.
		return time.Minute, true
	}
	return backoff(attempt + 1), true
}

// backoff is the wait for a rate limit that says nothing of when it clears: 1s·2^attempt
// (attempt 0-based), capped at 64s.
var backoff = retry.Backoff{Base: time.Second, Max: 64 * time.Second}.Delay

// remainingZero: GitHub's X-RateLimit-Remaining or GitLab's RateLimit-Remaining is 0.
func remainingZero(h http.Header) bool {
	for _, k := range []string{"X-RateLimit-Remaining", "RateLimit-Remaining"} {
		if strings.TrimSpace(h.Get(k)) == "0" {
			return true
		}
	}
	return false
}

// resetTime reads X-RateLimit-Reset (GitHub) or RateLimit-Reset (GitLab), in Unix seconds.
func resetTime(h http.Header) (time.Time, bool) {
	for _, k := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
		if secs, err := strconv.ParseInt(strings.TrimSpace(h.Get(k)), 10, 64); err == nil && secs > 0 {
			return time.Unix(secs, 0), true
		}
	}
	return time.Time{}, false
}

func secondaryLimit(body []byte) bool {
	b := bytes.ToLower(body)
	return bytes.Contains(b, []byte("secondary rate limit")) || bytes.Contains(b, []byte("abuse detection"))
}

// peekBody reads up to 1 MiB of resp's body and puts it back for the next reader.
func peekBody(resp *http.Response) []byte {
	if resp.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), rest), rest}
	return b
}

// isRateLimit tells a rate-limit response from other failures once the retries are spent.
func isRateLimit(resp *http.Response, message string) bool {
	if resp == nil {
		return false
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		_, ra := retry.After(resp.Header.Get("Retry-After"), time.Now())
		return ra || remainingZero(resp.Header) || secondaryLimit([]byte(message)) ||
			strings.Contains(strings.ToLower(message), "rate limit")
	}
	return false
}
