package promote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/history"
)

// RollbackOptions say what `ferry rollback ENV` puts back.
type RollbackOptions struct {
	// Images to roll back; empty means every image the environment runs.
	Images []string
	// To names the version to go back to, a tag or a digest (sha256:…); it must appear in the
	// environment's history or its source's within the window.
	To string
	// Steps goes this many changes back, passing over versions already rolled back; default 1.
	Steps int
}

// ErrMovedDuringRollback is wrapped when the image changed in the environment while the
// rollback was being written (a concurrent bump landed first): nothing is written for the
// environment, and running rollback again decides afresh.
var ErrMovedDuringRollback = errors.New("changed while the rollback was being written")

// Rollback writes, for each image of env, the version it ran before its current one (or the
// one To or Steps name), re-verified with today's verify entries, as env's write says: a
// commit, or a pull request on ferry/<env>/rollback. Gates and policy ranges do not apply.
// A refused image is skipped and the error wraps ErrRefused; the others are still written.
func Rollback(ctx context.Context, opts Options, envName string, ro RollbackOptions) (*Result, error) {
	if ro.Steps < 0 {
		return nil, fmt.Errorf("rollback: --steps %d: must be 1 or more", ro.Steps)
	}
	if ro.Steps > 0 && ro.To != "" {
		return nil, errors.New("rollback: --to and --steps are exclusive: name the version, or how many changes back")
	}
	if ro.Steps == 0 {
		ro.Steps = 1
	}
	r, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer r.finish(ctx)
	r.command = history.HowRollback

	env := r.cfg.Environment(envName)
	if env == nil {
		return nil, fmt.Errorf("rollback: no environment %q in %s", envName, r.opts.Config)
	}
	cur, err := r.current(r.tip, env)
	if err != nil {
		return nil, err
	}
	images, err := rollbackImages(r.cfg, env, cur, ro.Images)
	if err != nil {
		return nil, err
	}
	walk := []*config.Environment{env}
	if src := r.cfg.SourceOf(env); src != nil && ro.To != "" {
		walk = append(walk, src)
	}
	rep, err := r.readHistory(ctx, walk, r.window())
	if err != nil {
		return nil, err
	}
	history.Finish(rep, nil, nil, nil)

	var targets []target
	var refusals []error
	for _, img := range images {
		t, err := r.rollbackTarget(ctx, env, img, cur[img.Name], rep.Events, ro)
		if err != nil {
			return r.res, err
		}
		if t == nil {
			continue
		}
		v, err := r.verify(ctx, img, t.repo, t.digest)
		if err != nil {
			reason, detail := refusalReason(err)
			r.skip(env.Name, img.Name, t.tag, reason, detail)
			refusals = append(refusals, err)
			continue
		}
		if v != nil {
			t.digest, t.signer = v.Digest, v.Signer
		}
		targets = append(targets, *t)
	}
	req := writeReq{env: env, source: env.Name, prBranch: "ferry/" + env.Name + "/rollback", targets: targets,
		guard: r.rollbackGuard(env, cur, targets), title: rollbackTitle(env, targets)}
	if err := r.write(ctx, req); err != nil {
		return r.res, err
	}
	if len(refusals) > 0 {
		return r.res, fmt.Errorf("%w: %w; nothing was written for the refused images", ErrRefused, errors.Join(refusals...))
	}
	return r.res, nil
}

// rollbackImages resolves --image names (default: every image env runs, in name order).
func rollbackImages(cfg *config.Config, env *config.Environment, cur map[string]manifests.Ref, names []string) ([]*config.Image, error) {
	if len(names) == 0 {
		names = sortedKeys(cur)
	}
	var out []*config.Image
	for _, n := range names {
		img := cfg.Image(n)
		switch {
		case img == nil:
			return nil, fmt.Errorf("rollback: --image %s: no such image in ferry.yaml", n)
		case cur[n] == (manifests.Ref{}):
			return nil, fmt.Errorf("rollback: environment %s does not deploy image %s", env.Name, n)
		}
		out = append(out, img)
	}
	return out, nil
}

// rollbackTarget decides the version img goes back to in env; nil when env already runs it.
func (r *runner) rollbackTarget(ctx context.Context, env *config.Environment, img *config.Image, now manifests.Ref, events []history.Event, ro RollbackOptions) (*target, error) {
	nowRef := refString(img, now)
	var to history.Event
	var ok bool
	if ro.To != "" {
		to, ok = findVersion(events, env, r.cfg.SourceOf(env), img.Name, ro.To)
		if !ok {
			return nil, fmt.Errorf("rollback: --to %s: %s%s never ran %s %s within %s; nothing was written",
				ro.To, env.Name, sourceClause(r.cfg.SourceOf(env)), img.Name, ro.To, days(r.window()))
		}
	} else {
		earlier := earlierVersions(events, env.Name, img.Name, now)
		if len(earlier) < ro.Steps {
			return nil, fmt.Errorf("rollback: %w of %s in %s within %s (found %d, --steps %d); nothing was written",
				ErrNoHistory, img.Name, env.Name, days(r.window()), len(earlier), ro.Steps)
		}
		to = earlier[ro.Steps-1]
	}
	if (to.ToDigest != "" && to.ToDigest == now.Digest) || to.To == nowRef {
		r.log.Info("already at the rollback target", "environment", env.Name, "image", img.Name, "version", nowRef)
		return nil, nil
	}
	repo, tag, digest := splitEventRef(to.To)
	if repo == "" {
		repo = img.Repository
	}
	t := &target{img: img, repo: repo, tag: tag, digest: digest, rolledBackFrom: nowRef}
	if t.digest == "" {
		if t.tag == "" {
			return nil, fmt.Errorf("rollback: %s %s names neither a tag nor a digest", img.Name, to.To)
		}
		d, err := r.reg.Digest(ctx, t.repo+":"+t.tag)
		if err != nil {
			return nil, fmt.Errorf("rollback: resolving %s:%s (it was written without a digest): %w", t.repo, t.tag, err)
		}
		t.digest = d
	}
	return t, nil
}

// earlierVersions lists, newest first, the versions env ran before now: each change's "from",
// passing over the version running now, versions already rolled back from, and repeats.
// events are newest first. Each entry's To holds the version (an event is reused as a carrier).
func earlierVersions(events []history.Event, env, image string, now manifests.Ref) []history.Event {
	rolledBack := map[string]bool{}
	seen := map[string]bool{versionKey(now.Digest, "", now.Tag): true}
	var out []history.Event
	for _, e := range events {
		if e.Environment != env || e.Image != image {
			continue
		}
		if e.RolledBackFrom != "" {
			_, tag, d := splitEventRef(e.RolledBackFrom)
			rolledBack[versionKey(d, e.RolledBackFrom, tag)] = true
		}
		if e.From == "" {
			continue
		}
		_, tag, _ := splitEventRef(e.From)
		k := versionKey(e.FromDigest, e.From, tag)
		if seen[k] || rolledBack[k] {
			continue
		}
		seen[k] = true
		out = append(out, history.Event{To: e.From, ToDigest: e.FromDigest})
	}
	return out
}

// versionKey identifies a version by digest, else by tag.
func versionKey(digest, ref, tag string) string {
	if digest != "" {
		return digest
	}
	if tag != "" {
		return "tag:" + tag
	}
	return ref
}

// findVersion finds a version named by tag or digest among what env or src ran.
func findVersion(events []history.Event, env, src *config.Environment, image, want string) (history.Event, bool) {
	for _, e := range events {
		if e.Image != image || (e.Environment != env.Name && (src == nil || e.Environment != src.Name)) {
			continue
		}
		for _, v := range []history.Event{{To: e.To, ToDigest: e.ToDigest}, {To: e.From, ToDigest: e.FromDigest}} {
			if v.To == "" {
				continue
			}
			_, tag, _ := splitEventRef(v.To)
			if strings.HasPrefix(want, "sha256:") && v.ToDigest == want || tag == want {
				return v, true
			}
		}
	}
	return history.Event{}, false
}

// splitEventRef splits repo:tag@digest.
func splitEventRef(ref string) (repo, tag, digest string) {
	if at := strings.LastIndex(ref, "@"); at >= 0 {
		ref, digest = ref[:at], ref[at+1:]
	}
	if t, ok := tagOf(ref); ok {
		return strings.TrimSuffix(ref, ":"+t), t, digest
	}
	return ref, "", digest
}

// rollbackGuard refuses to land over a version that moved since the run started: on each tip
// the intent is computed on, every image rolled back must still run what it ran (or already
// run its target).
func (r *runner) rollbackGuard(env *config.Environment, before map[string]manifests.Ref, targets []target) func(fs.FS) error {
	return func(tip fs.FS) error {
		now, err := r.current(tip, env)
		if err != nil {
			return err
		}
		for _, t := range targets {
			n, b := now[t.img.Name], before[t.img.Name]
			if n.Digest == b.Digest && n.Tag == b.Tag || n.Digest == t.digest {
				continue
			}
			return fmt.Errorf("environment %s: %s %w (it now runs %s, not %s); nothing was written: run rollback again to decide afresh",
				env.Name, t.img.Name, ErrMovedDuringRollback, shortRef(refString(t.img, n)), shortRef(refString(t.img, b)))
		}
		return nil
	}
}

func rollbackTitle(env *config.Environment, targets []target) string {
	var parts []string
	for _, t := range targets {
		_, fromTag, _ := splitEventRef(t.rolledBackFrom)
		parts = append(parts, fmt.Sprintf("%s %s → %s", t.img.Name, orDigest(fromTag, t.rolledBackFrom), orDigest(t.tag, t.digest)))
	}
	return fmt.Sprintf("Roll back %s: %s", env.Name, strings.Join(parts, ", "))
}

func orDigest(tag, ref string) string {
	if tag != "" {
		return tag
	}
	return shortRef(ref)
}

func sourceClause(src *config.Environment) string {
	if src == nil {
		return ""
	}
	return " and its source " + src.Name
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}
