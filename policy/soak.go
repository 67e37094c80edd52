package policy

import "time"

// Soak is the soak gate: a version that landed at landed may move on at now once it has been
// there for d. It returns whether the gate is met and, when not, how long remains. An unknown
// landing time (the zero time) never meets a positive soak: the gate fails closed. A landing
// time after now (clock skew) counts as landing now. d <= 0 means no gate.
func Soak(landed, now time.Time, d time.Duration) (ok bool, remaining time.Duration) {
	if d <= 0 {
		return true, 0
	}
	if landed.IsZero() {
		return false, d
	}
	elapsed := now.Sub(landed)
	if elapsed < 0 {
		elapsed = 0
	}
	if elapsed >= d {
		return true, 0
	}
	return false, d - elapsed
}
