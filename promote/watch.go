package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/registry"
)

// WatchOptions narrow a watch cycle.
type WatchOptions struct {
	// Shard and Shards split the images between parallel runs: an image is handled by the run
	// whose Shard equals the hash of its name modulo Shards. Zero Shards means one run does all.
	Shard, Shards int
	// Images, when not empty, restricts the cycle to the images of these names (an event-driven
	// cycle for the pushed image alone). A name ferry.yaml does not have is a warning.
	Images []string
}

// Watch runs one cycle: for every image a registry-fed environment uses, list its tags, apply
// the policy, walk the candidates newest first until one verifies, and write it.
// A refused candidate is a skip, not an error: the next one down is tried.
func Watch(ctx context.Context, opts Options, w WatchOptions) (*Result, error) {
	r, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer r.finish(ctx)
	r.command = "watch"

	envs := r.registryFed()
	runs, err := r.currentAll(envs)
	if err != nil {
		return nil, err
	}

	// Images are selected concurrently (a bounded number at a time): each selection is mostly
	// waiting on the registry. Policies and verifiers are built first, in order; what each
	// selection found is reported afterwards in ferry.yaml's order, so output is stable.
	for _, n := range w.Images {
		if r.cfg.Image(n) == nil {
			r.log.Warn("no such image in ferry.yaml; nothing to watch for it", "image", n)
		}
	}
	var jobs []*selectJob
	for i := range r.cfg.Images {
		img := &r.cfg.Images[i]
		if !inShard(img.Name, w.Shard, w.Shards) || !usedBy(img.Name, runs) ||
			(len(w.Images) > 0 && !slices.Contains(w.Images, img.Name)) {
			continue
		}
		j, err := r.selectJobFor(ctx, img)
		if err != nil {
			return r.res, err
		}
		jobs = append(jobs, j)
	}
	sem := make(chan struct{}, watchConcurrency)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			j.sel, j.err = r.reg.Select(ctx, j.opts)
		}()
	}
	wg.Wait()

	chosen := map[string]target{}
	for _, j := range jobs {
		t, err := r.reportSelection(j, envs)
		if err != nil {
			if errors.Is(err, registry.ErrNothingQualifies) {
				continue // already reported as skips
			}
			return r.res, err
		}
		chosen[j.img.Name] = t
		r.res.Selected = append(r.res.Selected, Selected{Image: j.img.Name, Tag: t.tag, Digest: t.digest})
	}

	var targets []target
	for _, imgName := range sortedKeys(chosen) {
		targets = append(targets, chosen[imgName])
	}
	return r.res, r.writeFromRegistry(ctx, envs, runs, targets)
}

// LoadConfig reads ferry.yaml from the config repo as opts name it, e.g. for a listening
// watcher to know which repositories its images are.
func LoadConfig(ctx context.Context, opts Options) (*config.Config, error) {
	r, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.cfg, nil
}

// writeFromRegistry writes targets into each registry-fed environment that deploys them,
// skipping a version older than the environment runs unless AllowDowngrade: one commit per
// environment, or one pull-request branch per image.
func (r *runner) writeFromRegistry(ctx context.Context, envs []*config.Environment, runs map[string]map[string]manifests.Ref, targets []target) error {
	for _, env := range envs {
		var wants []target
		for _, t := range targets {
			now, uses := runs[env.Name][t.img.Name]
			if !uses {
				continue
			}
			if !r.opts.AllowDowngrade && r.isDowngrade(t, now.Tag) {
				r.skip(env.Name, t.img.Name, t.tag, "downgrade",
					fmt.Sprintf("%s runs %s, newer than %s by the image's policy (use --allow-downgrade)", env.Name, now.Tag, t.tag))
				continue
			}
			if now.Digest != t.digest || now.Tag != t.tag { // a hold matters only for a change
				if held, err := r.heldOut(ctx, env, t, now); err != nil {
					return err
				} else if held {
					continue
				}
			}
			wants = append(wants, t)
		}
		for _, group := range r.groupForBranches(env, wants) {
			if err := r.write(ctx, writeReq{env: env, source: "registry", prBranch: group.branch, targets: group.targets}); err != nil {
				return err
			}
		}
	}
	return nil
}

type branchGroup struct {
	branch  string
	targets []target
}

// groupForBranches splits an environment's targets: a committing environment takes them all in
// one commit; a pull-request environment gets one branch (and PR) per image.
func (r *runner) groupForBranches(env *config.Environment, ts []target) []branchGroup {
	if len(ts) == 0 {
		return nil
	}
	if env.Write != config.WritePullRequest {
		return []branchGroup{{targets: ts}}
	}
	var gs []branchGroup
	for _, t := range ts {
		gs = append(gs, branchGroup{branch: "ferry/" + env.Name + "/" + t.img.Name, targets: []target{t}})
	}
	return gs
}

// watchConcurrency bounds the images selected at once in a watch cycle. Each registry host
// still has its own concurrency and rate limits in the registry client.
const watchConcurrency = 8

// selectJob is one image's selection in a watch cycle.
type selectJob struct {
	img  *config.Image
	opts registry.SelectOptions
	sel  *registry.Selection
	err  error
}

// selectJobFor prepares img's selection: its policy, verifier and platforms.
func (r *runner) selectJobFor(ctx context.Context, img *config.Image) (*selectJob, error) {
	p, err := r.policyFor(img)
	if err != nil {
		return nil, err
	}
	v, err := r.verifierFor(ctx, img)
	if err != nil {
		return nil, err
	}
	opts := registry.SelectOptions{Repository: img.Repository, Policy: p, Platforms: img.Platforms}
	if v != nil {
		opts.Verifier = v
	}
	return &selectJob{img: img, opts: opts}, nil
}

// reportSelection records what a selection passed over (and, in a dry run, its plan) and
// returns the chosen target.
func (r *runner) reportSelection(j *selectJob, envs []*config.Environment) (target, error) {
	img, sel, err := j.img, j.sel, j.err
	var none *registry.NoQualifyingTagError
	if errors.As(err, &none) {
		sel = none.Selection
	}
	envName := ""
	if len(envs) == 1 {
		envName = envs[0].Name
	}
	if sel != nil {
		for _, c := range sel.PassedOver {
			r.skip(envName, img.Name, c.Tag, c.Reason, c.Detail)
		}
		if r.opts.DryRun {
			entry := PlanEntry{Environment: envName, Image: img.Name}
			if sel.Chosen != nil {
				entry.Chosen = sel.Chosen.Tag + "@" + sel.Chosen.Digest
			}
			for _, c := range sel.PassedOver {
				entry.PassedOver = append(entry.PassedOver, Candidate{Tag: c.Tag, Digest: c.Digest, Reason: c.Reason, Detail: c.Detail})
			}
			r.res.Plan = append(r.res.Plan, entry)
		}
	}
	if err != nil {
		if none != nil && (sel == nil || len(sel.PassedOver) == 0) {
			r.skip(envName, img.Name, "", "policy", err.Error())
		}
		return target{}, fmt.Errorf("image %s: %w", img.Name, err)
	}
	return target{img: img, repo: img.Repository, tag: sel.Chosen.Tag, digest: sel.Chosen.Digest, signer: sel.Chosen.Signer}, nil
}

func usedBy(image string, runs map[string]map[string]manifests.Ref) bool {
	for _, cur := range runs {
		if _, ok := cur[image]; ok {
			return true
		}
	}
	return false
}

// inShard reports whether image belongs to shard i of n (FNV-1a of the name).
func inShard(image string, i, n int) bool {
	if n <= 1 {
		return true
	}
	var h uint32 = 2166136261
	for j := 0; j < len(image); j++ {
		h ^= uint32(image[j])
		h *= 16777619
	}
	return int(h%uint32(n)) == i
}
