package forge

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
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
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 {
			r = req.Clone(req.Context())
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		wait, limited := rateLimitWait(resp, attempt, time.Now())
		if !limited || !replayable || attempt >= t.maxRetries || wait > t.maxWait {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
	}
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
	if d, ok := retryAfter(resp.Header, now); ok {
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
		return backoff(attempt), true
	}
	if resp.StatusCode == http.StatusForbidden {
		if !secondaryLimit(peekBody(resp)) {
			return 0, false
		}
		// GitHub: with no Retry-After, wait at least a minute before retrying.
		return time.Minute, true
	}
	return backoff(attempt), true
}

func backoff(attempt int) time.Duration {
	return time.Second << min(attempt, 6)
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(secs)*time.Second, 0), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

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
		_, ra := retryAfter(resp.Header, time.Now())
		return ra || remainingZero(resp.Header) || secondaryLimit([]byte(message)) ||
			strings.Contains(strings.ToLower(message), "rate limit")
	}
	return false
}
