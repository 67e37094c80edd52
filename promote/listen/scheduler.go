package listen

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// scheduler coalesces triggers into cycles. An image pending when a cycle starts is in that
// cycle; a push already seen (the same event delivered again, or a flood of copies) adds
// nothing; a new push during a cycle makes the image pending for the next one. A full cycle
// (the interval's) covers every image.
type scheduler struct {
	mu      sync.Mutex
	pending map[string]bool      // image names
	full    bool                 // a full cycle is due
	seen    map[string]time.Time // push keys → when first seen
	wake    chan struct{}        // one token: something is pending
}

// seenFor bounds how long a push key is remembered.
const seenFor = 15 * time.Minute

func newScheduler() *scheduler {
	return &scheduler{pending: map[string]bool{}, seen: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// push makes images pending for the push named key; it reports false when that push was seen
// already.
func (s *scheduler) push(key string, images []string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.seen[key]; dup {
		return false
	}
	if len(s.seen) >= 4096 {
		maps.DeleteFunc(s.seen, func(_ string, t time.Time) bool { return now.Sub(t) > seenFor })
	}
	s.seen[key] = now
	for _, n := range images {
		s.pending[n] = true
	}
	s.signal()
	return true
}

// all asks for a full cycle.
func (s *scheduler) all() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.full = true
	s.signal()
}

func (s *scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take returns what the next cycle covers and clears it: full, or the pending image names
// (sorted). ok is false when nothing is pending.
func (s *scheduler) take() (images []string, full, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.full && len(s.pending) == 0 {
		return nil, false, false
	}
	full, s.full = s.full, false
	images = slices.Sorted(maps.Keys(s.pending))
	clear(s.pending)
	if full {
		images = nil
	}
	return images, full, true
}
