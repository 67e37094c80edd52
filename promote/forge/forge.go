package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferryhq/ferry/internal/authguard"
)

// Provider names a forge API.
const (
	GitHub = "github"
	GitLab = "gitlab"
	Gitea  = "gitea"
)

// Spec is the pull request ferry wants for one branch.
type Spec struct {
	// Head is ferry's branch (in the same repository), e.g. ferry/prod/from-staging.
	Head string
	// Base is the branch the pull request merges into (git.branch).
	Base  string
	Title string
	Body  string
	// Labels are added (never removed: labels people add by hand stay). Missing labels are
	// created where the API needs label IDs (Gitea); GitHub and GitLab create them on use.
	Labels []string
	// Reviewers are user names; on GitHub and Gitea "org/team" (or "@org/team") asks a team.
	Reviewers []string
	// Assignees are user names.
	Assignees []string
	// Draft opens the pull request as a draft. It applies when the pull request is opened;
	// an update keeps whatever draft state the pull request has by then.
	Draft bool
	// AutoMerge asks the forge to merge once its checks pass (see docs/pull-requests.md).
	AutoMerge bool
}

// PullRequest is a pull request (merge request on GitLab) that EnsurePullRequest opened or
// updated.
type PullRequest struct {
	Number int
	URL    string
	// Updated is true when an open pull request for the branch existed and was updated in
	// place, false when a new one was opened.
	Updated bool
}

// State is where a pull request stands.
type State string

// The states of a pull request.
const (
	StateOpen   State = "open"
	StateMerged State = "merged"
	StateClosed State = "closed"
)

// Forge opens pull requests and reports on them. Implementations are safe for concurrent use.
type Forge interface {
	// EnsurePullRequest opens a pull request for s.Head into s.Base, or, when an open one for
	// s.Head exists, updates it in place (title, body, base and labels refreshed; reviewers and
	// assignees added): it never opens a second one. When the pull request was opened or found
	// but a later step failed (labels, reviewers, assignees, auto-merge), it returns both the
	// pull request and the error.
	EnsurePullRequest(ctx context.Context, s Spec) (*PullRequest, error)
	// State reports whether pull request number is open, merged or closed.
	State(ctx context.Context, number int) (State, error)
}

// Config selects and authenticates a forge. The zero value of every optional field means the
// default.
type Config struct {
	// Provider is github, gitlab or gitea (Forgejo speaks Gitea's API). Empty: inferred from
	// RemoteURL's host (github.com → github; gitlab.com or a host containing "gitlab" → gitlab;
	// codeberg.org or a host containing "gitea" or "forgejo" → gitea).
	Provider string
	// BaseURL is the API URL: GitHub Enterprise (https://ghe.example.com/api/v3), self-managed
	// GitLab (https://gitlab.example.com/api/v4), Gitea (https://gitea.example.com). Empty:
	// derived from RemoteURL's host.
	BaseURL string
	// RemoteURL is the config repo's Git remote (https, ssh, or scp-like git@host:owner/repo);
	// the repository path and host come from it. Credentials in it are ignored.
	RemoteURL string
	// Token authenticates the API calls (GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN, chosen by
	// the caller). It is never printed or put in an error.
	Token string
	// GitHub App installation (GitHub only, instead of Token): the app's ID, the
	// installation's ID and the path of the app's PEM private key. ferry then mints
	// installation tokens itself (github.com/bradleyfalzon/ghinstallation/v2).
	AppID          int64
	InstallationID int64
	PrivateKeyPath string
	// HTTPClient is the client API calls go through; default http.DefaultClient's transport.
	HTTPClient *http.Client
	// MaxRetries bounds the retries of a rate-limited request (default 3; negative: none).
	MaxRetries int
	// MaxRetryWait is the longest wait for a rate limit to clear before giving up with
	// ErrRateLimited (default 1m).
	MaxRetryWait time.Duration
}

// Errors callers branch on. Errors from a forge are *Error values that match one of these
// with errors.Is.
var (
	// ErrNoForge: the remote is a local path or file:// URL, so there is no forge to ask; push
	// the branch and report it without a pull request.
	ErrNoForge = errors.New("the remote is a local repository with no forge")
	// ErrUnknownProvider: the provider is not set and the remote's host does not say.
	ErrUnknownProvider = errors.New("cannot tell the forge from the remote's host")
	// ErrUnauthorized: the token is missing, invalid or expired (HTTP 401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the token lacks a permission or scope (HTTP 403).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: the repository or pull request does not exist, or the token cannot see it.
	ErrNotFound = errors.New("not found")
	// ErrRateLimited: the forge's rate limit did not clear within the bounded retries.
	ErrRateLimited = errors.New("rate limited")
	// ErrWaitTimeout: Wait gave up with the pull request still open.
	ErrWaitTimeout = errors.New("pull request still open")
)

// New returns the Forge that cfg selects. It checks cfg and reads the GitHub App key, but
// makes no request.
func New(cfg Config) (Forge, error) {
	remote, err := parseRemote(cfg.RemoteURL)
	if err != nil {
		return nil, err
	}
	provider := strings.ToLower(strings.TrimSpace(cfg.Provider))
	if provider == "" {
		provider, err = inferProvider(remote.Host)
		if err != nil {
			return nil, err
		}
	}
	switch provider {
	case GitHub, GitLab, Gitea:
	default:
		return nil, fmt.Errorf("forge: unknown provider %q (git.pullRequest.provider): use github, gitlab or gitea", cfg.Provider)
	}
	app := cfg.AppID != 0 || cfg.InstallationID != 0 || cfg.PrivateKeyPath != ""
	switch {
	case app && provider != GitHub:
		return nil, fmt.Errorf("forge: a GitHub App (AppID, InstallationID, PrivateKeyPath) works with github only, not %s", provider)
	case app && (cfg.AppID == 0 || cfg.InstallationID == 0 || cfg.PrivateKeyPath == ""):
		return nil, errors.New("forge: a GitHub App needs all of AppID, InstallationID and PrivateKeyPath")
	case app && cfg.Token != "":
		return nil, errors.New("forge: set either a token or a GitHub App, not both")
	case !app && cfg.Token == "":
		hint := TokenEnv(provider)
		if provider == GitHub {
			hint += " (or configure a GitHub App)"
		}
		return nil, fmt.Errorf("forge: no token for %s: set %s", provider, hint)
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = time.Minute
	}
	base := http.DefaultTransport
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		base = cfg.HTTPClient.Transport
	}
	// The guard sits under the client libraries' auth: each constructor binds it to its API's
	// host, so a token (or a GitHub App's JWT and installation tokens) reaches no other host,
	// redirects included.
	guard := &authguard.Transport{Next: base}
	hc := &http.Client{Transport: &retryTransport{next: guard, maxRetries: cfg.MaxRetries, maxWait: cfg.MaxRetryWait}}
	if cfg.HTTPClient != nil {
		hc.Timeout = cfg.HTTPClient.Timeout
		hc.Jar = cfg.HTTPClient.Jar
	}
	switch provider {
	case GitHub:
		return newGitHub(cfg, remote, hc, guard)
	case GitLab:
		return newGitLab(cfg, remote, hc, guard)
	default:
		return newGitea(cfg, remote, hc, guard)
	}
}

// TokenEnv is the environment variable a provider's token is read from by convention:
// GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN.
func TokenEnv(provider string) string {
	switch provider {
	case GitHub:
		return "GITHUB_TOKEN"
	case GitLab:
		return "GITLAB_TOKEN"
	case Gitea:
		return "GITEA_TOKEN"
	}
	return ""
}

// ProviderFor returns the provider cfg names or its remote implies, without building a client:
// ErrNoForge for local remotes, ErrUnknownProvider when the host does not say.
func ProviderFor(cfg Config) (string, error) {
	remote, err := parseRemote(cfg.RemoteURL)
	if err != nil {
		return "", err
	}
	if p := strings.ToLower(strings.TrimSpace(cfg.Provider)); p != "" {
		return p, nil
	}
	return inferProvider(remote.Host)
}

// Wait polls pull request number every poll until it is merged or closed, and returns that
// state. When timeout passes first it returns StateOpen and an error matching ErrWaitTimeout;
// a zero timeout waits until ctx ends.
func Wait(ctx context.Context, f Forge, number int, poll, timeout time.Duration) (State, error) {
	if poll <= 0 {
		poll = 10 * time.Second
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		st, err := f.State(ctx, number)
		if err != nil {
			if ctx.Err() != nil {
				return StateOpen, waitErr(number, timeout, ctx.Err())
			}
			return "", fmt.Errorf("waiting for pull request #%d: %w", number, err)
		}
		if st != StateOpen {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return StateOpen, waitErr(number, timeout, ctx.Err())
		case <-ticker.C:
		}
	}
}

func waitErr(number int, timeout time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && timeout > 0 {
		return fmt.Errorf("pull request #%d is still open after %s: %w", number, timeout, ErrWaitTimeout)
	}
	return fmt.Errorf("waiting for pull request #%d: %w", number, errors.Join(ErrWaitTimeout, err))
}

func (s Spec) validate() error {
	switch {
	case strings.TrimSpace(s.Head) == "":
		return errors.New("forge: pull request spec has no head branch")
	case strings.TrimSpace(s.Base) == "":
		return errors.New("forge: pull request spec has no base branch (git.branch)")
	case s.Head == s.Base:
		return fmt.Errorf("forge: pull request head and base are both %q", s.Head)
	case strings.TrimSpace(s.Title) == "":
		return fmt.Errorf("forge: pull request for %s has an empty title (git.pullRequest.title)", s.Head)
	}
	return nil
}

// CommitURL is the web page of commit sha in the repository cfg names, for pull request
// bodies: https://HOST/owner/repo/commit/SHA on GitHub and Gitea, …/-/commit/SHA on GitLab.
// Local remotes give ErrNoForge.
func CommitURL(cfg Config, sha string) (string, error) {
	provider, err := ProviderFor(cfg)
	if err != nil {
		return "", err
	}
	r, err := parseRemote(cfg.RemoteURL)
	if err != nil {
		return "", err
	}
	sep := "/commit/"
	if provider == GitLab {
		sep = "/-/commit/"
	}
	return r.webBase() + "/" + r.Path + sep + url.PathEscape(sha), nil
}
