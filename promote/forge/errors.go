package forge

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ferryhq/ferry/internal/retry"
)

// Error is a failed forge API call. It matches ErrUnauthorized, ErrForbidden, ErrNotFound or
// ErrRateLimited with errors.Is when the status says so, and unwraps to the client library's
// error. Its text never holds the token.
type Error struct {
	// Provider is github, gitlab or gitea.
	Provider string
	// Op says what ferry was doing, e.g. `opening pull request for ferry/prod/from-staging in acme/config`.
	Op string
	// StatusCode is the HTTP status, 0 when no response came back.
	StatusCode int
	// Message is the forge's own message (or the transport error), token redacted.
	Message string
	// Hint says what to do about it, e.g. which permission or scope the token needs.
	Hint string
	// RetryAt is when a rate limit clears, when the forge said.
	RetryAt time.Time

	kind  error
	cause error
	scrub func(string) string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	b.WriteString(": ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "%d %s", e.StatusCode, http.StatusText(e.StatusCode))
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Message)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the sentinel the status matches (if any) and the client library's error.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.cause != nil {
		errs = append(errs, redacted{e.cause, e.scrub})
	}
	return errs
}

// redacted keeps a library error reachable with errors.As while its text goes through the
// same redaction as the Error's own.
type redacted struct {
	err    error
	redact func(string) string
}

func (r redacted) Error() string { return r.redact(r.err.Error()) }
func (r redacted) Unwrap() error { return r.err }

// apiError builds the *Error for a failed call. resp may be nil (no response); message is the
// forge's message; secrets are scrubbed from everything that is kept as text.
func apiError(provider, op string, resp *http.Response, message string, cause error, secrets []string, hints hintFunc) error {
	scrub := func(s string) string {
		for _, sec := range secrets {
			if sec != "" {
				s = strings.ReplaceAll(s, sec, "REDACTED")
			}
		}
		return redactURL(s)
	}
	e := &Error{Provider: provider, Op: scrub(op), cause: cause, scrub: scrub}
	if resp == nil {
		if cause != nil {
			e.Message = scrub(cause.Error())
		}
		return e
	}
	e.StatusCode = resp.StatusCode
	e.Message = scrub(strings.TrimSpace(message))
	switch {
	case isRateLimit(resp, message):
		e.kind = ErrRateLimited
		if d, ok := retry.After(resp.Header.Get("Retry-After"), time.Now()); ok {
			e.RetryAt = time.Now().Add(d).Truncate(time.Second)
		} else if t, ok := resetTime(resp.Header); ok {
			e.RetryAt = t
		}
		e.Hint = "rate limited: the retries allowed ran out"
		if !e.RetryAt.IsZero() {
			e.Hint += "; try again after " + e.RetryAt.UTC().Format(time.RFC3339)
		}
	case resp.StatusCode == http.StatusUnauthorized:
		e.kind = ErrUnauthorized
	case resp.StatusCode == http.StatusForbidden:
		e.kind = ErrForbidden
	case resp.StatusCode == http.StatusNotFound:
		e.kind = ErrNotFound
	}
	if e.Hint == "" && hints != nil {
		e.Hint = scrub(hints(resp, message))
	}
	return e
}

// hintFunc says what to do about a failed response (which permission or scope is missing).
type hintFunc func(resp *http.Response, message string) string
