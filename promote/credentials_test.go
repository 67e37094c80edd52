package promote

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/forge"
	"github.com/ferryhq/ferry/promote/gitrepo"
)

// TestTokenFor: the push credential is the token of the forge that serves the remote's host,
// never another forge's; before ferry.yaml is read only a well-known host counts.
func TestTokenFor(t *testing.T) {
	tokens := map[string]string{forge.GitHub: "gh-sentinel", forge.GitLab: "gl-sentinel", forge.Gitea: "gt-sentinel"}
	opts := Options{ForgeToken: func(p string) string { return tokens[p] }}
	giteaCfg := &config.Config{}
	giteaCfg.Git.PullRequest.Provider = "gitea"
	giteaCfg.Git.PullRequest.URL = "https://git.example.com"
	tests := []struct {
		name       string
		cfg        *config.Config
		remote     string
		user, want string
	}{
		{"github.com before ferry.yaml", nil, "https://github.com/acme/config.git", "", "gh-sentinel"},
		{"gitlab.com takes oauth2", nil, "https://gitlab.com/acme/config.git", "oauth2", "gl-sentinel"},
		{"self-hosted before ferry.yaml: nothing", nil, "https://git.example.com/acme/config.git", "", ""},
		{"self-hosted Gitea once ferry.yaml says so", giteaCfg, "https://git.example.com/acme/config.git", "", "gt-sentinel"},
		{"another host than the configured Gitea: nothing", giteaCfg, "https://git.other.example/acme/config.git", "", ""},
		{"github.com while Gitea is configured elsewhere", giteaCfg, "https://github.com/acme/config", "", "gh-sentinel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, got := tokenFor(opts, tc.cfg)(tc.remote)
			if user != tc.user || got != tc.want {
				t.Errorf("tokenFor(%s) = %q, %q; want %q, %q", tc.remote, user, got, tc.user, tc.want)
			}
		})
	}
	if tokenFor(Options{}, nil) != nil {
		t.Error("tokenFor with no ForgeToken is not nil")
	}
}

// TestExplainGitAuth: a refused fetch or push names the host, what was sent, and what to set;
// it never holds a token.
func TestExplainGitAuth(t *testing.T) {
	refused := fmt.Errorf("pushing main to https://git.example.com/acme/config.git: %w", transport.ErrAuthenticationRequired)
	giteaCfg := &config.Config{}
	giteaCfg.Git.PullRequest.Provider = "gitea"
	withGitea := Options{ForgeToken: func(p string) string {
		if p == forge.Gitea {
			return "gt-sentinel"
		}
		return ""
	}}
	tests := []struct {
		name     string
		opts     Options
		cfg      *config.Config
		remote   string
		wantSent string
		wantHint string
	}{
		{"FERRY_GIT_TOKEN refused", Options{GitAuth: withToken("fg-sentinel")}, giteaCfg, "https://git.example.com/acme/config.git", "FERRY_GIT_TOKEN", "git.example.com refused FERRY_GIT_TOKEN: set FERRY_GIT_TOKEN to a token that may push"},
		{"forge token refused", withGitea, giteaCfg, "https://git.example.com/acme/config.git", "GITEA_TOKEN", "served by gitea, so it got GITEA_TOKEN, and refused it: set GITEA_TOKEN (or FERRY_GIT_TOKEN)"},
		{"forge token unset", Options{ForgeToken: func(string) string { return "" }}, giteaCfg, "https://git.example.com/acme/config.git", "", "GITEA_TOKEN is not set: set GITEA_TOKEN or FERRY_GIT_TOKEN"},
		{"no forge serves it", withGitea, &config.Config{}, "https://git.example.com/acme/config.git", "", "no forge serves it"},
		{"before ferry.yaml", withGitea, nil, "https://git.example.com/acme/config.git", "", "ferry.yaml is not read yet"},
		{"credentials in --repo", Options{Repo: "https://u:url-sentinel@git.example.com/acme/config.git"}, nil, "https://git.example.com/acme/config.git", "the credentials in --repo", "refused the credentials in the repository URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := explainGitAuth(refused, tc.opts, tc.cfg, tc.remote)
			var ce *GitCredentialError
			if !errors.As(err, &ce) || !errors.Is(err, transport.ErrAuthenticationRequired) {
				t.Fatalf("explainGitAuth = %v, want a GitCredentialError wrapping the refusal", err)
			}
			if ce.Sent != tc.wantSent || !strings.Contains(err.Error(), tc.wantHint) {
				t.Errorf("sent %q, error:\n%v\nwant sent %q and %q", ce.Sent, err, tc.wantSent, tc.wantHint)
			}
			if strings.Contains(err.Error(), "sentinel") {
				t.Errorf("a token appears in the error:\n%v", err)
			}
		})
	}
	if other := errors.New("disk full"); explainGitAuth(other, Options{}, nil, "x") != other {
		t.Error("an error that is not an authentication failure changed")
	}
}

func withToken(tok string) gitrepo.Auth { return gitrepo.Auth{Token: tok} }
