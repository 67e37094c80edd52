// Package retry is the one place ferry decides how long to wait before trying again: it
// parses Retry-After (delta-seconds or an HTTP date), computes exponential backoff with
// optional jitter, and runs a bounded loop of attempts that honours its context.
//
// The registry transport, the forge transport and the Git push loop all use it, so a
// Retry-After means the same thing everywhere:
//
//   - "120" is two minutes; a negative or unparsable value is no answer (ok false);
//   - an HTTP date in the past is a zero wait;
//   - every wait is capped at MaxAfter, so a hostile or broken server cannot overflow a
//     time.Duration; callers compare the wait with their own limit.
package retry
