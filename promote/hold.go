package promote

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/gitrepo"
)

// ReasonRolledBack is the skipped reason of a version a hold keeps out of an environment.
const ReasonRolledBack = "rolled-back"

// hold is what a rollback keeps out of an environment: the versions rolled back from since
// the last ordinary write of the image there, and the highest of them by the policy's order.
type hold struct {
	from    string // the reference rolled back from (the highest)
	tag     string
	digests map[string]bool
}

// holdFor returns the hold the rollbacks of img in env make, nil when there is none. A hold
// ends when env runs a version the policy orders above the one rolled back from, or one of
// the versions rolled back from itself (bump --allow-rolled-back or a hand edit put it back on
// purpose), so what env runs now (cur) is checked on every call.
func (r *runner) holdFor(ctx context.Context, env *config.Environment, img *config.Image, cur manifests.Ref) (*hold, error) {
	holds, err := r.envHolds(ctx, env)
	if err != nil {
		return nil, err
	}
	h := holds[img.Name]
	if h != nil && (h.digests[cur.Digest] || r.orderedAbove(img, cur.Tag, h.tag)) {
		return nil, nil // what env runs now ended the hold
	}
	return h, nil
}

// envHolds reads env's history newest first, once per run, for every image env runs: back to
// each image's last ferry write that was not a rollback (the rollbacks since then hold), or
// to the window's start. One walk serves every image, so status over many images reads the
// history once per environment.
func (r *runner) envHolds(ctx context.Context, env *config.Environment) (map[string]*hold, error) {
	if hs, ok := r.holds[env.Name]; ok {
		return hs, nil
	}
	runs, err := r.current(r.tip, env)
	if err != nil {
		return nil, err
	}
	pending := map[string]bool{}
	for name := range runs {
		pending[name] = true
	}
	holds := map[string]*hold{}
	q := gitrepo.HistoryQuery{Path: env.Path, Since: r.opts.now().Add(-r.window())}
	q.Stop = func(e gitrepo.Entry) bool {
		trailers, _ := changeTrailers(e)
		if trailerOf(trailers, TrailerEnvironment) != env.Name {
			return len(pending) == 0
		}
		for name := range pending {
			if writes(trailers, name) {
				if r.addRollback(holds, name, imageTrailer(trailers, TrailerRollback, name)) {
					delete(pending, name) // an ordinary write: rollbacks before it no longer hold
				}
			}
		}
		return len(pending) == 0
	}
	if len(pending) > 0 {
		if _, err := r.repo.History(ctx, q); err != nil {
			return nil, fmt.Errorf("reading %s's history for holds: %w", env.Name, err)
		}
	}
	r.holds[env.Name] = holds
	return holds, nil
}

// addRollback adds a rollback from the reference from to image's hold; it reports true for an
// ordinary write (from is empty), which ends the walk for the image.
func (r *runner) addRollback(holds map[string]*hold, image, from string) bool {
	if from == "" {
		return true
	}
	_, tv, ok := parseImageTrailer(image + "=" + from)
	if !ok {
		return false
	}
	h := holds[image]
	if h == nil {
		h = &hold{digests: map[string]bool{}}
		holds[image] = h
	}
	if tv.digest != "" {
		h.digests[tv.digest] = true
	}
	if img := r.cfg.Image(image); h.from == "" || img != nil && r.orderedAbove(img, tv.tag, h.tag) {
		h.from, h.tag = from, tv.tag
	}
	return false
}

// writes reports whether trailers carry a Ferry-Image trailer for image.
func writes(trailers []gitrepo.Trailer, image string) bool {
	for _, v := range gitrepo.TrailerValues(trailers, TrailerImage) {
		if name, _, ok := strings.Cut(v, "="); ok && strings.TrimSpace(name) == image {
			return true
		}
	}
	return false
}

// orderedAbove reports whether tag a is newer than tag b by img's policy; false when either
// is empty or the policy cannot order them (a digest policy).
func (r *runner) orderedAbove(img *config.Image, a, b string) bool {
	if a == "" || b == "" || a == b {
		return false
	}
	p, err := r.policyFor(img)
	if err != nil {
		return false
	}
	c, err := p.Compare(a, b, nil)
	return err == nil && c > 0
}

// holds reports whether h keeps t out: t is a version rolled back from, or is not ordered
// above the highest of them.
func (h *hold) holds(r *runner, t target) bool {
	if h == nil {
		return false
	}
	if t.digest != "" && h.digests[t.digest] {
		return true
	}
	if t.tag == "" || h.tag == "" {
		return false
	}
	return !r.orderedAbove(t.img, t.tag, h.tag)
}

// heldOut checks whether a hold in env keeps t out, and records the skip when it does.
// AllowRolledBack (bump --allow-rolled-back) lets it through.
func (r *runner) heldOut(ctx context.Context, env *config.Environment, t target, cur manifests.Ref) (bool, error) {
	h, err := r.holdFor(ctx, env, t.img, cur)
	if err != nil {
		return false, err
	}
	if !h.holds(r, t) {
		return false, nil
	}
	if r.opts.AllowRolledBack {
		r.log.Warn("writing a version rolled back from (--allow-rolled-back)", "environment", env.Name, "image", t.img.Name, "tag", t.tag)
		return false, nil
	}
	r.skip(env.Name, t.img.Name, t.tag, ReasonRolledBack,
		fmt.Sprintf("%s rolled %s back from %s; a version newer than that ends the hold (bump --allow-rolled-back writes it anyway)", env.Name, t.img.Name, shortRef(h.from)))
	return true, nil
}

// window is how far back history, rollbacks and holds read.
func (r *runner) window() time.Duration {
	if r.opts.HistoryWindow > 0 {
		return r.opts.HistoryWindow
	}
	return DefaultHistoryWindow
}

// shortRef shortens a reference's digest for messages.
func shortRef(ref string) string {
	if at := strings.LastIndex(ref, "@"); at >= 0 {
		return ref[:at+1] + short(ref[at+1:])
	}
	return ref
}
