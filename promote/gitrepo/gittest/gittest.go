// Package gittest gives tests real Git remotes on loopback and on disk: bare repositories with
// a protected branch (an update hook refusing non-fast-forwards, as branch protection would),
// smart HTTP through `git http-backend` behind basic auth, and checks that a branch was never
// force-pushed and that the object store is sound.
//
// It drives the installed git CLI and imports nothing of ferry, so every package's tests,
// gitrepo's own included, can use it.
package gittest

import (
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// Git runs the git CLI in dir and returns its trimmed stdout, failing the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := GitErr(dir, args...)
	if err != nil {
		t.Fatalf("git %s (in %s): %v", strings.Join(args, " "), dir, err)
	}
	return out
}

// GitErr runs the git CLI in dir and returns its trimmed stdout; the error carries stderr.
func GitErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// updateHook refuses any non-fast-forward of the branch named in its first line's test.
const updateHook = `#!/bin/sh
# Installed by gittest.Protect: refuse non-fast-forward updates of %[1]s.
if [ "$1" = %[1]s ] && [ "$2" != 0000000000000000000000000000000000000000 ] && [ "$3" != 0000000000000000000000000000000000000000 ]; then
  git merge-base --is-ancestor "$2" "$3" || { echo "non-fast-forward of %[1]s refused" >&2; exit 1; }
fi
if [ "$1" = %[1]s ] && [ "$3" = 0000000000000000000000000000000000000000 ]; then
  echo "deleting %[1]s refused" >&2; exit 1
fi
`

// Protect makes the bare repository refuse non-fast-forward pushes to (and deletion of) branch,
// as a forge's branch protection would, and log every ref update so that AssertNoForcePush can
// read the branch's whole history of updates. Other branches may still be force-pushed.
func Protect(t testing.TB, bare, branch string) {
	t.Helper()
	Git(t, bare, "config", "core.logAllRefUpdates", "always")
	hook := fmt.Sprintf(updateHook, "refs/heads/"+branch)
	if err := os.WriteFile(filepath.Join(bare, "hooks", "update"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
}

// AssertNoForcePush checks the reflog of refs/heads/<branch> in bare (Protect turns it on):
// every update's old value is an ancestor of its new value, history has no merges, and
// `git fsck --strict` is clean.
func AssertNoForcePush(t testing.TB, bare, branch string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bare, "logs", "refs", "heads", branch))
	if err != nil {
		t.Fatalf("reading the reflog of %s (is core.logAllRefUpdates on? gittest.Protect sets it): %v", branch, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		old, nw := f[0], f[1]
		if strings.Trim(old, "0") == "" {
			continue
		}
		if _, err := GitErr(bare, "merge-base", "--is-ancestor", old, nw); err != nil {
			t.Errorf("ref update of %s %s -> %s is not a fast-forward", branch, old, nw)
		}
	}
	if merges := Git(t, bare, "rev-list", "--merges", branch); merges != "" {
		t.Errorf("history of %s has merges: %s", branch, merges)
	}
	Fsck(t, bare)
}

// Fsck runs `git fsck --strict --no-dangling` in repo and fails the test on any complaint.
func Fsck(t testing.TB, repo string) {
	t.Helper()
	cmd := exec.Command("git", "fsck", "--strict", "--no-dangling")
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("git fsck --strict in %s: %v\n%s", repo, err, out)
		return
	}
	// fsck exits 0 on warnings; --strict turns most into errors, but be sure.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "warning") || strings.HasPrefix(line, "error") {
			t.Errorf("git fsck --strict in %s: %s", repo, line)
		}
	}
}

// HTTPServer serves the bare repositories under a directory over Git's smart HTTP protocol
// (`git http-backend` run through net/http/cgi), on loopback, behind HTTP basic auth.
type HTTPServer struct {
	// URL is the server's base URL; a repository root/config.git is at URL + "/config.git".
	URL     string
	refused atomic.Int32
	served  atomic.Int32
}

// Refused counts the requests refused for missing or wrong credentials.
func (s *HTTPServer) Refused() int { return int(s.refused.Load()) }

// Served counts the requests that passed authentication and reached git http-backend.
func (s *HTTPServer) Served() int { return int(s.served.Load()) }

// ServeHTTP serves the bare repositories under root at http://127.0.0.1:PORT/<name>.git,
// requiring basic auth user:token on every request (a 401 with a Basic challenge otherwise).
// Pushes are allowed to the authenticated user, and run the repositories' hooks (Protect's
// among them). The server stops when the test ends.
func ServeHTTP(t testing.TB, root, user, token string) *HTTPServer {
	t.Helper()
	execPath := Git(t, ".", "--exec-path")
	backend := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			// git http-backend enables receive-pack for an authenticated user, which it
			// learns from REMOTE_USER.
			"REMOTE_USER=" + user,
		},
	}
	s := &HTTPServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != token {
			s.refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		s.served.Add(1)
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// RepoURL serves the bare repository bare alone (its parent directory is the server's root)
// and returns its URL, http://127.0.0.1:PORT/<base name of bare>.
func RepoURL(t testing.TB, bare, user, token string) (string, *HTTPServer) {
	t.Helper()
	s := ServeHTTP(t, filepath.Dir(bare), user, token)
	return s.URL + "/" + filepath.Base(bare), s
}

// AllowPartial lets clients of bare make partial clones, as GitHub, GitLab and Gitea do: it
// serves filtered fetches (uploadpack.allowFilter) and objects wanted by hash
// (uploadpack.allowAnySHA1InWant, which a blob fetched on demand needs).
func AllowPartial(t testing.TB, bare string) {
	t.Helper()
	Git(t, bare, "config", "uploadpack.allowFilter", "true")
	Git(t, bare, "config", "uploadpack.allowAnySHA1InWant", "true")
}
