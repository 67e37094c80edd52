package promote

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/forge"
)

// Which credential goes to the config repo's remote (DESIGN.md, "Credentials go only where they
// belong"): GitAuth.Token (FERRY_GIT_TOKEN) to whatever the remote is; else the URL's own
// user:password, for that remote only; else the token of the forge that serves the remote's
// host, as forge.ServingProvider decides from git.pullRequest (provider and url) or a
// well-known host; else none. Before ferry.yaml is read (the clone that fetches it) only a
// well-known host is known to be a forge's.

// gitForgeConfig is what decides which forge serves remoteURL; cfg is nil before ferry.yaml
// has been read.
func gitForgeConfig(cfg *config.Config, remoteURL string) forge.Config {
	fc := forge.Config{RemoteURL: remoteURL}
	if cfg != nil {
		fc.Provider, fc.BaseURL = string(cfg.Git.PullRequest.Provider), cfg.Git.PullRequest.URL
	}
	return fc
}

// tokenFor is gitrepo.Auth.TokenFor for opts and cfg: the serving forge's token, never another
// forge's. GitLab takes a token with the user name oauth2.
func tokenFor(opts Options, cfg *config.Config) func(string) (string, string) {
	if opts.ForgeToken == nil {
		return nil
	}
	return func(remoteURL string) (string, string) {
		p := forge.ServingProvider(gitForgeConfig(cfg, remoteURL))
		if p == "" {
			return "", ""
		}
		user := ""
		if p == forge.GitLab {
			user = "oauth2"
		}
		return user, opts.ForgeToken(p)
	}
}

// GitCredentialError is a fetch or push the config repo's remote refused for its credentials.
// Its text says which credential was sent to which host and which variable to set; it never
// holds a token.
type GitCredentialError struct {
	// Remote is the remote's URL without credentials.
	Remote string
	// Sent names what was sent: FERRY_GIT_TOKEN, a forge's variable (GITEA_TOKEN, …), "the
	// credentials in the remote URL", or "" for nothing.
	Sent string
	// Provider is the forge that serves the remote's host, "" when none does.
	Provider string
	// Hint says what to do.
	Hint string
	Err  error
}

func (e *GitCredentialError) Error() string { return e.Err.Error() + "\n" + e.Hint }
func (e *GitCredentialError) Unwrap() error { return e.Err }

// explainGitAuth turns a refused fetch or push into a GitCredentialError; other errors pass.
func (r *runner) explainGitAuth(err error) error {
	return explainGitAuth(err, r.opts, r.cfg, r.repo.URL())
}

func explainGitAuth(err error, opts Options, cfg *config.Config, remote string) error {
	var ce *GitCredentialError
	if err == nil || errors.As(err, &ce) ||
		!(errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed)) {
		return err
	}
	e := &GitCredentialError{Remote: remote, Err: err}
	host := remote
	if u, perr := url.Parse(remote); perr == nil && u.Host != "" {
		host = u.Host
	}
	e.Provider = forge.ServingProvider(gitForgeConfig(cfg, remote))
	env := forge.TokenEnv(e.Provider)
	token := ""
	if opts.ForgeToken != nil && e.Provider != "" {
		token = opts.ForgeToken(e.Provider)
	}
	switch {
	case urlHasPassword(opts.Repo) && opts.GitAuth.Token == "":
		e.Sent = "the credentials in --repo"
		e.Hint = fmt.Sprintf("%s refused the credentials in the repository URL: put a token that may push there, or set FERRY_GIT_TOKEN and drop them from the URL", host)
	case opts.GitAuth.Token != "":
		e.Sent = "FERRY_GIT_TOKEN"
		e.Hint = fmt.Sprintf("%s refused FERRY_GIT_TOKEN: set FERRY_GIT_TOKEN to a token that may push to the config repo", host)
	case e.Provider != "" && token != "":
		e.Sent = env
		e.Hint = fmt.Sprintf("%s is served by %s, so it got %s, and refused it: set %s (or FERRY_GIT_TOKEN) to a token that may push to the config repo", host, e.Provider, env, env)
	case e.Provider != "":
		e.Hint = fmt.Sprintf("no token was sent to %s: it is served by %s and %s is not set: set %s or FERRY_GIT_TOKEN", host, e.Provider, env, env)
	case cfg == nil:
		e.Hint = fmt.Sprintf("no token was sent to %s: ferry.yaml is not read yet and %s is not a well-known forge host (github.com, gitlab.com, codeberg.org), so no forge token goes to it: set FERRY_GIT_TOKEN (or pass --config with a local ferry.yaml that names the forge)", host, host)
	default:
		e.Hint = fmt.Sprintf("no token was sent to %s: no forge serves it (git.pullRequest.provider and url name another host, and it is not a well-known forge host): set FERRY_GIT_TOKEN, or git.pullRequest.provider and url to the forge at %s", host, host)
	}
	return e
}

func urlHasPassword(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}
