package promote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/forge"
	"github.com/ferryhq/ferry/promote/gitrepo"
)

// Trailer keys ferry writes into every commit; status and gates read them back.
const (
	TrailerImage       = "Ferry-Image"
	TrailerSource      = "Ferry-Source"
	TrailerEnvironment = "Ferry-Environment"
)

// write puts targets into env: one commit on git.branch, or one PR branch, per environment.
// The intent is recomputed from the manifests on every attempt, so a push race replays the
// decision on the new tip, never a textual patch. source is "registry" or an environment name;
// prBranch is the branch used when env writes through pull requests.
func (r *runner) write(ctx context.Context, env *config.Environment, source, prBranch string, targets []target) error {
	if len(targets) == 0 {
		return nil
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].img.Name < targets[j].img.Name })
	images := make([]manifests.Image, len(targets))
	for i, t := range targets {
		images[i] = t.manifestImage()
	}

	var edit *manifests.Edit
	plan := func(tip fs.FS) (*manifests.Edit, error) {
		e, err := manifests.Plan(manifests.Options{FS: tip, Path: env.Path, Images: images, Environment: env.Name})
		if err != nil {
			return nil, err
		}
		return e, nil
	}

	if r.opts.DryRun {
		e, err := plan(r.tip)
		if err != nil {
			return err
		}
		r.res.Changes = append(r.res.Changes, e.Changes...)
		r.res.Diff += e.Diff()
		return nil
	}

	intent := func(ctx context.Context, tip fs.FS) (*gitrepo.Change, error) {
		e, err := plan(tip)
		if err != nil {
			return nil, err
		}
		edit = e
		if len(e.Files) == 0 {
			return nil, nil
		}
		msg, err := r.commitMessage(env, source, changedTargets(targets, e.Changes), e.Changes)
		if err != nil {
			return nil, err
		}
		files := make(map[string][]byte, len(e.Files))
		for _, f := range e.Files {
			files[f.Path] = f.New
		}
		return &gitrepo.Change{
			Files:     files,
			Message:   msg,
			Author:    gitrepo.Signature{Name: r.cfg.Git.Author.Name, Email: r.cfg.Git.Author.Email},
			Committer: gitrepo.Signature{Name: r.cfg.Git.Committer.Name, Email: r.cfg.Git.Committer.Email},
		}, nil
	}

	if env.Write != config.WritePullRequest {
		res, err := r.repo.Apply(ctx, intent)
		if err != nil {
			return fmt.Errorf("environment %s: %w", env.Name, err)
		}
		if res.NoChange {
			r.log.Info("nothing to change", "environment", env.Name)
			return nil
		}
		r.res.Changes = append(r.res.Changes, edit.Changes...)
		r.res.Commits = append(r.res.Commits, Commit{Environment: env.Name, SHA: res.SHA, Branch: res.Branch})
		if res.Note != "" {
			r.log.Info(res.Note, "environment", env.Name)
		}
		return nil
	}

	res, err := r.repo.ApplyBranch(ctx, prBranch, intent)
	if err != nil {
		return fmt.Errorf("environment %s: %w", env.Name, err)
	}
	if res.NoChange && edit != nil && len(edit.Files) == 0 {
		r.log.Info("nothing to change", "environment", env.Name)
		return nil
	}
	if edit != nil {
		r.res.Changes = append(r.res.Changes, edit.Changes...)
	}
	pr := PullRequest{Environment: env.Name, Branch: prBranch}
	f, err := r.forge(env)
	if err != nil {
		return err
	}
	if f != nil {
		spec, err := r.pullRequestSpec(env, source, prBranch, targets, edit)
		if err != nil {
			return err
		}
		got, err := f.EnsurePullRequest(ctx, spec)
		if got != nil {
			pr.URL, pr.Number, pr.Updated = got.URL, got.Number, got.Updated
		}
		if err != nil {
			if got != nil {
				r.res.PullRequests = append(r.res.PullRequests, pr)
			}
			return fmt.Errorf("environment %s: pull request for %s: %w", env.Name, prBranch, err)
		}
		if r.opts.Wait > 0 {
			st, err := forge.Wait(ctx, f, got.Number, r.opts.WaitPoll, r.opts.Wait)
			pr.State = string(st)
			if err != nil && !errors.Is(err, forge.ErrWaitTimeout) {
				r.res.PullRequests = append(r.res.PullRequests, pr)
				return fmt.Errorf("environment %s: waiting for %s: %w", env.Name, got.URL, err)
			}
		}
	} else {
		r.log.Info("no forge configured or inferable: pushed the branch only", "environment", env.Name, "branch", prBranch)
	}
	r.res.PullRequests = append(r.res.PullRequests, pr)
	return nil
}

// changedTargets keeps the targets whose image the edit changed. A commit's Ferry-Image
// trailers must name only what it changed: status and soak gates read the newest trailer of an
// image as the moment its version landed, so a trailer for an image already at that value (a
// watch that re-picked what the environment runs, a bump repeating a running REF) would
// restart its soak clock.
func changedTargets(targets []target, changes []manifests.Change) []target {
	changed := map[string]bool{}
	for _, c := range changes {
		changed[c.Image] = true
	}
	var out []target
	for _, t := range targets {
		if changed[t.img.Name] {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return targets // changes that name no image: keep every trailer rather than none
	}
	return out
}

// commitMessage renders git.commitMessage and appends the trailers.
func (r *runner) commitMessage(env *config.Environment, source string, targets []target, changes []manifests.Change) (string, error) {
	body, err := r.cfg.RenderCommitMessage(templateData(env, source, targets, changes))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(body, "\n"))
	b.WriteString("\n\n")
	for _, t := range targets {
		if t.signer == "" && t.img.InsecureSkipVerify {
			b.WriteString("Ferry-Unverified: " + t.img.Name + "\n")
		}
	}
	for _, t := range targets {
		fmt.Fprintf(&b, "%s: %s=%s\n", TrailerImage, t.img.Name, t.ref())
	}
	fmt.Fprintf(&b, "%s: %s\n", TrailerSource, source)
	fmt.Fprintf(&b, "%s: %s\n", TrailerEnvironment, env.Name)
	return b.String(), nil
}

// templateData is what commit message and PR templates see: one change per image, with the
// value the environment ran before (from the manifests' first change for it).
func templateData(env *config.Environment, source string, targets []target, changes []manifests.Change) config.TemplateData {
	d := config.TemplateData{Environment: env.Name, Source: source}
	for _, t := range targets {
		from := ""
		for _, c := range changes {
			if c.Image == t.img.Name {
				from = c.From
				break
			}
		}
		d.Changes = append(d.Changes, config.TemplateChange{
			Image: t.img.Name, Repository: t.repo, From: from, To: t.ref(),
			Digest: t.digest, Signer: t.signer, Unverified: t.signer == "" && t.img.InsecureSkipVerify,
		})
	}
	return d
}

// forge returns the forge client for env's pull requests, or nil when none is configured or
// inferable from the remote (the branch is then pushed and reported without a URL).
func (r *runner) forge(env *config.Environment) (forge.Forge, error) {
	pr := env.PullRequest
	cfg := forge.Config{Provider: string(pr.Provider), BaseURL: pr.URL, RemoteURL: r.repo.URL()}
	provider, err := forge.ProviderFor(cfg)
	switch {
	case errors.Is(err, forge.ErrNoForge), errors.Is(err, forge.ErrUnknownProvider):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	if r.opts.ForgeToken != nil {
		cfg.Token = r.opts.ForgeToken(provider)
	}
	newForge := r.opts.NewForge
	if newForge == nil {
		newForge = forge.New
	}
	f, err := newForge(cfg)
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	return f, nil
}

// pullRequestSpec renders the PR title and body for env (its pullRequest settings are already
// merged over git.pullRequest by the config loader).
func (r *runner) pullRequestSpec(env *config.Environment, source, branch string, targets []target, edit *manifests.Edit) (forge.Spec, error) {
	var changes []manifests.Change
	if edit != nil {
		changes = edit.Changes
	}
	data := templateData(env, source, targets, changes)
	title, err := env.RenderTitle(data)
	if err != nil {
		return forge.Spec{}, err
	}
	body, err := env.RenderBody(data)
	if err != nil {
		return forge.Spec{}, err
	}
	for _, t := range targets {
		if t.signer == "" && t.img.InsecureSkipVerify {
			body += fmt.Sprintf("\n\n> **Warning:** %s was written without signature verification (insecureSkipVerify: true).\n", t.img.Name)
		}
	}
	pr := env.PullRequest
	return forge.Spec{
		Head: branch, Base: r.repo.Branch(), Title: title, Body: body,
		Labels: pr.Labels, Reviewers: pr.Reviewers, Assignees: pr.Assignees,
		Draft: pr.Draft, AutoMerge: pr.AutoMerge,
	}, nil
}
