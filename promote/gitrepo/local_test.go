package gitrepo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// checkout clones bare into a working checkout with some uncommitted work: an unrelated
// modified file, a staged unrelated file and an untracked file.
func checkout(t *testing.T, bare string) string {
	t.Helper()
	work := t.TempDir()
	git(t, work, "clone", "-q", bare, ".")
	writeFiles(t, work, map[string]string{"README.md": "config, edited locally\n", "staged.txt": "staged\n", "untracked.txt": "mine\n"})
	git(t, work, "add", "staged.txt")
	return work
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// status is `git status --porcelain` as lines.
func status(t *testing.T, dir string) []string {
	t.Helper()
	cmd := exec.Command("git", "status", "--porcelain")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n")
}

var uncommitted = []string{" M README.md", "A  staged.txt", "?? untracked.txt"}

func TestLocalCheckoutFastForwards(t *testing.T) {
	bare := newBare(t, seed)
	work := checkout(t, bare)
	r := open(t, work, Options{})
	if !r.Local() {
		t.Fatal("a checkout was not opened in local mode")
	}
	res, err := r.Apply(context.Background(), setFile("envs/prod/deploy.yaml", "image: api:3.0.0\n", "prod: 3.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Note != "" || !res.Pushed {
		t.Errorf("result %+v: want pushed with no note", res)
	}
	got := map[string]string{
		"remote main": git(t, bare, "rev-parse", "main"),
		"local main":  git(t, work, "rev-parse", "main"),
		"origin/main": git(t, work, "rev-parse", "origin/main"),
		"deploy":      readFile(t, filepath.Join(work, "envs/prod/deploy.yaml")),
		"readme":      readFile(t, filepath.Join(work, "README.md")),
		"untracked":   readFile(t, filepath.Join(work, "untracked.txt")),
	}
	want := map[string]string{
		"remote main": res.SHA, "local main": res.SHA, "origin/main": res.SHA,
		"deploy": "image: api:3.0.0\n", "readme": "config, edited locally\n", "untracked": "mine\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// The index agrees with the new commit: only the user's own work shows as changed.
	if diff := cmp.Diff(uncommitted, status(t, work)); diff != "" {
		t.Errorf("git status after fast-forward (-want +got):\n%s", diff)
	}
	if out, err := gitErr(work, "fsck", "--no-dangling"); err != nil {
		t.Errorf("git fsck: %v %s", err, out)
	}
}

func TestLocalCheckoutLeavesDirtyPath(t *testing.T) {
	bare := newBare(t, seed)
	work := checkout(t, bare)
	before := git(t, work, "rev-parse", "main")
	writeFiles(t, work, map[string]string{"envs/prod/deploy.yaml": "image: api:1.0.0 # my edit\n"})
	r := open(t, work, Options{})
	res, err := r.Apply(context.Background(), setFile("envs/prod/deploy.yaml", "image: api:3.0.0\n", "prod: 3.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Note, "envs/prod/deploy.yaml has uncommitted changes") {
		t.Errorf("note = %q", res.Note)
	}
	if got := git(t, bare, "show", "main:envs/prod/deploy.yaml"); got != "image: api:3.0.0" {
		t.Errorf("remote deploy.yaml = %q: the commit was not built on origin/main", got)
	}
	if got := git(t, work, "rev-parse", "main"); got != before {
		t.Errorf("local main moved to %s though the working tree was left alone", got)
	}
	if got := readFile(t, filepath.Join(work, "envs/prod/deploy.yaml")); got != "image: api:1.0.0 # my edit\n" {
		t.Errorf("uncommitted edit lost: %q", got)
	}
	if diff := cmp.Diff([]string{" M README.md", " M envs/prod/deploy.yaml", "A  staged.txt", "?? untracked.txt"}, status(t, work)); diff != "" {
		t.Errorf("git status (-want +got):\n%s", diff)
	}
}

func TestLocalCheckoutBehindOrigin(t *testing.T) {
	bare := newBare(t, seed)
	work := checkout(t, bare)
	other := pushFromClone(t, bare, "main", map[string]string{"envs/dev/other.yaml": "x: 1\n"}, "other")
	r := open(t, work, Options{})
	res, err := r.Apply(context.Background(), setFile("envs/prod/deploy.yaml", "image: api:3.0.0\n", "prod: 3.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Parent != other {
		t.Errorf("built on %s, want origin's tip %s", res.Parent, other)
	}
	if !strings.Contains(res.Note, "git pull") {
		t.Errorf("note = %q, want advice to pull", res.Note)
	}
	if diff := cmp.Diff(uncommitted, status(t, work)); diff != "" {
		t.Errorf("git status (-want +got):\n%s", diff)
	}
}

func TestLocalCheckoutNoPush(t *testing.T) {
	bare := newBare(t, seed)
	work := checkout(t, bare)
	remoteBefore := git(t, bare, "rev-parse", "main")
	ctx := context.Background()
	for i, v := range []string{"4.0.0", "4.1.0"} {
		r := open(t, work, Options{NoPush: true})
		res, err := r.Apply(ctx, setFile("envs/prod/deploy.yaml", "image: api:"+v+"\n", "prod: "+v))
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if res.Pushed || git(t, work, "rev-parse", "main") != res.SHA {
			t.Errorf("run %d: %+v; local main at %s", i, res, git(t, work, "rev-parse", "main"))
		}
	}
	if got := git(t, bare, "rev-parse", "main"); got != remoteBefore {
		t.Errorf("no-push moved the remote")
	}
	if diff := cmp.Diff([]string{"seed", "prod: 4.0.0", "prod: 4.1.0"}, firstParentLog(t, work, "main")); diff != "" {
		t.Errorf("local history (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(uncommitted, status(t, work)); diff != "" {
		t.Errorf("git status (-want +got):\n%s", diff)
	}
	if got := readFile(t, filepath.Join(work, "envs/prod/deploy.yaml")); got != "image: api:4.1.0\n" {
		t.Errorf("working tree file = %q", got)
	}

	// Origin moves on too: the branches have diverged and no-push refuses.
	pushFromClone(t, bare, "main", map[string]string{"other": "x"}, "other")
	_, err := Open(ctx, work, Options{NoPush: true})
	if !errors.Is(err, ErrDiverged) {
		t.Errorf("err = %v, want ErrDiverged", err)
	}
}

func TestLocalCheckoutNoPushBehind(t *testing.T) {
	bare := newBare(t, seed)
	work := checkout(t, bare)
	pushFromClone(t, bare, "main", map[string]string{"other": "x"}, "other")
	_, err := Open(context.Background(), work, Options{NoPush: true})
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "pull first") {
		t.Errorf("err = %v, want ErrDiverged telling to pull", err)
	}
}
