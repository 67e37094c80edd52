package forge

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/ferryhq/ferry/internal/authguard"
)

// remote is a Git remote URL reduced to what a forge API needs.
type remote struct {
	// Scheme is http or https for web remotes, "" for ssh and scp-like ones.
	Scheme string
	// Host is the host name with any port (the port is dropped for ssh remotes).
	Host string
	// Path is the repository path without leading slash or ".git": owner/repo, or
	// group/subgroup/project on GitLab.
	Path string
}

// scpLike matches git@host:owner/repo(.git) (an scp-like address without a scheme).
var scpLike = regexp.MustCompile(`^(?:[^@/\s]+@)?([^:/\s]+):(.+)$`)

// parseRemote reads a Git remote URL. Credentials in it are dropped and never echoed.
func parseRemote(raw string) (remote, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return remote{}, errors.New("forge: no remote URL: ferry needs the config repo's remote to find its forge")
	}
	var r remote
	switch {
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil {
			return remote{}, fmt.Errorf("forge: remote %s is not a valid URL", redactURL(s))
		}
		switch strings.ToLower(u.Scheme) {
		case "file":
			return remote{}, fmt.Errorf("forge: remote %s: %w", redactURL(s), ErrNoForge)
		case "http", "https":
			r.Scheme = strings.ToLower(u.Scheme)
			r.Host = strings.ToLower(u.Host)
		case "ssh", "git", "git+ssh", "ssh+git":
			r.Host = strings.ToLower(u.Hostname())
		default:
			return remote{}, fmt.Errorf("forge: remote %s: unsupported scheme %q (use https, ssh or git@host:path)", redactURL(s), u.Scheme)
		}
		r.Path = u.Path
	case strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~"):
		return remote{}, fmt.Errorf("forge: remote %s: %w", s, ErrNoForge)
	default:
		m := scpLike.FindStringSubmatch(s)
		if m == nil || len(m[1]) == 1 { // c:\path is a Windows path, not a host
			return remote{}, fmt.Errorf("forge: remote %s: %w", s, ErrNoForge)
		}
		r.Host = strings.ToLower(m[1])
		r.Path = m[2]
	}
	r.Path = strings.TrimSuffix(strings.Trim(r.Path, "/"), ".git")
	r.Path = strings.Trim(r.Path, "/")
	if r.Host == "" {
		return remote{}, fmt.Errorf("forge: remote %s has no host", redactURL(s))
	}
	if strings.Count(r.Path, "/") < 1 || strings.Contains(r.Path, "//") {
		return remote{}, fmt.Errorf("forge: remote %s: want a repository path like owner/repo, got %q", redactURL(s), r.Path)
	}
	return r, nil
}

// ownerRepo splits a two-segment path (GitHub, Gitea).
func (r remote) ownerRepo(provider string) (owner, repo string, err error) {
	parts := strings.Split(r.Path, "/")
	if len(parts) != 2 {
		return "", "", fmt.Errorf("forge: %s repository path %q: want owner/repo", provider, r.Path)
	}
	return parts[0], parts[1], nil
}

// webBase is the forge's web root for links, e.g. https://github.com.
func (r remote) webBase() string {
	scheme := r.Scheme
	if scheme == "" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// inferProvider picks the provider from the remote's host.
func inferProvider(host string) (string, error) {
	h := host
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	switch {
	case h == "github.com" || strings.HasSuffix(h, ".github.com"):
		return GitHub, nil
	case h == "gitlab.com" || strings.Contains(h, "gitlab"):
		return GitLab, nil
	case h == "codeberg.org" || strings.Contains(h, "gitea") || strings.Contains(h, "forgejo"):
		return Gitea, nil
	}
	return "", fmt.Errorf("forge: host %s: %w: set git.pullRequest.provider to github, gitlab or gitea (and git.pullRequest.url to its API URL)", host, ErrUnknownProvider)
}

// userinfo matches the credentials part of scheme://user:pass@host.
var userinfo = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/]*@`)

// redactURL drops the user information (a token, often) from a URL for messages.
func redactURL(s string) string {
	return userinfo.ReplaceAllString(s, "${1}REDACTED@")
}

// ServingProvider returns the forge whose token may go with Git requests to cfg.RemoteURL:
// cfg.Provider when the remote's host is that forge's host (cfg.BaseURL's host; without one
// github.com for github, gitlab.com for gitlab, the remote's own host for gitea), else the
// provider inferred from the remote's host. It returns "" when no forge serves the remote, and
// for local and ssh remotes, which take no token.
func ServingProvider(cfg Config) string {
	r, err := parseRemote(cfg.RemoteURL)
	if err != nil || r.Scheme == "" {
		return ""
	}
	if p := strings.ToLower(strings.TrimSpace(cfg.Provider)); p != "" {
		home := strings.TrimSpace(cfg.BaseURL)
		if home == "" {
			switch p {
			case GitHub:
				home = "https://github.com"
			case GitLab:
				home = "https://gitlab.com"
			case Gitea:
				home = r.webBase()
			}
		}
		if home != "" && authguard.SameHost(r.webBase(), home) {
			return p
		}
	}
	p, err := inferProvider(r.Host)
	if err != nil {
		return ""
	}
	return p
}
