package forge

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRateLimitWait(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		status      int
		header      map[string]string
		body        string
		attempt     int
		wantWait    time.Duration
		wantLimited bool
	}{
		{"429 Retry-After seconds", 429, map[string]string{"Retry-After": "7"}, "", 0, 7 * time.Second, true},
		{"429 Retry-After date", 429, map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, "", 0, 90 * time.Second, true},
		{"429 no headers backs off", 429, nil, "", 2, 4 * time.Second, true},
		{"403 quota spent waits for reset", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1795176030"}, "", 0, 31 * time.Second, true},
		{"GitLab RateLimit-Reset", 429, map[string]string{"RateLimit-Remaining": "0", "RateLimit-Reset": "1795176010"}, "", 0, 11 * time.Second, true},
		{"403 secondary limit without Retry-After waits a minute", 403, nil, `{"message":"You have exceeded a secondary rate limit"}`, 0, time.Minute, true},
		{"403 permission is not retried", 403, map[string]string{"X-RateLimit-Remaining": "4999"}, `{"message":"Resource not accessible by integration"}`, 0, 0, false},
		{"500 is not a rate limit", 500, map[string]string{"Retry-After": "1"}, "", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tc.body))}
			for k, v := range tc.header {
				resp.Header.Set(k, v)
			}
			wait, limited := rateLimitWait(resp, tc.attempt, now)
			if wait != tc.wantWait || limited != tc.wantLimited {
				t.Errorf("rateLimitWait = %v, %v; want %v, %v", wait, limited, tc.wantWait, tc.wantLimited)
			}
			// The body is still there for the client library.
			if b, _ := io.ReadAll(resp.Body); string(b) != tc.body {
				t.Errorf("body after peeking = %q, want %q", b, tc.body)
			}
		})
	}
}
