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
	// TrailerSigner names, per image, the verify entry that verified what was written
	// ("api=keys/cosign.pub"), so that history can say who signed each deployed version.
	TrailerSigner = "Ferry-Signer"
	// TrailerCommand is the command that wrote the commit: bump, watch, promote or rollback.
	TrailerCommand = "Ferry-Command"
	// TrailerRollback names, per image, the reference a rollback rolled back from
	// ("api=ghcr.io/acme/api:1.3.0@sha256:…"); holds are read from it.
	TrailerRollback = "Ferry-Rollback"
)

// writeReq is one environment's write: the targets, where they came from (source is
// "registry" or an environment name) and the branch used when env writes through pull
// requests. guard, when set, is checked on every tip the intent is computed on (a rollback
// refuses to land over a version that moved meanwhile).
type writeReq struct {
	env      *config.Environment
	source   string
	prBranch string
	targets  []target
	guard    func(tip fs.FS) error
	// title overrides the pull request title template (rollbacks).
	title string
}

// write puts targets into env: one commit on git.branch, or one PR branch, per environment.
// The intent is recomputed from the manifests on every attempt, so a push race replays the
// decision on the new tip, never a textual patch.
func (r *runner) write(ctx context.Context, req writeReq) error {
	if len(req.targets) == 0 {
		return nil
	}
	sort.Slice(req.targets, func(i, j int) bool { return req.targets[i].img.Name < req.targets[j].img.Name })
	if r.opts.DryRun {
		return r.writeDryRun(req)
	}
	sign, err := r.signer()
	if err != nil {
		return err
	}
	var edit *manifests.Edit
	intent := func(ctx context.Context, tip fs.FS) (*gitrepo.Change, error) {
		if req.guard != nil {
			if err := req.guard(tip); err != nil {
				return nil, err
			}
		}
		e, err := r.plan(tip, req)
		if err != nil {
			return nil, err
		}
		edit = e
		if len(e.Files) == 0 {
			return nil, nil
		}
		msg, err := r.commitMessage(req.env, req.source, changedTargets(req.targets, e.Changes), e.Changes)
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
	if req.env.Write != config.WritePullRequest {
		return r.writeCommit(ctx, req, intent, &edit)
	}
	return r.writePullRequest(ctx, req, intent, &edit)
}

// plan plans the targets' rewrite of req.env in tip.
func (r *runner) plan(tip fs.FS, req writeReq) (*manifests.Edit, error) {
	images := make([]manifests.Image, len(req.targets))
	for i, t := range req.targets {
		images[i] = t.manifestImage()
	}
	return manifests.Plan(manifests.Options{FS: tip, Path: req.env.Path, Images: images, Environment: req.env.Name, Parsed: &r.parsed, Readers: manifestReaders()})
}

// writeDryRun reports what write would change, commit and open, and writes nothing.
func (r *runner) writeDryRun(req writeReq) error {
	if req.guard != nil {
		if err := req.guard(r.tip); err != nil {
			return err
		}
	}
	e, err := r.plan(r.tip, req)
	if err != nil {
		return err
	}
	r.res.Changes = append(r.res.Changes, e.Changes...)
	r.res.Diff += e.Diff()
	if len(e.Files) > 0 { // what would be made: no SHA, no URL
		if req.env.Write == config.WritePullRequest {
			r.res.PullRequests = append(r.res.PullRequests, PullRequest{Environment: req.env.Name, Branch: req.prBranch})
		} else {
			r.res.Commits = append(r.res.Commits, Commit{Environment: req.env.Name, Branch: r.repo.Branch()})
		}
	}
	return nil
}

// writeCommit lands the intent on git.branch.
func (r *runner) writeCommit(ctx context.Context, req writeReq, intent gitrepo.Intent, edit **manifests.Edit) error {
	res, err := r.repo.Apply(ctx, intent)
	if err != nil {
		return fmt.Errorf("environment %s: %w", req.env.Name, r.explainGitAuth(err))
	}
	if res.NoChange {
		r.log.Info("nothing to change", "environment", req.env.Name)
		return nil
	}
	r.res.Changes = append(r.res.Changes, (*edit).Changes...)
	c := Commit{Environment: req.env.Name, SHA: res.SHA, Branch: res.Branch}
	r.res.Commits = append(r.res.Commits, c)
	r.noteWrite(req, *edit, &c, nil)
	if res.Note != "" {
		r.log.Info(res.Note, "environment", req.env.Name)
	}
	return nil
}

// writePullRequest pushes the intent to the pull-request branch and opens or updates its
// pull request (with no forge, the branch alone is reported).
func (r *runner) writePullRequest(ctx context.Context, req writeReq, intent gitrepo.Intent, editp **manifests.Edit) error {
	env := req.env
	res, err := r.repo.ApplyBranch(ctx, req.prBranch, intent)
	if err != nil {
		return fmt.Errorf("environment %s: %w", env.Name, r.explainGitAuth(err))
	}
	edit := *editp
	if edit == nil || len(edit.Files) == 0 {
		r.log.Info("nothing to change", "environment", env.Name)
		return nil
	}
	pr := PullRequest{Environment: env.Name, Branch: req.prBranch}
	f, err := r.forge(env)
	if err != nil {
		return err
	}
	if f == nil {
		if res.NoChange {
			r.log.Info("the branch already holds this change", "environment", env.Name, "branch", req.prBranch)
			return nil
		}
		r.log.Info("no forge configured or inferable: pushed the branch only", "environment", env.Name, "branch", req.prBranch)
		r.res.Changes = append(r.res.Changes, edit.Changes...)
		r.res.PullRequests = append(r.res.PullRequests, pr)
		r.noteWrite(req, edit, nil, &pr)
		return nil
	}
	spec, err := r.pullRequestSpec(req, edit)
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
		return fmt.Errorf("environment %s: pull request for %s: %w", env.Name, req.prBranch, err)
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
		r.noteWrite(req, edit, nil, &pr)
	}
	if r.opts.Wait > 0 {
		if err := r.waitPullRequest(ctx, f, env, got, &pr); err != nil {
			return err
		}
	}
	r.res.PullRequests = append(r.res.PullRequests, pr)
	return nil
}

// waitPullRequest waits (promote --wait) for the pull request to be merged or closed.
func (r *runner) waitPullRequest(ctx context.Context, f forge.Forge, env *config.Environment, got *forge.PullRequest, pr *PullRequest) error {
	st, err := forge.Wait(ctx, f, got.Number, r.opts.WaitPoll, r.opts.Wait)
	pr.State = string(st)
	if errors.Is(err, forge.ErrWaitTimeout) {
		r.log.Info("pull request still open after --wait", "environment", env.Name, "url", got.URL, "wait", r.opts.Wait)
	} else if err != nil {
		r.res.PullRequests = append(r.res.PullRequests, *pr)
		return fmt.Errorf("environment %s: waiting for %s: %w", env.Name, got.URL, err)
	}
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
	add := func(key, value string) { trailers = append(trailers, gitrepo.Trailer{Key: key, Value: value}) }
	for _, t := range targets {
		add(TrailerImage, t.img.Name+"="+t.ref())
	}
	for _, t := range targets {
		if t.rolledBackFrom != "" {
			add(TrailerRollback, t.img.Name+"="+t.rolledBackFrom)
		}
	}
	for _, t := range targets {
		switch {
		case t.signer != "":
			add(TrailerSigner, t.img.Name+"="+oneLine(t.signer))
		case t.img.InsecureSkipVerify:
			add(TrailerUnverified, t.img.Name)
		}
	}
	add(TrailerSource, source)
	add(TrailerEnvironment, env.Name)
	if r.command != "" {
		add(TrailerCommand, r.command)
	}
	return gitrepo.FormatTrailers(body, trailers)
}

// oneLine folds a value onto one line for a trailer.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

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
		d.Rollback = d.Rollback || t.rolledBackFrom != ""
	}
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
func (r *runner) pullRequestSpec(req writeReq, edit *manifests.Edit) (forge.Spec, error) {
	env, source, branch, targets := req.env, req.source, req.prBranch, req.targets
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
	if req.title != "" {
		title = req.title
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
