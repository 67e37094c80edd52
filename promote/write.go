package promote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/forge"
	"github.com/ferryhq/ferry/promote/gitrepo"
)

// Trailer keys ferry writes into every commit; status and gates read them back.
const (
	TrailerImage       = gitrepo.TrailerImage
	TrailerSource      = gitrepo.TrailerSource
	TrailerEnvironment = "Ferry-Environment"
	// TrailerUnverified names an image written without verification (insecureSkipVerify).
	TrailerUnverified = "Ferry-Unverified"
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
		if len(e.Files) > 0 { // what would be made: no SHA, no URL
			if env.Write == config.WritePullRequest {
				r.res.PullRequests = append(r.res.PullRequests, PullRequest{Environment: env.Name, Branch: prBranch})
			} else {
				r.res.Commits = append(r.res.Commits, Commit{Environment: env.Name, Branch: r.repo.Branch()})
			}
		}
		return nil
	}
	sign, err := r.signer()
	if err != nil {
		return err
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
			Sign:      sign,
		}, nil
	}

	if env.Write != config.WritePullRequest {
		res, err := r.repo.Apply(ctx, intent)
		if err != nil {
			return fmt.Errorf("environment %s: %w", env.Name, r.explainGitAuth(err))
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
		return fmt.Errorf("environment %s: %w", env.Name, r.explainGitAuth(err))
	}
	if edit == nil || len(edit.Files) == 0 {
		r.log.Info("nothing to change", "environment", env.Name)
		return nil
	}
	pr := PullRequest{Environment: env.Name, Branch: prBranch}
	f, err := r.forge(env)
	if err != nil {
		return err
	}
	if f == nil {
		if res.NoChange {
			r.log.Info("the branch already holds this change", "environment", env.Name, "branch", prBranch)
			return nil
		}
		r.log.Info("no forge configured or inferable: pushed the branch only", "environment", env.Name, "branch", prBranch)
		r.res.Changes = append(r.res.Changes, edit.Changes...)
		r.res.PullRequests = append(r.res.PullRequests, pr)
		return nil
	}
	spec, err := r.pullRequestSpec(env, source, prBranch, targets, edit)
	if err != nil {
		return err
	}
	// Ensure even when the branch did not move: it opens the pull request a failed run left
	// unopened, and refreshes the title and body.
	got, err := f.EnsurePullRequest(ctx, spec)
	if got != nil {
		pr.URL, pr.Number, pr.Updated = got.URL, got.Number, got.Updated
	}
	if err != nil {
		// The branch is pushed: report it, with the pull request when there is one.
		r.res.Changes = append(r.res.Changes, edit.Changes...)
		r.res.PullRequests = append(r.res.PullRequests, pr)
		return fmt.Errorf("environment %s: pull request for %s: %w", env.Name, prBranch, err)
	}
	unchanged := res.NoChange && got.Updated // the open pull request already carried this change
	switch {
	case unchanged:
		r.log.Info("pull request already up to date", "environment", env.Name, "url", got.URL)
	case got.Updated:
		r.log.Info("updated pull request", "environment", env.Name, "url", got.URL)
	default:
		r.log.Info("opened pull request", "environment", env.Name, "url", got.URL)
	}
	if unchanged && r.opts.Wait == 0 {
		return nil
	}
	if !unchanged {
		r.res.Changes = append(r.res.Changes, edit.Changes...)
	}
	if r.opts.Wait > 0 {
		st, err := forge.Wait(ctx, f, got.Number, r.opts.WaitPoll, r.opts.Wait)
		pr.State = string(st)
		if errors.Is(err, forge.ErrWaitTimeout) {
			r.log.Info("pull request still open after --wait", "environment", env.Name, "url", got.URL, "wait", r.opts.Wait)
		} else if err != nil {
			r.res.PullRequests = append(r.res.PullRequests, pr)
			return fmt.Errorf("environment %s: waiting for %s: %w", env.Name, got.URL, err)
		}
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
	var trailers []gitrepo.Trailer
	for _, t := range targets {
		trailers = append(trailers, gitrepo.Trailer{Key: TrailerImage, Value: t.img.Name + "=" + t.ref()})
	}
	for _, t := range targets {
		if t.signer == "" && t.img.InsecureSkipVerify {
			trailers = append(trailers, gitrepo.Trailer{Key: TrailerUnverified, Value: t.img.Name})
		}
	}
	trailers = append(trailers,
		gitrepo.Trailer{Key: TrailerSource, Value: source},
		gitrepo.Trailer{Key: TrailerEnvironment, Value: env.Name})
	return gitrepo.FormatTrailers(body, trailers)
}

// signer loads git.signingKey, once per run: a GPG or SSH private key from the config repo or
// env://VAR, decrypted with Options.SigningPassphrase. nil when commits are not signed.
func (r *runner) signer() (gitrepo.Signer, error) {
	sk := r.cfg.Git.SigningKey
	if sk == nil {
		return nil, nil
	}
	if r.sign != nil {
		return r.sign, nil
	}
	ref, kind := sk.GPG, "gpg"
	if ref == "" {
		ref, kind = sk.SSH, "ssh"
	}
	var key []byte
	if v, ok := strings.CutPrefix(ref, "env://"); ok {
		if key = []byte(os.Getenv(v)); len(key) == 0 {
			return nil, fmt.Errorf("git.signingKey.%s: environment variable %s is empty", kind, v)
		}
	} else {
		var err error
		if key, err = fs.ReadFile(r.tip, ref); err != nil {
			return nil, fmt.Errorf("git.signingKey.%s: reading %s from the config repo: %w", kind, ref, err)
		}
	}
	var err error
	if kind == "gpg" {
		r.sign, err = gitrepo.NewGPGSigner(key, []byte(r.opts.SigningPassphrase))
	} else {
		r.sign, err = gitrepo.NewSSHSigner(key, []byte(r.opts.SigningPassphrase))
	}
	if err != nil {
		return nil, fmt.Errorf("git.signingKey.%s %s: %w", kind, ref, err)
	}
	return r.sign, nil
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
	case err != nil && pr.Provider == "":
		// Nothing configured, and the remote does not look like a forge's repository (e.g.
		// http://host/config.git): not inferable, so the branch is pushed alone.
		r.log.Info("cannot tell a forge from the remote; set git.pullRequest.provider for pull requests", "environment", env.Name, "remote", r.repo.URL())
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	if app := r.opts.GitHubApp; provider == forge.GitHub && app.AppID != 0 {
		cfg.AppID, cfg.InstallationID, cfg.PrivateKeyPath = app.AppID, app.InstallationID, app.PrivateKeyPath
	} else if r.opts.ForgeToken != nil {
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
	if source != "registry" {
		pr := env.PullRequest
		data.SourceCommit = r.tipSHA
		data.SourceCommitURL, _ = forge.CommitURL(forge.Config{Provider: string(pr.Provider), BaseURL: pr.URL, RemoteURL: r.repo.URL()}, r.tipSHA)
	}
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
