package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/internal/testenv"
	"github.com/ferryhq/ferry/promote/forge/giteatest"
	"github.com/ferryhq/ferry/promote/gitrepo"
	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
	"github.com/ferryhq/ferry/promote/promotetest"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// The hosts of the credential matrix: each a distinct loopback address, so that Go's HTTP
// client and ferry's rules see them as different hosts.
const (
	ipRegistry  = "127.0.0.2" // the config's registries, tokenEnv REGISTRY_TOKEN
	ipElsewhere = "127.0.0.3" // forge API redirects point here (and blob storage to localhost): it gets nothing
	ipDocker    = "127.0.0.4" // a registry with credentials in the Docker config only
	ipGitea     = "127.0.0.5" // a recording proxy in front of the real Gitea
	ipGitHub    = "127.0.0.6" // a hand-written GitHub API and git http-backend, one host
	ipPlain     = "127.0.0.7" // git http-backend that no forge claims
)

// secrets are the credentials of one matrix run, by the variable (or file) that holds them.
type secrets map[string]string

// hostLog records which secrets one host received, anywhere in a request: headers (Basic
// credentials decoded), URL, body.
type hostLog struct {
	name     string
	secrets  secrets
	mu       sync.Mutex
	got      map[string]bool
	requests int
}

func newHostLog(name string, s secrets) *hostLog {
	return &hostLog{name: name, secrets: s, got: map[string]bool{}}
}

func (h *hostLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		seen := []string{r.URL.String(), string(body)}
		for k, vs := range r.Header {
			for _, v := range vs {
				seen = append(seen, k+": "+v)
				if b, ok := strings.CutPrefix(v, "Basic "); ok {
					dec, _ := base64.StdEncoding.DecodeString(b)
					seen = append(seen, string(dec))
				}
			}
		}
		h.mu.Lock()
		h.requests++
		for env, val := range h.secrets {
			for _, s := range seen {
				if val != "" && strings.Contains(s, val) {
					h.got[env] = true
				}
			}
		}
		h.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// check asserts that the host received exactly want (and at least one request).
func (h *hostLog) check(t *testing.T, want ...string) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var got []string
	for env := range h.got {
		got = append(got, env)
	}
	sort.Strings(got)
	sort.Strings(want)
	if want == nil {
		want = []string{}
	}
	if got == nil {
		got = []string{}
	}
	if h.requests == 0 {
		t.Errorf("%s received no request: the matrix does not reach it", h.name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("credentials %s received (-want +got):\n%s", h.name, diff)
	}
}

// credYAML is cliPRYAML with a tokenEnv for the registry, and {{FORGE}} and {{URL}} naming
// its forge.
var credYAML = strings.NewReplacer(
	"\nenvironments:\n", "\nregistries:\n  - host: {{REG}}\n    tokenEnv: REGISTRY_TOKEN\nenvironments:\n",
	"provider: gitea\n    url: {{GITEA}}", "provider: {{FORGE}}\n    url: {{URL}}",
).Replace(cliPRYAML)

// matrixWorld is a config repo whose registry sits on ipRegistry behind REGISTRY_TOKEN, with
// its blobs redirected to another host.
func matrixWorld(t *testing.T, s secrets, reg, elsewhere *hostLog, forgeName, forgeURL string) *promotetest.World {
	t.Helper()
	yaml := strings.NewReplacer("{{FORGE}}", forgeName, "{{URL}}", forgeURL).Replace(credYAML)
	w := promotetest.NewWorld(t, promotetest.Spec{
		Extra: map[string]string{
			"ferry.yaml":                   yaml,
			"envs/staging/deployment.yaml": promotetest.Deployment("{{REG}}/acme/api:1.1.0", "{{REG}}/acme/worker:1.0.0"),
		},
		Registry: []registrytest.Option{
			registrytest.ListenOn(ipRegistry),
			registrytest.Wrap(reg.wrap),
			registrytest.RequireAuthorization("Basic " + base64.StdEncoding.EncodeToString([]byte(s["REGISTRY_TOKEN"]))),
		},
	})
	// go-containerregistry refuses a redirect to a private IP literal (SSRF protection), so the
	// blob store is reached by name: localhost, another host than 127.0.0.2 for every check.
	blobs := testenv.ServeOn(t, "127.0.0.1", elsewhere.wrap(w.Reg.BlobHandler()))
	w.Reg.RedirectBlobs(strings.Replace(blobs.URL, "127.0.0.1", "localhost", 1))
	return w
}

// dockerRegistry is a registry on ipDocker that takes the credentials of a Docker config
// (DOCKER_CONFIG) only, with one signed image acme/tool:1.0.0; it returns the repository and
// the public key's path.
func dockerRegistry(t *testing.T, s secrets, log *hostLog) (repo, keyPath string) {
	t.Helper()
	reg := registrytest.New(t, registrytest.ListenOn(ipDocker), registrytest.Wrap(log.wrap),
		registrytest.RequireAuthorization("Basic "+base64.StdEncoding.EncodeToString([]byte(s["DOCKER_CONFIG auth"]))))
	d := reg.PushRandom(t, "acme/tool:1.0.0", registrytest.Image{})
	key, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(reg.Ref("acme/tool@" + d))
	if err != nil {
		t.Fatal(err)
	}
	if err := sigtest.SignWithKey(context.Background(), ref, key, sigtest.WithRemoteOptions(reg.RemoteOptions()...), sigtest.WithoutTlog()); err != nil {
		t.Fatal(err)
	}
	keyPath = filepath.Join(t.TempDir(), "tool.pub")
	if err := key.WritePublicKey(keyPath); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	user, pass, _ := strings.Cut(s["DOCKER_CONFIG auth"], ":")
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	return reg.Repo("acme/tool"), keyPath
}

// fakeGitHubHost serves, on ipGitHub, the GitHub REST calls a promotion makes (written from
// docs.github.com/rest: pulls, issues/labels, app installation tokens) under /api/v3, and the
// bare repositories under root (the test clones acme/config.git there) through git
// http-backend behind basic auth with pushToken. The list of open pull requests answers with a
// redirect to a host on ipElsewhere.
func fakeGitHubHost(t *testing.T, log, elsewhere *hostLog, pushToken, installationToken string) (apiURL, repoURL, root string) {
	t.Helper()
	root = t.TempDir()
	git := gittest.ServeHTTP(t, root, gitrepo.DefaultUsername, pushToken)
	gitURL, _ := url.Parse(git.URL)
	proxy := httputil.NewSingleHostReverseProxy(gitURL)
	empty := testenv.ServeOn(t, ipElsewhere, elsewhere.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "[]")
	})))
	var srv string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply := func(code int, body string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprint(w, body)
		}
		p := r.URL.Path
		switch {
		case !strings.HasPrefix(p, "/api/"):
			proxy.ServeHTTP(w, r)
		case r.Method == http.MethodPost && p == "/api/v3/app/installations/99/access_tokens":
			reply(201, fmt.Sprintf(`{"token":%q,"expires_at":"2100-01-01T00:00:00Z"}`, installationToken))
		case r.Header.Get("Authorization") != "token "+installationToken:
			reply(401, `{"message":"Bad credentials"}`)
		case r.Method == http.MethodGet && p == "/api/v3/repos/acme/config/pulls":
			http.Redirect(w, r, empty.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		case r.Method == http.MethodPost && p == "/api/v3/repos/acme/config/pulls":
			reply(201, fmt.Sprintf(`{"id":1007,"number":7,"state":"open","html_url":"%s/acme/config/pull/7","head":{"ref":"ferry/prod/from-staging"},"base":{"ref":"main"}}`, srv))
		case r.Method == http.MethodPost && p == "/api/v3/repos/acme/config/issues/7/labels":
			reply(200, `[{"name":"promotion"}]`)
		default:
			reply(404, `{"message":"Not Found"}`)
		}
	})
	s := testenv.ServeOn(t, ipGitHub, log.wrap(h))
	srv = s.URL
	return s.URL + "/api/v3/", s.URL + "/acme/config.git", root
}

// appKey writes a GitHub App private key and returns its path.
func appKey(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// proxyOn is a recording reverse proxy on ip in front of target.
func proxyOn(t *testing.T, ip string, log *hostLog, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.ServeOn(t, ip, log.wrap(httputil.NewSingleHostReverseProxy(u))).URL
}

// TestCredentialsGoOnlyToTheirHost sets a distinct secret in every credential variable at once
// (GITHUB_TOKEN, GITLAB_TOKEN, GITEA_TOKEN, FERRY_FORGE_TOKEN, a registry's tokenEnv, a Docker
// config, a GitHub App, the passphrases; and FERRY_GIT_TOKEN in the second run), runs bump,
// watch, promote (commit and pull request), status, verify and tags against config repos on a
// real Gitea, a GitHub host and a host no forge claims, and registries on other hosts, each
// recording what it received: each host must get its own credential and no other, and the
// redirects (blob storage, a forge API answer) none.
func TestCredentialsGoOnlyToTheirHost(t *testing.T) {
	srv := giteatest.Shared(t)
	for _, withGitToken := range []bool{false, true} {
		name := "forge tokens"
		if withGitToken {
			name = "FERRY_GIT_TOKEN"
		}
		t.Run(name, func(t *testing.T) { credentialMatrix(t, srv, withGitToken) })
	}
}

// matrixSecrets sets a distinct secret in every credential variable (and FERRY_GIT_TOKEN only
// when withGitToken), and returns them with the token the GitHub host's git server takes.
func matrixSecrets(t *testing.T, srv *giteatest.Server, withGitToken bool) (s secrets, pushToken string) {
	t.Helper()
	s = secrets{
		"GITHUB_TOKEN":                  "sentinel-github-" + randomWord(t),
		"GITLAB_TOKEN":                  "sentinel-gitlab-" + randomWord(t),
		"GITEA_TOKEN":                   srv.Token,
		"FERRY_FORGE_TOKEN":             "sentinel-forge-" + randomWord(t),
		"REGISTRY_TOKEN":                "robot:sentinel-registry-" + randomWord(t),
		"FERRY_SIGNING_PASSPHRASE":      "sentinel-signing-" + randomWord(t),
		"FERRY_SSH_KEY_PASSPHRASE":      "sentinel-ssh-" + randomWord(t),
		"DOCKER_CONFIG auth":            "docker:sentinel-docker-" + randomWord(t),
		"GitHub App installation token": "ghs_sentinel" + randomWord(t),
	}
	pushToken = s["GITHUB_TOKEN"]
	if withGitToken {
		s["FERRY_GIT_TOKEN"] = srv.NewToken(t, "write:repository")
		pushToken = s["FERRY_GIT_TOKEN"]
	} else {
		t.Setenv("FERRY_GIT_TOKEN", "")
	}
	for env, v := range s {
		if !strings.Contains(env, " ") {
			t.Setenv(env, v)
		}
	}
	t.Setenv("FERRY_GITHUB_APP_ID", "7")
	t.Setenv("FERRY_GITHUB_APP_INSTALLATION_ID", "99")
	t.Setenv("FERRY_GITHUB_APP_PRIVATE_KEY_FILE", appKey(t))
	return s, pushToken
}

func credentialMatrix(t *testing.T, srv *giteatest.Server, withGitToken bool) {
	s, pushToken := matrixSecrets(t, srv, withGitToken)
	reg, elsewhere, docker := newHostLog("the registry", s), newHostLog("the redirect target", s), newHostLog("the Docker-config registry", s)
	giteaLog, github, plain := newHostLog("Gitea", s), newHostLog("the GitHub host", s), newHostLog("the unclaimed git host", s)

	var printed []string
	cli := func(t *testing.T, wantCode int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"--log-level", "debug"}, args...)...)
		printed = append(printed, out, errOut)
		if code != wantCode {
			t.Fatalf("ferry %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out + errOut
	}

	// Gitea: bump, watch, promote (a commit, then a pull request), status.
	giteaURL := proxyOn(t, ipGitea, giteaLog, srv.URL)
	w := matrixWorld(t, s, reg, elsewhere, "gitea", giteaURL)
	repo := srv.CreateRepo(t, "creds")
	promotetest.Git(t, w.Bare, "push", "-q", "--force", repo.PushURL, "main:main")
	common := []string{"--repo", giteaURL + "/" + repo.Owner + "/" + repo.Name + ".git", "--cache-dir", t.TempDir()}
	cli(t, 0, append([]string{"bump", w.Repository("api") + ":1.1.0"}, common...)...)
	cli(t, 0, append([]string{"watch", "--once"}, common...)...)
	cli(t, 0, append([]string{"promote", "dev", "staging"}, common...)...)
	if out := cli(t, 0, append([]string{"promote", "staging", "prod"}, common...)...); !strings.Contains(out, "opened pull request") {
		t.Errorf("promote staging prod on Gitea opened no pull request:\n%s", out)
	}
	cli(t, 0, append([]string{"status"}, common...)...)

	// GitHub (a GitHub App for the API, the push token for git): a pull request.
	apiURL, ghRepo, ghRoot := fakeGitHubHost(t, github, elsewhere, pushToken, s["GitHub App installation token"])
	w2 := matrixWorld(t, s, reg, elsewhere, "github", apiURL)
	promotetest.Git(t, "", "clone", "-q", "--bare", w2.Bare, filepath.Join(ghRoot, "acme", "config.git"))
	// The repository is private (every request needs the token) on a host that is not
	// github.com: only a local ferry.yaml says, before the clone, that GitHub serves it.
	localYAML := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(localYAML, []byte(w2.Show("main", "ferry.yaml")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, 0, "promote", "staging", "prod", "--repo", ghRepo, "--config", localYAML, "--cache-dir", t.TempDir()); !strings.Contains(out, "opened pull request") {
		t.Errorf("promote staging prod on GitHub opened no pull request:\n%s", out)
	}

	// A host no forge claims (ferry.yaml names Gitea, elsewhere): FERRY_GIT_TOKEN or nothing.
	w3 := matrixWorld(t, s, reg, elsewhere, "gitea", giteaURL)
	plainRoot := t.TempDir()
	promotetest.Git(t, "", "clone", "-q", "--bare", w3.Bare, filepath.Join(plainRoot, "acme", "config.git"))
	plainGit := gittest.ServeHTTP(t, plainRoot, gitrepo.DefaultUsername, pushToken)
	plainURL := proxyOn(t, ipPlain, plain, plainGit.URL) + "/acme/config.git"
	if withGitToken {
		cli(t, 0, "bump", w3.Repository("api")+":1.1.0", "--repo", plainURL, "--cache-dir", t.TempDir())
	} else if out := cli(t, 1, "bump", w3.Repository("api")+":1.1.0", "--repo", plainURL, "--cache-dir", t.TempDir()); !strings.Contains(out, "no token was sent to 127.0.0.7") || !strings.Contains(out, "set FERRY_GIT_TOKEN") {
		t.Errorf("bump against an unclaimed host without FERRY_GIT_TOKEN: the error does not say what to set:\n%s", out)
	}

	// verify and tags take the Docker config's credentials, for their registry only.
	toolRepo, toolKey := dockerRegistry(t, s, docker)
	cli(t, 0, "verify", "--key", toolKey, toolRepo+":1.0.0")
	cli(t, 0, "tags", toolRepo, "--cache-dir", t.TempDir())

	reg.check(t, "REGISTRY_TOKEN")
	elsewhere.check(t)
	docker.check(t, "DOCKER_CONFIG auth")
	if withGitToken {
		giteaLog.check(t, "GITEA_TOKEN", "FERRY_GIT_TOKEN")
		github.check(t, "FERRY_GIT_TOKEN", "GitHub App installation token")
		plain.check(t, "FERRY_GIT_TOKEN")
	} else {
		giteaLog.check(t, "GITEA_TOKEN")
		github.check(t, "GITHUB_TOKEN", "GitHub App installation token")
		plain.check(t)
	}
	for i, out := range printed {
		for env, v := range s {
			if strings.Contains(out, v) {
				t.Errorf("%s appears in output %d:\n%s", env, i, out)
			}
		}
	}
}

func randomWord(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}
