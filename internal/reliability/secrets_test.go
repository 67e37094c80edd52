package reliability

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"code.gitea.io/sdk/gitea"

	"github.com/ferryhq/ferry/promote/forge/giteatest"
	"github.com/ferryhq/ferry/registry/registrytest"
)

func sentinel(way string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "sntl" + strings.ToLower(strings.ReplaceAll(way, "_", "")) + hex.EncodeToString(b)
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// leakCheck collects every secret and every place they must not appear.
type leakCheck struct {
	t       *testing.T
	secrets map[string]string // value → how it was passed
}

func (l *leakCheck) add(way, value string) string {
	l.secrets[value] = way
	return value
}

func (l *leakCheck) check(where, text string) {
	l.t.Helper()
	for v, way := range l.secrets {
		if strings.Contains(text, v) {
			l.t.Errorf("the token passed as %s appears in %s:\n%s", way, where, text)
		}
	}
}

func (l *leakCheck) run(r run, wantCode int) {
	l.t.Helper()
	if r.code != wantCode {
		l.t.Errorf("exit %d, want %d\n%s", r.code, wantCode, r)
	}
	l.check("the stdout of ferry "+strings.Join(r.args, " "), r.stdout)
	l.check("the stderr of ferry "+strings.Join(r.args, " "), r.stderr)
}

// checkRepo looks through every commit (message, author, committer) and ref of a bare repo.
func (l *leakCheck) checkRepo(bare string) {
	l.t.Helper()
	l.check("commits of "+bare, git(l.t, bare, "log", "--all", "--format=%H%n%an <%ae>%n%cn <%ce>%n%B"))
	l.check("refs of "+bare, git(l.t, bare, "for-each-ref"))
}

// TestSecretsNeverLeak passes a distinct sentinel token every supported way — FERRY_GIT_TOKEN,
// GITHUB_TOKEN, GITLAB_TOKEN, GITEA_TOKEN, a token in an http(s) --repo URL, ferry.yaml's
// registry tokenEnv — to bump, watch, promote, status, verify and tags, succeeding and failing
// (refused images, rejected Git and registry credentials), all at --log-level debug, and checks
// that no sentinel appears in stdout, stderr, commit messages, authors or ref names. The
// Gitea part does the same for GITEA_TOKEN and FERRY_FORGE_TOKEN through real pull requests and
// checks their titles and bodies.
func TestSecretsNeverLeak(t *testing.T) {
	ferryAt := ferry
	l := &leakCheck{t: t, secrets: map[string]string{}}
	regTok := l.add("registry tokenEnv", sentinel("reg"))
	wrongReg := l.add("a wrong registry tokenEnv", sentinel("wrongreg"))
	wrongGit := l.add("a wrong FERRY_GIT_TOKEN", sentinel("wronggit"))

	ways := []struct {
		name string
		env  func(tok string) []string
		user string // the Basic user ferry sends with the token
		url  bool   // the token goes in the --repo URL
		// forge and api: a forge token goes only to a host that forge serves, so ferry.yaml
		// names the git server as the forge's (git.pullRequest.provider, url = its URL + api).
		forge, api string
	}{
		{name: "FERRY_GIT_TOKEN", env: func(tok string) []string { return []string{"FERRY_GIT_TOKEN=" + tok} }, user: "x-access-token"},
		{name: "GITHUB_TOKEN", env: func(tok string) []string { return []string{"GITHUB_TOKEN=" + tok} }, user: "x-access-token", forge: "github", api: "/api/v3"},
		{name: "GITLAB_TOKEN", env: func(tok string) []string { return []string{"GITLAB_TOKEN=" + tok} }, user: "oauth2", forge: "gitlab", api: "/api/v4"},
		{name: "GITEA_TOKEN", env: func(tok string) []string { return []string{"GITEA_TOKEN=" + tok} }, user: "x-access-token", forge: "gitea"},
		{name: "URL", env: func(string) []string { return nil }, user: "robot", url: true},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			l.t = t
			tok := l.add(way.name, sentinel(way.name))
			w := newWorld(t, worldOptions{
				regOpts:    []registrytest.Option{registrytest.RequireAuthorization("Bearer " + regTok)},
				registries: "registries:\n  - host: {{HOST}}\n    tokenEnv: FERRY_TEST_REGISTRY_TOKEN\n",
			})
			// Served as <dir>/config.git: an owner/repo path, as on any Git host.
			srv := newGitServer(t, filepath.Dir(filepath.Dir(w.bare)))
			allowPush(t, w.bare)
			srv.setAuth(basicAuth(way.user, tok))
			repo := srv.repoURL(filepath.Base(filepath.Dir(w.bare)) + "/" + filepath.Base(w.bare))
			if way.url {
				u, _ := url.Parse(repo)
				u.User = url.UserPassword(way.user, tok)
				repo = u.String()
			}
			// The repository is private (every request needs the token), so for a forge's token
			// --config gives ferry.yaml before the clone: only then is the host known to be the
			// forge's. The git server is no forge API: the pull request fails (401), and that
			// error must not show the token either.
			local, prodCode := "", 0
			if way.forge != "" {
				local, prodCode = filepath.Join(t.TempDir(), "ferry.yaml"), 1
				cfg := git(t, w.bare, "show", "main:ferry.yaml") + "  pullRequest:\n    provider: " + way.forge + "\n    url: " + srv.URL + way.api + "\n"
				if err := os.WriteFile(local, []byte(cfg), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ferry := func(t *testing.T, env []string, args ...string) run {
				t.Helper()
				return ferryAt(t, env, withConfig(args, repo, local)...)
			}
			env := append(way.env(tok), "FERRY_TEST_REGISTRY_TOKEN="+regTok, "FERRY_LOG_LEVEL=debug")
			checkout := filepath.Join(t.TempDir(), "checkout")
			git(t, "", "clone", "-q", w.bare, checkout)
			img0, img1 := w.repo("img00"), w.repo("img01")

			l.run(ferry(t, env, "--log-level", "debug", "bump", "--repo", repo, "--env", "dev", img0+":1.1.0"), 0)
			l.run(ferry(t, env, "--log-level", "debug", "bump", "--repo", repo, "--env", "dev", "--output", "json", img1+":1.2.0"), 3)
			l.run(ferry(t, env, "--log-level", "debug", "watch", "--repo", repo, "--output", "json"), 0)
			l.run(ferry(t, env, "--log-level", "debug", "promote", "--repo", repo, "dev", "staging"), 0)
			l.run(ferry(t, env, "--log-level", "debug", "promote", "--repo", repo, "--output", "json", "staging", "prod"), prodCode)
			l.run(ferry(t, env, "--log-level", "debug", "status", "--repo", repo), 0)
			l.run(ferry(t, env, "--log-level", "debug", "status", "--repo", repo, "--output", "json"), 0)
			l.run(ferry(t, env, "--log-level", "debug", "verify", "--repo", checkout, "--config", "ferry.yaml", img0+":1.1.0"), 0)
			l.run(ferry(t, env, "--log-level", "debug", "verify", "--repo", checkout, "--config", "ferry.yaml", "--output", "json", img1+":1.2.0"), 3)
			// No ferry.yaml, so no tokenEnv: the registry refuses.
			l.run(ferry(t, env, "--log-level", "debug", "tags", img0, "--semver", ">=1.0.0"), 1)
			l.run(ferry(t, env, "--log-level", "debug", "tags", "--key", filepath.Join(checkout, "keys", "ferry.pub"), "--output", "json", img0), 1)
			// The registry refuses the token.
			bad := append(way.env(tok), "FERRY_TEST_REGISTRY_TOKEN="+wrongReg)
			l.run(ferry(t, bad, "--log-level", "debug", "watch", "--repo", repo), 1)
			l.run(ferry(t, bad, "--log-level", "debug", "bump", "--repo", repo, img1+":1.1.0"), 1)
			l.run(ferry(t, bad, "--log-level", "debug", "verify", "--repo", checkout, "--config", "ferry.yaml", img1+":1.1.0"), 1)
			// The Git remote refuses the token.
			srv.setAuth(basicAuth(way.user, wrongGit))
			l.run(ferry(t, env, "--log-level", "debug", "bump", "--repo", repo, img1+":1.1.0"), 1)
			l.run(ferry(t, env, "--log-level", "debug", "status", "--repo", repo, "--output", "json"), 1)

			l.checkRepo(w.bare)
			if got := git(t, w.bare, "rev-list", "--count", "main"); strings.TrimSpace(got) == "1" {
				t.Errorf("no run wrote anything: the successful runs did not succeed")
			}
		})
	}

	t.Run("gitea pull requests", func(t *testing.T) {
		l.t = t
		gt := giteatest.Start(t)
		tok := l.add("GITEA_TOKEN / FERRY_FORGE_TOKEN (Gitea's)", gt.Token)
		wrongForge := l.add("a wrong FERRY_FORGE_TOKEN", sentinel("wrongforge"))
		w := newWorld(t, worldOptions{gitExtra: "  pullRequest:\n    provider: gitea\n    url: " + gt.URL + "\n"})
		repo := gt.CreateRepo(t, "config")
		push := filepath.Join(t.TempDir(), "push")
		git(t, "", "clone", "-q", w.bare, push)
		giteatest.Git(t, push, "push", "-q", "--force", repo.PushURL, "main")

		giteaEnv := []string{"GITEA_TOKEN=" + tok}
		forgeEnv := []string{"FERRY_FORGE_TOKEN=" + tok, "FERRY_GIT_TOKEN=" + tok}
		withURL := strings.Replace(repo.CloneURL, "://", "://"+giteatest.Admin+":"+tok+"@", 1)
		img0, img1 := w.repo("img00"), w.repo("img01")

		l.run(ferry(t, giteaEnv, "--log-level", "debug", "bump", "--repo", repo.CloneURL, "--env", "dev", img0+":1.1.0"), 0)
		l.run(ferry(t, giteaEnv, "--log-level", "debug", "promote", "--repo", repo.CloneURL, "dev", "staging"), 0)
		l.run(ferry(t, giteaEnv, "--log-level", "debug", "promote", "--repo", repo.CloneURL, "--output", "json", "staging", "prod"), 0)
		l.run(ferry(t, forgeEnv, "--log-level", "debug", "bump", "--repo", repo.CloneURL, "--env", "dev", img1+":1.1.0"), 0)
		l.run(ferry(t, forgeEnv, "--log-level", "debug", "promote", "--repo", repo.CloneURL, "dev", "staging"), 0)
		l.run(ferry(t, forgeEnv, "--log-level", "debug", "promote", "--repo", repo.CloneURL, "staging", "prod"), 0)
		l.run(ferry(t, []string{"FERRY_FORGE_TOKEN=" + tok}, "--log-level", "debug", "promote", "--repo", withURL, "--output", "json", "staging", "prod"), 0)
		l.run(ferry(t, []string{"FERRY_FORGE_TOKEN=" + tok}, "--log-level", "debug", "status", "--repo", withURL), 0)
		// The forge refuses the API token (the Git token still works).
		l.run(ferry(t, []string{"FERRY_FORGE_TOKEN=" + wrongForge, "FERRY_GIT_TOKEN=" + tok}, "--log-level", "debug", "promote", "--repo", repo.CloneURL, "dev", "prod"), 1)

		c, err := gt.Client()
		if err != nil {
			t.Fatal(err)
		}
		prs, _, err := c.ListRepoPullRequests(repo.Owner, repo.Name, gitea.ListPullRequestsOptions{State: gitea.StateAll})
		if err != nil {
			t.Fatal(err)
		}
		if len(prs) == 0 {
			t.Errorf("no pull request was opened")
		}
		for _, pr := range prs {
			l.check("pull request title", pr.Title)
			l.check("pull request body", pr.Body)
			l.check("pull request branch", pr.Head.Ref)
		}
		mirror := filepath.Join(t.TempDir(), "mirror.git")
		giteatest.Git(t, "", "clone", "-q", "--mirror", repo.CloneURL, mirror)
		l.checkRepo(mirror)
	})
}

// withConfig adds --config local after --repo repo in args, when local is set.
func withConfig(args []string, repo, local string) []string {
	if local == "" {
		return args
	}
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--repo" && args[i+1] == repo {
			return append(append(append([]string{}, args[:i+2]...), "--config", local), args[i+2:]...)
		}
	}
	return args
}
