package promote

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/history"
	"github.com/ferryhq/ferry/promote/notify"
	"github.com/ferryhq/ferry/registry"
)

// notifyTimeout bounds the notifications of one run, retries included.
const notifyTimeout = 30 * time.Second

// refusalReasons are the skip reasons a refused notification is sent for: a tag seen that
// verification refused.
var refusalReasons = map[string]bool{registry.ReasonUnsigned: true, registry.ReasonWrongSigner: true, "attestation": true}

// noteWrite records a commit or pull request the run made, for notify. edit holds the changes
// written; targets are what was written.
func (r *runner) noteWrite(req writeReq, edit *manifests.Edit, c *Commit, pr *PullRequest) {
	e := notify.Event{Command: r.command, Environment: req.env.Name, Time: r.opts.now().UTC()}
	if c != nil {
		e.Event, e.Branch, e.SHA = notify.Commit, c.Branch, c.SHA
	} else {
		e.Event, e.Branch, e.URL, e.Number, e.Updated = notify.PullRequest, pr.Branch, pr.URL, pr.Number, pr.Updated
	}
	if r.command == history.HowRollback {
		e.Write, e.Event = e.Event, notify.Rollback
	}
	for _, t := range req.targets {
		ch := notify.Change{Image: t.img.Name, To: t.ref()}
		if edit != nil {
			for _, mc := range edit.Changes {
				if mc.Image == t.img.Name {
					ch.From = mc.From
					break
				}
			}
		}
		e.Changes = append(e.Changes, ch)
	}
	r.events = append(r.events, e)
}

// finish sends the run's notifications (none in a dry run) and closes the runner. A
// notification never fails the run.
func (r *runner) finish(ctx context.Context) {
	defer r.close()
	if r.opts.DryRun || len(r.cfg.Notify) == 0 {
		return
	}
	events := r.events
	for _, s := range r.res.Skipped {
		if refusalReasons[s.Reason] {
			events = append(events, notify.Event{Event: notify.Refused, Command: r.command, Environment: s.Environment,
				Image: s.Image, Tag: s.Tag, Reason: s.Reason, Detail: s.Detail, Time: r.opts.now().UTC()})
		}
	}
	if len(events) == 0 {
		return
	}
	n := r.opts.Notifier
	if n == nil {
		n = notify.New(notify.Options{Log: r.log})
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	n.Send(ctx, notifyTargets(r.cfg.Notify), events)
}

// notifyTargets reads each entry's URL from its environment variable. An unset variable
// leaves the URL empty, which the notifier reports as a warning.
func notifyTargets(entries []config.Notify) []notify.Target {
	ts := make([]notify.Target, len(entries))
	for i, n := range entries {
		t := notify.Target{Name: fmt.Sprintf("notify[%d]", i), Format: string(n.Format)}
		if v, ok := config.EnvVar(n.URL); ok {
			t.URL = os.Getenv(v)
		}
		for _, e := range n.On {
			t.On = append(t.On, string(e))
		}
		ts[i] = t
	}
	return ts
}
