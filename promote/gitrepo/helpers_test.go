package gitrepo

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
)

func TestMain(m *testing.M) {
	// Git CLI runs in tests without the machine's configuration.
	dir, err := os.MkdirTemp("", "ferry-gitconfig-")
	if err != nil {
		panic(err)
	}
	cfg := filepath.Join(dir, "gitconfig")
	if err := os.WriteFile(cfg, []byte("[init]\n\tdefaultBranch = main\n[protocol \"file\"]\n\tallow = always\n"), 0o644); err != nil {
		panic(err)
	}
	for k, v := range map[string]string{
		"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": cfg,
		"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
		"GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
		"GIT_TERMINAL_PROMPT": "0",
	} {
		os.Setenv(k, v)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// git and gitErr run the git CLI in dir (see gittest).
var (
	git    = gittest.Git
	gitErr = gittest.GitErr
)

// newBare makes a bare repository whose main branch holds files in one commit, with every ref
// update logged and non-fast-forward pushes to main refused (so a forced push would fail the
// test).
func newBare(t testing.TB, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	bare := filepath.Join(root, "config.git")
	git(t, root, "init", "-q", "--bare", "-b", "main", bare)
	gittest.Protect(t, bare, "main")
	work := filepath.Join(root, "seed")
	git(t, root, "clone", "-q", bare, work)
	writeFiles(t, work, files)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "seed")
	git(t, work, "push", "-q", "origin", "HEAD:main")
	return bare
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pushFromClone commits files to branch of bare through a fresh git CLI clone.
func pushFromClone(t testing.TB, bare, branch string, files map[string]string, msg string) string {
	t.Helper()
	work := t.TempDir()
	git(t, work, "clone", "-q", "--depth", "1", "-b", branch, "file://"+bare, ".")
	writeFiles(t, work, files)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", msg)
	git(t, work, "push", "-q", "origin", "HEAD:"+branch)
	return git(t, work, "rev-parse", "HEAD")
}

// firstParentLog lists the subjects on branch of repo, oldest first.
func firstParentLog(t testing.TB, repo, branch string) []string {
	t.Helper()
	out := git(t, repo, "log", "--first-parent", "--reverse", "--format=%s", branch)
	return strings.Split(out, "\n")
}

// assertNoForcePush checks that branch of bare was only ever fast-forwarded, that its history
// is linear and that git fsck is clean.
func assertNoForcePush(t testing.TB, bare, branch string) {
	t.Helper()
	gittest.AssertNoForcePush(t, bare, branch)
}

func open(t testing.TB, repo string, opts Options) *Repo {
	t.Helper()
	r, err := Open(context.Background(), repo, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", repo, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// setFile is an Intent that writes content to p, with a fixed message.
func setFile(p, content, msg string) Intent {
	return func(ctx context.Context, tip fs.FS) (*Change, error) {
		return &Change{Files: map[string][]byte{p: []byte(content)}, Message: msg}, nil
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
