package promote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/policy"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/forge"
	"github.com/ferryhq/ferry/promote/gitrepo"
	"github.com/ferryhq/ferry/promote/notify"
	"github.com/ferryhq/ferry/registry"
)

// Options configure one run of a command. The zero value of each field is its default.
type Options struct {
	// Repo is the config repo: a URL, a bare repo's path, or a local checkout (default ".").
	Repo string
	// Config is ferry.yaml's path in the config repo (default "ferry.yaml"); an absolute path
	// names a local file instead.
	Config string
	// Branch overrides git.branch.
	Branch string
	// DryRun plans and diffs, and writes nothing.
	DryRun bool
	// NoPush commits to the local checkout's branch only.
	NoPush bool
	// AllowDowngrade lets bump and watch write a version older than the environment runs.
	AllowDowngrade bool
	// AllowRolledBack lets bump write a version a rollback holds out of the environment.
	AllowRolledBack bool
	// HistoryWindow is how far back rollback and holds read history; default
	// DefaultHistoryWindow (90 days).
	HistoryWindow time.Duration
	// Env restricts bump to one environment.
	Env string
	// Registry options (cache dir, transport, …) added to those ferry.yaml's registries imply.
	RegistryOptions []registry.Option
	// GitAuth authenticates to the config repo's remote.
	GitAuth gitrepo.Auth
	// ForgeToken returns the API token for a provider (github, gitlab, gitea); the CLI reads
	// it from GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN. Tokens are never printed.
	ForgeToken func(provider string) string
	// GitHubApp, when its fields are set, authenticates GitHub API calls as a GitHub App
	// installation (ferry mints installation tokens) instead of ForgeToken.
	GitHubApp GitHubApp
	// Wait, when positive, waits up to this long for each pull request to be merged or closed
	// (promote --wait); WaitPoll is the polling interval (default 10s).
	Wait, WaitPoll time.Duration
	// NewForge opens a forge client; nil means forge.New.
	NewForge func(forge.Config) (forge.Forge, error)
	// SigningPassphrase decrypts git.signingKey (the CLI reads FERRY_SIGNING_PASSPHRASE).
	SigningPassphrase string
	// Now is the clock (soak gates); nil means time.Now.
	Now func() time.Time
	// Log receives progress and warnings; nil discards them.
	Log *slog.Logger
	// Notifier delivers ferry.yaml's notify events after a run that writes; nil means a new
	// one per run. A long-running watcher keeps one, so that a refusal is told once.
	Notifier *notify.Notifier
}

// GitHubApp names a GitHub App installation and the app's PEM private key file.
type GitHubApp struct {
	AppID, InstallationID int64
	PrivateKeyPath        string
}

// ErrRefused is wrapped by errors returned when verification refused an image the user asked
// for explicitly (bump) or refused any image of a promotion; the CLI exits 3.
var ErrRefused = errors.New("verification refused")

// runner holds what one command run has open.
type runner struct {
	opts      Options
	cfg       *config.Config
	repo      *gitrepo.Repo
	reg       *registry.Client
	log       *slog.Logger
	verifiers map[string]*registry.Verifier
	policies  map[string]*policy.Policy
	res       *Result
	tip       fs.FS  // the target branch's tree when the run started
	tipSHA    string // and its commit
	tmp       string // temporary files (keys copied out of the tree)
	sign      gitrepo.Signer
	verified  map[string]verifyOutcome            // image, repository and digest → outcome, this run
	command   string                              // the command run, for the Ferry-Command trailer
	holds     map[string]map[string]*hold         // environment → image → hold, read once per run
	find      []manifests.Image                   // findImages
	atTip     map[string]map[string]manifests.Ref // current at the run\'s tip, per environment
	events    []notify.Event                      // commits and pull requests made, for notify
	parsed    manifests.ParseCache                // files parsed this run, by path and content
	copied    map[string]string                   // repoPath: config repo path → local copy
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// open clones or opens the config repo, loads ferry.yaml and prepares the registry client.
func open(ctx context.Context, opts Options) (*runner, error) {
	if opts.Repo == "" {
		opts.Repo = "."
	}
	if opts.Config == "" {
		opts.Config = "ferry.yaml"
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	var cfg *config.Config
	if filepath.IsAbs(opts.Config) {
		data, err := os.ReadFile(opts.Config)
		if err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		if cfg, err = config.Parse(opts.Config, data); err != nil {
			return nil, err
		}
	}
	branch := opts.Branch
	if branch == "" && cfg != nil {
		branch = cfg.Git.Branch
	}
	gitOpts := func(branch string, cfg *config.Config) gitrepo.Options {
		a := opts.GitAuth
		a.TokenFor = tokenFor(opts, cfg)
		return gitrepo.Options{Branch: branch, Auth: a, NoPush: opts.NoPush, Logger: log}
	}
	repo, err := gitrepo.Open(ctx, opts.Repo, gitOpts(branch, cfg))
	if err != nil {
		return nil, explainGitAuth(err, opts, cfg, gitrepo.RemoteURL(opts.Repo))
	}
	r := &runner{opts: opts, repo: repo, log: log, res: &Result{},
		verifiers: map[string]*registry.Verifier{}, policies: map[string]*policy.Policy{},
		verified: map[string]verifyOutcome{}, holds: map[string]map[string]*hold{}, atTip: map[string]map[string]manifests.Ref{}}
	if cfg == nil {
		tip, err := repo.Tip(ctx)
		if err != nil {
			repo.Close()
			return nil, err
		}
		if cfg, err = config.Load(tip.FS(), opts.Config); err != nil {
			repo.Close()
			return nil, err
		}
		if branch == "" && cfg.Git.Branch != repo.Branch() {
			// ferry.yaml names another branch than the remote's default: work on that one.
			repo.Close()
			if repo, err = gitrepo.Open(ctx, opts.Repo, gitOpts(cfg.Git.Branch, cfg)); err != nil {
				return nil, explainGitAuth(err, opts, cfg, gitrepo.RemoteURL(opts.Repo))
			}
			r.repo = repo
		} else if err := repo.SetTokenFor(tokenFor(opts, cfg)); err != nil {
			repo.Close()
			return nil, err
		}
	}
	r.cfg = cfg
	tip, err := r.repo.Tip(ctx)
	if err != nil {
		r.close()
		return nil, err
	}
	// A partial clone fetches what the run reads in one request, not file by file.
	var paths []string
	for _, f := range cfg.Files() {
		paths = append(paths, f.Path)
	}
	if err := tip.Prefetch(ctx, paths...); err != nil {
		r.close()
		return nil, err
	}
	r.tip, r.tipSHA = tip.FS(), tip.SHA()
	regOpts := append(RegistryOptions(cfg), opts.RegistryOptions...)
	if r.reg, err = registry.New(regOpts...); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *runner) close() {
	if r.repo != nil {
		_ = r.repo.Close()
	}
	if r.tmp != "" {
		os.RemoveAll(r.tmp)
	}
}

// RegistryOptions turns ferry.yaml's registries section (insecure, tokenEnv, requestsPerSecond,
// immutableTags per host) into registry client options.
func RegistryOptions(cfg *config.Config) []registry.Option {
	var hosts []registry.Host
	for _, h := range cfg.Registries {
		hosts = append(hosts, registry.Host{
			Name:              h.Host,
			Insecure:          h.Insecure,
			TokenEnv:          h.TokenEnv,
			RequestsPerSecond: h.RequestsPerSecond,
			ImmutableTags:     h.ImmutableTags,
		})
	}
	if len(hosts) == 0 {
		return nil
	}
	return []registry.Option{registry.WithHosts(hosts...)}
}

// policyFor returns the image's tag policy, built once per run.
func (r *runner) policyFor(img *config.Image) (*policy.Policy, error) {
	if p, ok := r.policies[img.Name]; ok {
		return p, nil
	}
	p, err := policy.New(policySpec(img))
	if err != nil {
		return nil, fmt.Errorf("image %s: policy: %w", img.Name, err)
	}
	r.policies[img.Name] = p
	return p, nil
}

func policySpec(img *config.Image) policy.Spec {
	p := img.Policy
	s := policy.Spec{
		Semver:       p.Semver,
		Prerelease:   p.Prerelease,
		Numerical:    string(p.Numerical),
		Alphabetical: string(p.Alphabetical),
		NewestBuild:  p.NewestBuild != nil,
		Digest:       p.Digest,
		Allow:        img.Tags.Allow,
		Ignore:       img.Tags.Ignore,
	}
	return s
}

// verifierFor returns the image's verifier; nil (and no error) for insecureSkipVerify.
func (r *runner) verifierFor(ctx context.Context, img *config.Image) (*registry.Verifier, error) {
	if v, ok := r.verifiers[img.Name]; ok {
		return v, nil
	}
	if img.InsecureSkipVerify && len(img.Verify) == 0 {
		r.log.Warn("signature verification is off for this image (insecureSkipVerify: true)", "image", img.Name)
		r.verifiers[img.Name] = nil
		return nil, nil
	}
	entries, err := VerifyEntries(img, r.repoPath)
	if err != nil {
		return nil, err
	}
	v, err := registry.NewVerifier(entries,
		registry.WithRemoteOptions(r.reg.RemoteOptions(ctx)...),
		registry.WithRemoteOptionsFor(r.reg.RemoteOptionsFor),
		registry.WithCache(r.reg),
		registry.WithLogger(r.log.With("image", img.Name)))
	if err != nil {
		return nil, fmt.Errorf("image %s: verify: %w", img.Name, err)
	}
	r.verifiers[img.Name] = v
	return v, nil
}

// repoPath turns a path from ferry.yaml (relative to the config repo's root) into a local file
// the verifier can read. The config repo is never checked out, so keys and trusted roots are
// copied out of the tip's tree into the run's temporary directory.
func (r *runner) repoPath(p string) (string, error) {
	if p == "" || strings.HasPrefix(p, "env://") || filepath.IsAbs(p) {
		return p, nil
	}
	if dst, ok := r.copied[p]; ok { // many images verify with one key: copy it once
		return dst, nil
	}
	data, err := fs.ReadFile(r.tip, p)
	if err != nil {
		return "", fmt.Errorf("reading %s from the config repo: %w", p, err)
	}
	if r.tmp == "" {
		if r.tmp, err = os.MkdirTemp("", "ferry-keys-"); err != nil {
			return "", err
		}
	}
	dst := filepath.Join(r.tmp, strings.ReplaceAll(filepath.ToSlash(p), "/", "_"))
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		return "", err
	}
	if r.copied == nil {
		r.copied = map[string]string{}
	}
	r.copied[p] = dst
	return dst, nil
}

// verify checks ref's digest with the image's entries, once per run for each digest (status
// asks for the same digest in several environments). A nil Verification with a nil error means
// verification is off for the image.
func (r *runner) verify(ctx context.Context, img *config.Image, repo, digest string) (*registry.Verification, error) {
	v, err := r.verifierFor(ctx, img)
	if err != nil || v == nil {
		return nil, err
	}
	key := img.Name + "\x00" + repo + "@" + digest
	if o, ok := r.verified[key]; ok {
		return o.v, o.err
	}
	ref, err := r.reg.ParseReference(repo + "@" + digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.Name, err)
	}
	d, ok := ref.(name.Digest)
	if !ok {
		return nil, fmt.Errorf("image %s: %s is not a digest reference", img.Name, ref)
	}
	ver, err := v.Verify(ctx, d)
	if ctx.Err() == nil {
		r.verified[key] = verifyOutcome{ver, err}
	}
	return ver, err
}

type verifyOutcome struct {
	v   *registry.Verification
	err error
}

// target is one image value an environment should get.
type target struct {
	img    *config.Image
	repo   string // repository written
	tag    string
	digest string
	signer string
	// rolledBackFrom is, for a rollback, the reference rolled back from (Ferry-Rollback).
	rolledBackFrom string
}

func (t target) ref() string {
	s := t.repo
	if t.tag != "" {
		s += ":" + t.tag
	}
	if t.digest != "" {
		s += "@" + t.digest
	}
	return s
}

func (t target) manifestImage() manifests.Image {
	return manifests.Image{
		Name:       t.img.Name,
		Repository: t.img.Repository,
		NewName:    newName(t),
		Tag:        t.tag,
		Digest:     t.digest,
		Pin:        pinOf(t.img.Pin),
		Markers:    t.img.Markers,
		Fields:     fieldsOf(t.img),
	}
}

func newName(t target) string {
	if t.repo == "" || sameRepo(t.repo, t.img.Repository) {
		return ""
	}
	return t.repo
}

func pinOf(p config.Pin) manifests.Pin {
	switch p {
	case config.PinDigest:
		return manifests.PinDigest
	case config.PinTag:
		return manifests.PinTag
	}
	return manifests.PinTagDigest
}

func fieldsOf(img *config.Image) []manifests.Field {
	var fs []manifests.Field
	for _, f := range img.Fields {
		fs = append(fs, manifests.Field{Path: f.Path, Part: string(f.Part), Files: f.Files})
	}
	return fs
}

// sameRepo compares repositories after normalisation (nginx = docker.io/library/nginx).
func sameRepo(a, b string) bool {
	ra, err1 := name.NewRepository(a)
	rb, err2 := name.NewRepository(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return ra.Name() == rb.Name()
}

// current reads what env runs now for every image in ferry.yaml, keyed by image name. What
// the run's own tip holds is read once per environment (status, holds and the commands all
// ask for it); the map is shared, so callers only read it.
func (r *runner) current(tip fs.FS, env *config.Environment) (map[string]manifests.Ref, error) {
	atTip := tip == r.tip
	if out, ok := r.atTip[env.Name]; ok && atTip {
		return out, nil
	}
	out, err := r.readCurrent(tip, env)
	if err == nil && atTip {
		r.atTip[env.Name] = out
	}
	return out, err
}

func (r *runner) readCurrent(tip fs.FS, env *config.Environment) (map[string]manifests.Ref, error) {
	refs, err := manifests.Find(manifests.Options{FS: tip, Path: env.Path, Images: r.findImages(), Environment: env.Name, Parsed: &r.parsed, Readers: manifestReaders()})
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	out := map[string]manifests.Ref{}
	for _, ref := range refs {
		if _, seen := out[ref.Image]; !seen {
			out[ref.Image] = ref
		}
	}
	return out, nil
}

// manifestReaders is how many files manifests reads and parses at once: one per core. A
// Snapshot's FS is safe for concurrent use; parsing is most of reading an environment.
func manifestReaders() int { return runtime.GOMAXPROCS(0) }

// findImages are ferry.yaml's images as manifests.Find looks for them (built once per run).
func (r *runner) findImages() []manifests.Image {
	if r.find == nil {
		for i := range r.cfg.Images {
			img := &r.cfg.Images[i]
			r.find = append(r.find, manifests.Image{Name: img.Name, Repository: img.Repository, Markers: img.Markers, Fields: fieldsOf(img)})
		}
	}
	return r.find
}

// currentAll reads what each environment runs: environment → image → reference.
func (r *runner) currentAll(envs []*config.Environment) (map[string]map[string]manifests.Ref, error) {
	runs := make(map[string]map[string]manifests.Ref, len(envs))
	for _, env := range envs {
		cur, err := r.current(r.tip, env)
		if err != nil {
			return nil, err
		}
		runs[env.Name] = cur
	}
	return runs, nil
}

// skip records an image an environment did not get.
func (r *runner) skip(env, image, tag, reason, detail string) {
	r.res.Skipped = append(r.res.Skipped, Skip{Environment: env, Image: image, Tag: tag, Reason: reason, Detail: detail})
	r.log.Info("skipped", "environment", env, "image", image, "tag", tag, "reason", reason, "detail", detail)
}

// refusalReason maps a verification error to its skipped reason word.
func refusalReason(err error) (reason, detail string) {
	var re *registry.RefusalError
	if errors.As(err, &re) {
		return re.Reason, re.Detail
	}
	return registry.ReasonRegistryError, err.Error()
}

// sortedEnvs returns environment names in a stable order for output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// registryFed returns the environments bump and watch write, as pointers into the config.
func (r *runner) registryFed() []*config.Environment {
	var out []*config.Environment
	for i := range r.cfg.Environments {
		if r.cfg.Environments[i].FromRegistry() {
			out = append(out, &r.cfg.Environments[i])
		}
	}
	return out
}

// VerifyEntries turns an image's verify entries from ferry.yaml into the registry's. resolve
// maps a path from ferry.yaml (relative to the config repo's root) to a local file; env://
// values and absolute paths are passed through unchanged.
func VerifyEntries(img *config.Image, resolve func(string) (string, error)) ([]registry.VerifyEntry, error) {
	var entries []registry.VerifyEntry
	for _, e := range img.Verify {
		key, err := resolve(e.Key)
		if err != nil {
			return nil, fmt.Errorf("image %s: verify: %w", img.Name, err)
		}
		entry := registry.VerifyEntry{Key: key, Name: e.Key, RequireTlog: e.RequireTlog}
		if k := e.Keyless; k != nil {
			root, err := resolve(k.TrustedRoot)
			if err != nil {
				return nil, fmt.Errorf("image %s: verify: %w", img.Name, err)
			}
			entry.Keyless = &registry.Keyless{
				Issuer: k.Issuer, IssuerRegexp: k.IssuerRegexp,
				Identity: k.Identity, IdentityRegexp: k.IdentityRegexp,
				TrustedRoot:        root,
				InsecureIgnoreTlog: k.InsecureIgnoreTlog, InsecureIgnoreSCT: k.InsecureIgnoreSCT,
			}
		}
		entry.Attestations = attestations(e.Attestations)
		entries = append(entries, entry)
	}
	return entries, nil
}

// attestations turns ferry.yaml's required attestations into the registry's.
func attestations(list []config.Attestation) []registry.Attestation {
	var out []registry.Attestation
	for _, a := range list {
		ra := registry.Attestation{PredicateType: a.PredicateType, MaxSeverity: a.MaxSeverity, MaxAge: a.MaxAge}
		for _, m := range a.Match {
			ra.Match = append(ra.Match, registry.FieldMatch{Path: m.Path, Want: m.Want})
		}
		out = append(out, ra)
	}
	return out
}
