package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Event kinds, as ferry.yaml's notify[].on names them.
const (
	Commit      = "commit"
	PullRequest = "pull-request"
	Refused     = "refused"
	Rollback    = "rollback"
)

// Event is one thing a run did that a webhook may be told of. The JSON format sends it as it
// marshals.
type Event struct {
	// Event is Commit, PullRequest, Refused or Rollback.
	Event string `json:"event"`
	// Command is the ferry command that ran: bump, watch, promote or rollback.
	Command     string `json:"command"`
	Environment string `json:"environment,omitempty"`
	// Image, Tag, Reason and Detail describe a refusal.
	Image  string `json:"image,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Write is, for a rollback, how it landed: commit or pull-request.
	Write  string `json:"write,omitempty"`
	Branch string `json:"branch,omitempty"`
	SHA    string `json:"sha,omitempty"`
	// URL, Number and Updated describe a pull request (empty with no forge).
	URL     string    `json:"url,omitempty"`
	Number  int       `json:"number,omitempty"`
	Updated bool      `json:"updated,omitempty"`
	Changes []Change  `json:"changes,omitempty"`
	Time    time.Time `json:"time"`
}

// Change is one image an event moved.
type Change struct {
	Image string `json:"image"`
	From  string `json:"from,omitempty"`
	To    string `json:"to"`
}

// Formats.
const (
	FormatJSON  = "json"
	FormatSlack = "slack"
)

// Target is one webhook.
type Target struct {
	// Name is how messages name the target (its URL never appears): e.g. notify[0].
	Name string
	// URL is where events are posted. It is a secret.
	URL string
	// Format is FormatJSON or FormatSlack.
	Format string
	// On lists the event kinds sent; empty means all.
	On []string
}

func (t Target) wants(kind string) bool { return len(t.On) == 0 || slices.Contains(t.On, kind) }

// Options configure a Notifier. Zero values mean the defaults.
type Options struct {
	// Client sends the requests (default: a client with a 10s timeout).
	Client *http.Client
	// Attempts bounds the tries per event and target, the first included (default 3).
	Attempts int
	// Backoff is the wait before the second attempt, doubled for each further one
	// (default 500ms).
	Backoff time.Duration
	// Log receives a warning per undelivered event; nil discards.
	Log *slog.Logger
}

// Notifier delivers events. It is safe for concurrent use; keep one for a process's lifetime so
// that it remembers the refusals already told.
type Notifier struct {
	opts Options

	mu   sync.Mutex
	told map[string]bool // refusal keys delivered to a target
}

// New returns a Notifier.
func New(opts Options) *Notifier {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{opts: opts, told: map[string]bool{}}
}

// Send posts each event to each target that wants it, one request per event, in order. It
// returns when every delivery succeeded or gave up; failures are logged, never returned.
func (n *Notifier) Send(ctx context.Context, targets []Target, events []Event) {
	for _, t := range targets {
		for _, e := range events {
			if !t.wants(e.Event) {
				continue
			}
			key := ""
			if e.Event == Refused {
				key = t.Name + "\x00" + e.Environment + "\x00" + e.Image + "\x00" + e.Tag + "\x00" + e.Reason
				if n.wasTold(key) {
					continue
				}
			}
			if err := n.deliver(ctx, t, e); err != nil {
				n.opts.Log.Warn("notification not delivered; the run goes on", "target", t.Name, "event", e.Event, "environment", e.Environment, "err", err)
				continue
			}
			if key != "" {
				n.remember(key)
			}
		}
	}
}

func (n *Notifier) wasTold(key string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.told[key]
}

func (n *Notifier) remember(key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.told[key] = true
}

// temporary marks a failure worth another attempt.
type temporary struct{ err error }

func (t temporary) Error() string { return t.err.Error() }
func (t temporary) Unwrap() error { return t.err }

func isTemporary(err error) bool {
	var t temporary
	return errors.As(err, &t)
}

// deliver posts one event with bounded retries. Its errors never contain the URL.
func (n *Notifier) deliver(ctx context.Context, t Target, e Event) error {
	body, err := encode(t.Format, e)
	if err != nil {
		return err
	}
	if t.URL == "" {
		return errors.New("no URL: the entry's environment variable is unset or empty")
	}
	wait := n.opts.Backoff
	for attempt := 1; ; attempt++ {
		err = n.post(ctx, t.URL, body)
		if err == nil || !isTemporary(err) || attempt >= n.opts.Attempts {
			if err != nil {
				err = fmt.Errorf("after %d attempt(s): %w", attempt, err)
			}
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("after %d attempt(s): %w", attempt, ctx.Err())
		case <-timer.C:
		}
		wait *= 2
	}
}

func (n *Notifier) post(ctx context.Context, target string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return errors.New("the URL does not parse") // the parse error would quote it
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ferry")
	resp, err := n.opts.Client.Do(req)
	if err != nil {
		return temporary{withoutAddress(err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return temporary{fmt.Errorf("HTTP %d", resp.StatusCode)}
	}
	return fmt.Errorf("HTTP %d", resp.StatusCode)
}

// withoutAddress strips what would name the webhook from a transport error: *url.Error quotes
// the URL, *net.OpError the address, *net.DNSError the host.
func withoutAddress(err error) error {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return errors.New("the webhook's host name did not resolve")
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("%s: %w", op.Op, op.Err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func encode(format string, e Event) ([]byte, error) {
	switch format {
	case FormatSlack:
		return json.Marshal(map[string]string{"text": SlackText(e)})
	case FormatJSON, "":
		return json.Marshal(e)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}
