package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/policy"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/registry"
)

// Bump verifies each ref and writes it into every environment fed by the registry that uses
// its repository (or only opts.Env). It is all or nothing: if verification refuses any ref,
// nothing is written and the error wraps ErrRefused.
func Bump(ctx context.Context, opts Options, refs []string) (*Result, error) {
	if len(refs) == 0 {
		return nil, errors.New("bump: no image reference given")
	}
	r, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer r.finish(ctx)
	r.command = "bump"

	envs, err := r.bumpEnvironments()
	if err != nil {
		return nil, err
	}

	// Decide and verify everything before writing anything.
	var targets []target
	var refusals []error
	for _, s := range refs {
		t, err := r.bumpTarget(ctx, s)
		if err != nil {
			var re *registry.RefusalError
			if errors.As(err, &re) {
				refusals = append(refusals, err)
				continue
			}
			return nil, err
		}
		targets = append(targets, t)
	}
	if len(refusals) > 0 {
		for _, e := range refusals {
			reason, detail := refusalReason(e)
			var re *registry.RefusalError
			errors.As(e, &re)
			r.skip("", imageOf(r.cfg, re.Image), "", reason, detail)
		}
		return r.res, fmt.Errorf("%w: %w; nothing was written", ErrRefused, errors.Join(refusals...))
	}

	runs, err := r.currentAll(envs)
	if err != nil {
		return nil, err
	}
	return r.res, r.writeFromRegistry(ctx, envs, runs, targets)
}

// bumpEnvironments returns the registry-fed environments, or the one --env names.
func (r *runner) bumpEnvironments() ([]*config.Environment, error) {
	if r.opts.Env != "" {
		env := r.cfg.Environment(r.opts.Env)
		if env == nil {
			return nil, fmt.Errorf("--env %s: no such environment in %s", r.opts.Env, r.opts.Config)
		}
		return []*config.Environment{env}, nil
	}
	return r.registryFed(), nil
}

// bumpTarget checks one REF against its image's policy, resolves and verifies its digest.
func (r *runner) bumpTarget(ctx context.Context, s string) (target, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return target{}, fmt.Errorf("image reference %q: %w", s, err)
	}
	repo := ref.Context().Name()
	img := r.cfg.ImageByRepository(repo)
	if img == nil {
		return target{}, fmt.Errorf("%s: no image in %s has repository %s", s, r.opts.Config, repo)
	}
	t := target{img: img, repo: img.Repository}
	switch v := ref.(type) {
	case name.Tag:
		t.tag = v.TagStr()
	case name.Digest:
		t.digest = v.DigestStr()
		if tag, ok := tagOf(s); ok {
			t.tag = tag
		}
	}
	if t.tag == "" && img.Pin != config.PinDigest {
		return target{}, fmt.Errorf("%s: a tag is needed to check image %s's policy (or set pin: digest)", s, img.Name)
	}
	if t.tag != "" {
		p, err := r.policyFor(img)
		if err != nil {
			return target{}, err
		}
		if rej := p.Allows(t.tag); rej != nil {
			return target{}, fmt.Errorf("%s: image %s's policy refuses tag %s: %s", s, img.Name, t.tag, rejectionText(rej))
		}
	}
	if t.digest == "" {
		if t.digest, err = r.reg.Digest(ctx, repo+":"+t.tag); err != nil {
			return target{}, fmt.Errorf("resolving %s: %w", s, err)
		}
	}
	if len(img.Platforms) > 0 {
		plats, err := r.reg.Platforms(ctx, repo, t.digest)
		if err != nil {
			return target{}, fmt.Errorf("reading platforms of %s: %w", s, err)
		}
		if missing := missingPlatforms(img.Platforms, plats); len(missing) > 0 {
			return target{}, fmt.Errorf("%s does not serve %s (image %s needs %s)", s, strings.Join(missing, ", "), img.Name, strings.Join(img.Platforms, ", "))
		}
	}
	v, err := r.verify(ctx, img, repo, t.digest)
	if err != nil {
		return target{}, err
	}
	if v != nil {
		t.digest, t.signer = v.Digest, v.Signer
	}
	return t, nil
}

// tagOf extracts the tag of a repo:tag@digest reference, which name.ParseReference drops.
func tagOf(s string) (string, bool) {
	at := strings.LastIndex(s, "@")
	if at >= 0 {
		s = s[:at]
	}
	colon := strings.LastIndex(s, ":")
	if colon < 0 || strings.Contains(s[colon:], "/") {
		return "", false
	}
	return s[colon+1:], true
}

func rejectionText(rej *policy.Rejection) string {
	if rej.Detail != "" {
		return string(rej.Reason) + ": " + rej.Detail
	}
	return string(rej.Reason)
}

// isDowngrade reports whether writing t would move the environment to an older version than
// the one it runs, by the image's policy order.
func (r *runner) isDowngrade(t target, curTag string) bool {
	if curTag == "" || t.tag == "" || curTag == t.tag {
		return false
	}
	p, err := r.policyFor(t.img)
	if err != nil {
		return false
	}
	c, err := p.Compare(t.tag, curTag, nil)
	return err == nil && c < 0
}

// missingPlatforms lists the wanted platforms that have (normalised, as Platforms returns them)
// does not serve.
func missingPlatforms(want, have []string) []string {
	var missing []string
	for _, w := range want {
		n, err := registry.ParsePlatform(w)
		if err != nil || !slices.Contains(have, n) {
			missing = append(missing, w)
		}
	}
	return missing
}

// imageOf names the ferry.yaml image of a reference, or returns the reference.
func imageOf(cfg *config.Config, ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	if img := cfg.ImageByRepository(r.Context().Name()); img != nil {
		return img.Name
	}
	return ref
}
