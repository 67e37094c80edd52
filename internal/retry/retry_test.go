package retry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"empty", "", 0, false},
		{"zero", "0", 0, true},
		{"seconds", "120", 2 * time.Minute, true},
		{"spaces", " 7 ", 7 * time.Second, true},
		{"negative", "-1", 0, false},
		{"word", "soon", 0, false},
		{"fraction", "1.5", 0, false},
		{"date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"huge seconds capped", "99999999999999", MaxAfter, true},
		{"far date capped", now.Add(1000 * time.Hour).Format(http.TimeFormat), MaxAfter, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := After(tc.in, now)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("After(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		name string
		b    Backoff
		n    int
		want time.Duration
	}{
		{"first", Backoff{Base: time.Second, Max: time.Minute}, 1, time.Second},
		{"zero counts as first", Backoff{Base: time.Second, Max: time.Minute}, 0, time.Second},
		{"doubles", Backoff{Base: time.Second, Max: time.Minute}, 3, 4 * time.Second},
		{"capped", Backoff{Base: time.Second, Max: 5 * time.Second}, 4, 5 * time.Second},
		{"no overflow", Backoff{Base: time.Second, Max: time.Minute}, 200, time.Minute},
		{"shift past sign bit", Backoff{Base: time.Second, Max: time.Hour}, 40, time.Hour},
		{"zero max", Backoff{Base: time.Second}, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.Delay(tc.n); got != tc.want {
				t.Errorf("Delay(%d) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
}

func TestBackoffJitterRange(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second, Jitter: true}
	for n := 1; n <= 6; n++ {
		d := Backoff{Base: b.Base, Max: b.Max}.Delay(n)
		for range 200 {
			if got := b.Delay(n); got < d/2 || got > d {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", n, got, d/2, d)
			}
		}
	}
}

func TestRun(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		attempts  int
		wantAgain int // try asks again until this attempt
		wantCalls []int
		wantLast  []bool
		wantWaits []time.Duration
		wantErr   error
	}{
		{"stops when try is done", context.Background(), 5, 2, []int{1, 2, 3}, []bool{false, false, false}, []time.Duration{1, 2}, nil},
		{"bounded", context.Background(), 3, 10, []int{1, 2, 3}, []bool{false, false, true}, []time.Duration{1, 2}, nil},
		{"at least one attempt", context.Background(), 0, 10, []int{1}, []bool{true}, nil, nil},
		{"context ends the wait", canceled, 5, 10, []int{1}, []bool{false}, []time.Duration{1}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls []int
			var lasts []bool
			var waits []time.Duration
			sleep := func(ctx context.Context, d time.Duration) error {
				waits = append(waits, d)
				return ctx.Err()
			}
			err := Run(tc.ctx, tc.attempts, sleep, func(attempt int, last bool) (bool, time.Duration) {
				calls, lasts = append(calls, attempt), append(lasts, last)
				return attempt <= tc.wantAgain, time.Duration(attempt)
			})
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Run = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantCalls, calls); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLast, lasts); diff != "" {
				t.Errorf("last flags (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWaits, waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a canceled context = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
}
