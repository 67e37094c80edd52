package promote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/policy"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/gitrepo"
)

// Promote copies the images src runs into dst where they differ. Each digest is re-verified
// before it is written; dst's gates are honoured (a gate not met is a skip, not an error).
// Images refused by verification are skipped and the returned error wraps ErrRefused; the
// others are still promoted.
func Promote(ctx context.Context, opts Options, src, dst string) (*Result, error) {
	r, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer r.finish(ctx)
	r.command = "promote"

	srcEnv, dstEnv := r.cfg.Environment(src), r.cfg.Environment(dst)
	switch {
	case srcEnv == nil:
		return nil, fmt.Errorf("promote: no environment %q in %s", src, r.opts.Config)
	case dstEnv == nil:
		return nil, fmt.Errorf("promote: no environment %q in %s", dst, r.opts.Config)
	case src == dst:
		return nil, fmt.Errorf("promote: source and target are both %q", src)
	}

	from, err := r.current(r.tip, srcEnv)
	if err != nil {
		return nil, err
	}
	to, err := r.current(r.tip, dstEnv)
	if err != nil {
		return nil, err
	}

	var targets []target
	var refusals []error
	for _, imgName := range sortedKeys(from) {
		img := r.cfg.Image(imgName)
		if img == nil {
			continue
		}
		srcRef := from[imgName]
		if _, uses := to[imgName]; !uses {
			continue // dst does not deploy this image
		}
		t, err := r.promoteTarget(ctx, img, srcEnv, srcRef)
		if err != nil {
			return r.res, err
		}
		if t == nil {
			continue
		}
		if cur := to[imgName]; cur.Digest == t.digest && cur.Tag == t.tag {
			continue // already there
		}
		if held, err := r.heldOut(ctx, dstEnv, *t, to[imgName]); err != nil {
			return r.res, err
		} else if held {
			continue
		}
		if soak := dstEnv.Gates.Soak; soak > 0 {
			ok, detail, err := r.soaked(ctx, srcEnv, img, t.digest, soak)
			if err != nil {
				return r.res, err
			}
			if !ok {
				r.skip(dst, img.Name, t.tag, "gate", detail)
				continue
			}
		}
		v, err := r.verify(ctx, img, t.repo, t.digest)
		if err != nil {
			reason, detail := refusalReason(err)
			r.skip(dst, img.Name, t.tag, reason, detail)
			refusals = append(refusals, err)
			continue
		}
		if v != nil {
			t.digest, t.signer = v.Digest, v.Signer
		}
		targets = append(targets, *t)
	}

	if err := r.write(ctx, writeReq{env: dstEnv, source: src, prBranch: "ferry/" + dst + "/from-" + src, targets: targets}); err != nil {
		return r.res, err
	}
	if len(refusals) > 0 {
		return r.res, fmt.Errorf("%w: %w", ErrRefused, errors.Join(refusals...))
	}
	return r.res, nil
}

// promoteTarget decides the exact digest src runs for img: from its manifests, else from the
// last Ferry-Image trailer for it, else resolved from the registry now.
func (r *runner) promoteTarget(ctx context.Context, img *config.Image, srcEnv *config.Environment, ref manifests.Ref) (*target, error) {
	t := &target{img: img, repo: ref.Repository, tag: ref.Tag, digest: ref.Digest}
	if t.repo == "" {
		t.repo = img.Repository
	}
	if t.digest != "" {
		return t, nil
	}
	if e, ok, _, err := r.lastTrailer(ctx, srcEnv, img, 0); err != nil {
		return nil, err
	} else if ok && e.tag == t.tag && e.digest != "" {
		t.digest = e.digest
		return t, nil
	}
	if t.tag == "" {
		r.skip(srcEnv.Name, img.Name, "", "policy", "no tag or digest in "+srcEnv.Name+"'s manifests")
		return nil, nil
	}
	d, err := r.reg.Digest(ctx, t.repo+":"+t.tag)
	if err != nil {
		return nil, fmt.Errorf("resolving %s:%s that %s runs: %w", t.repo, t.tag, srcEnv.Name, err)
	}
	t.digest = d
	return t, nil
}

// trailerValue is one parsed Ferry-Image trailer.
type trailerValue struct {
	tag, digest string
	at          time.Time
}

// parseImageTrailer parses "name=repo:tag@sha256:…".
func parseImageTrailer(v string) (image string, tv trailerValue, ok bool) {
	image, ref, ok := strings.Cut(strings.TrimSpace(v), "=")
	if !ok {
		return "", tv, false
	}
	if at := strings.LastIndex(ref, "@"); at >= 0 {
		tv.digest = ref[at+1:]
		ref = ref[:at]
	}
	if tag, ok := tagOf(ref); ok {
		tv.tag = tag
	}
	return image, tv, true
}

// lastTrailer finds the newest commit on the target branch that wrote img into env, reading
// history only as deep as needed (and no further back than since, when set).
// complete reports that history was read to its first commit.
func (r *runner) lastTrailer(ctx context.Context, env *config.Environment, img *config.Image, within time.Duration) (found trailerValue, ok, complete bool, err error) {
	q := gitrepo.HistoryQuery{Path: env.Path}
	if within > 0 {
		q.Since = r.opts.now().Add(-within)
	}
	q.Stop = func(e gitrepo.Entry) bool {
		if trailer(e, TrailerEnvironment) != env.Name {
			return false
		}
		for _, tr := range e.Trailers {
			if tr.Key != TrailerImage {
				continue
			}
			if name, tv, good := parseImageTrailer(tr.Value); good && name == img.Name {
				tv.at = e.Committer.When
				found, ok = tv, true
				return true
			}
		}
		return false
	}
	entries, err := r.repo.History(ctx, q)
	if err != nil {
		return found, false, false, fmt.Errorf("reading %s's history: %w", env.Name, err)
	}
	for _, e := range entries {
		complete = complete || e.Root
	}
	return found, ok, complete, nil
}

func trailer(e gitrepo.Entry, key string) string {
	for _, t := range e.Trailers {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// soaked checks dst's soak gate: the digest must have landed in src at least soak ago. History
// is read back only through the soak window: the newest commit in the window that wrote img into
// src (by its trailers) is when the version landed; when no commit in the window wrote it, the
// version has been there longer than the window, unless history itself is younger.
func (r *runner) soaked(ctx context.Context, src *config.Environment, img *config.Image, digest string, soak time.Duration) (bool, string, error) {
	tv, ok, complete, err := r.lastTrailer(ctx, src, img, soak)
	if err != nil {
		return false, "", err
	}
	now := r.opts.now()
	switch {
	case ok && tv.digest != digest:
		return false, fmt.Sprintf("%s's last %s trailer for %s names %s, not the %s it runs: it was changed by hand, so its soak time cannot be told", src.Name, TrailerImage, img.Name, short(tv.digest), short(digest)), nil
	case ok:
		if met, remaining := policy.Soak(tv.at, now, soak); !met {
			return false, fmt.Sprintf("%s has been in %s since %s; the soak gate needs %s more", img.Name, src.Name, tv.at.UTC().Format(time.RFC3339), remaining.Round(time.Minute)), nil
		}
		return true, "", nil
	case complete:
		return false, fmt.Sprintf("the config repo's history is younger than the %s soak window", soak), nil
	}
	return true, "", nil
}

func short(d string) string {
	if i := strings.Index(d, ":"); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
