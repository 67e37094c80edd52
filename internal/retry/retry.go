package retry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxAfter caps a parsed Retry-After.
const MaxAfter = 24 * time.Hour

// After parses a Retry-After value: delta-seconds or an HTTP date (relative to now). ok is
// false for an empty, negative or unparsable value.
func After(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(MaxAfter/time.Second) {
			return MaxAfter, true
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(0, t.Sub(now)), MaxAfter), true
	}
	return 0, false
}

// Backoff is exponential: Base·2^(n-1) before retry n, capped at Max.
type Backoff struct {
	Base, Max time.Duration
	// Jitter draws each delay from [d/2, d] instead of d, so writers that failed together
	// do not retry together.
	Jitter bool
}

// Delay is the wait before retry n (1-based; n < 1 counts as 1).
func (b Backoff) Delay(n int) time.Duration {
	n = max(n, 1)
	d := b.Max
	if n-1 < 62 {
		if s := b.Base << (n - 1); s > 0 && s>>(n-1) == b.Base {
			d = min(s, b.Max)
		}
	}
	if d <= 0 {
		return 0
	}
	if !b.Jitter {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// SleepFunc waits d, or returns ctx's error when ctx ends first.
type SleepFunc func(ctx context.Context, d time.Duration) error

// Sleep is the real SleepFunc.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run calls try for attempt 1, 2, … up to attempts (at least one). try returns whether it
// wants another attempt and the wait before it; on the last attempt (last is true) that wish
// is ignored. Between attempts Run waits through sleep (nil: Sleep) and returns the sleep's
// error (the context's, when it ended meanwhile); otherwise it returns nil and try's own
// results are the outcome.
func Run(ctx context.Context, attempts int, sleep SleepFunc, try func(attempt int, last bool) (again bool, wait time.Duration)) error {
	if sleep == nil {
		sleep = Sleep
	}
	attempts = max(attempts, 1)
	for attempt := 1; ; attempt++ {
		last := attempt >= attempts
		again, wait := try(attempt, last)
		if !again || last {
			return nil
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}
