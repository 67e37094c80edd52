package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var seed = map[string]string{
	"ferry.yaml":                   "images: []\n",
	"envs/dev/kustomization.yaml":  "images:\n- name: api\n  newTag: 1.0.0\n",
	"envs/prod/deploy.yaml":        "image: api:1.0.0\n",
	"envs/prod/nested/values.yaml": "tag: 1.0.0\n",
	"README.md":                    "config\n",
}

func TestApplyLocations(t *testing.T) {
	tests := []struct {
		name string
		url  func(bare string) string
	}{
		{"bare path", func(b string) string { return b }},
		{"file URL", func(b string) string { return "file://" + b }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bare := newBare(t, seed)
			r := open(t, tc.url(bare), Options{})
			tmp := r.tmpDir
			res, err := r.Apply(context.Background(), func(ctx context.Context, tip fs.FS) (*Change, error) {
				old, err := fs.ReadFile(tip, "envs/prod/nested/values.yaml")
				if err != nil {
					return nil, err
				}
				return &Change{
					Files: map[string][]byte{
						"envs/prod/nested/values.yaml": []byte(strings.Replace(string(old), "1.0.0", "1.1.0", 1)),
						"envs/prod/new.yaml":           []byte("new: true\n"),
					},
					Message:   "prod: api 1.0.0 -> 1.1.0\n\nFerry-Image: api=ghcr.io/acme/api:1.1.0@sha256:abc\n",
					Author:    Signature{Name: "ferry", Email: "ferry@example.com"},
					Committer: Signature{Name: "bot", Email: "bot@example.com"},
				}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := &Result{SHA: git(t, bare, "rev-parse", "main"), Branch: "main", Parent: res.Parent, Pushed: true, Attempts: 1}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			got := map[string]string{
				"values":    git(t, bare, "show", "main:envs/prod/nested/values.yaml"),
				"new":       git(t, bare, "show", "main:envs/prod/new.yaml"),
				"untouched": git(t, bare, "show", "main:envs/dev/kustomization.yaml"),
				"author":    git(t, bare, "log", "-1", "--format=%an <%ae> / %cn <%ce>", "main"),
				"trailer":   git(t, bare, "log", "-1", "--format=%(trailers:key=Ferry-Image,valueonly)", "main"),
				"changed":   git(t, bare, "diff", "--name-only", "main~1", "main"),
			}
			wantFiles := map[string]string{
				"values":    "tag: 1.1.0",
				"new":       "new: true",
				"untouched": "images:\n- name: api\n  newTag: 1.0.0",
				"author":    "ferry <ferry@example.com> / bot <bot@example.com>",
				"trailer":   "api=ghcr.io/acme/api:1.1.0@sha256:abc",
				"changed":   "envs/prod/nested/values.yaml\nenvs/prod/new.yaml",
			}
			if diff := cmp.Diff(wantFiles, got); diff != "" {
				t.Errorf("remote content (-want +got):\n%s", diff)
			}
			assertNoForcePush(t, bare, "main")
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temporary clone %s still exists after Close: %v", tmp, err)
			}
		})
	}
}

func TestApplyIdempotent(t *testing.T) {
	bare := newBare(t, seed)
	r := open(t, bare, Options{})
	ctx := context.Background()
	first, err := r.Apply(ctx, setFile("envs/dev/a.yaml", "a: 1\n", "dev: a"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		intent Intent
	}{
		{"same content again", setFile("envs/dev/a.yaml", "a: 1\n", "dev: a")},
		{"nil change", func(context.Context, fs.FS) (*Change, error) { return nil, nil }},
		{"empty change", func(context.Context, fs.FS) (*Change, error) { return &Change{Message: "x"}, nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := r.Apply(ctx, tc.intent)
			if err != nil {
				t.Fatal(err)
			}
			want := &Result{Branch: "main", Parent: first.SHA, NoChange: true}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// A fresh clone sees the same: nothing to do.
	r2 := open(t, bare, Options{})
	res, err := r2.Apply(ctx, setFile("envs/dev/a.yaml", "a: 1\n", "dev: a"))
	if err != nil || !res.NoChange {
		t.Errorf("second run: %+v, %v; want NoChange", res, err)
	}
	if diff := cmp.Diff([]string{"seed", "dev: a"}, firstParentLog(t, bare, "main")); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// TestApplyConflictRecomputes pushes a concurrent commit between the tip Apply read and its
// push: the push must be refused, the intent recomputed on the new tip (seeing the concurrent
// change), and both commits end up on the branch.
func TestApplyConflictRecomputes(t *testing.T) {
	bare := newBare(t, seed)
	r := open(t, bare, Options{})
	var seen []string
	intent := func(ctx context.Context, tip fs.FS) (*Change, error) {
		b, err := fs.ReadFile(tip, "envs/prod/deploy.yaml")
		if err != nil {
			return nil, err
		}
		seen = append(seen, string(b))
		if len(seen) == 1 {
			// Someone else pushes meanwhile, touching the same file.
			pushFromClone(t, bare, "main", map[string]string{"envs/prod/deploy.yaml": "image: api:1.0.0\nreplicas: 3\n"}, "human: replicas")
		}
		return &Change{
			Files:   map[string][]byte{"envs/prod/deploy.yaml": []byte(strings.Replace(string(b), "api:1.0.0", "api:2.0.0", 1))},
			Message: "prod: api 2.0.0",
		}, nil
	}
	res, err := r.Apply(context.Background(), intent)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"image: api:1.0.0\n", "image: api:1.0.0\nreplicas: 3\n"}, seen); diff != "" {
		t.Errorf("tips the intent saw (-want +got):\n%s", diff)
	}
	if res.Attempts != 2 {
		t.Errorf("attempts = %d, want 2", res.Attempts)
	}
	if diff := cmp.Diff([]string{"seed", "human: replicas", "prod: api 2.0.0"}, firstParentLog(t, bare, "main")); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if got := git(t, bare, "show", "main:envs/prod/deploy.yaml"); got != "image: api:2.0.0\nreplicas: 3" {
		t.Errorf("deploy.yaml = %q: the concurrent change was lost or the intent not recomputed", got)
	}
	assertNoForcePush(t, bare, "main")
}

func TestApplyConflictRetriesExhausted(t *testing.T) {
	bare := newBare(t, seed)
	r := open(t, bare, Options{MaxRetries: 2})
	n := 0
	intent := func(ctx context.Context, tip fs.FS) (*Change, error) {
		n++
		pushFromClone(t, bare, "main", map[string]string{fmt.Sprintf("other/%d", n): "x"}, fmt.Sprintf("other %d", n))
		return &Change{Files: map[string][]byte{"mine": []byte("x")}, Message: "mine"}, nil
	}
	_, err := r.Apply(context.Background(), intent)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if n != 3 {
		t.Errorf("intent ran %d times, want 3 (1 + MaxRetries)", n)
	}
	assertNoForcePush(t, bare, "main")
}

// TestApplyConcurrent runs N writers against one bare repo at once: every change lands, the
// history is linear, nothing is force-pushed (the remote refuses non-fast-forwards anyway).
func TestApplyConcurrent(t *testing.T) {
	const n = 8
	bare := newBare(t, seed)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Open(ctx, bare, Options{MaxRetries: 3 * n})
			if err != nil {
				errs[i] = err
				return
			}
			defer r.Close()
			_, errs[i] = r.Apply(ctx, setFile(fmt.Sprintf("envs/e%d/image.yaml", i), fmt.Sprintf("tag: %d\n", i), fmt.Sprintf("writer %d", i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	for i := range n {
		if got := git(t, bare, "show", fmt.Sprintf("main:envs/e%d/image.yaml", i)); got != fmt.Sprintf("tag: %d", i) {
			t.Errorf("writer %d's file = %q", i, got)
		}
	}
	if got := len(firstParentLog(t, bare, "main")); got != n+1 {
		t.Errorf("%d commits on main, want %d", got, n+1)
	}
	assertNoForcePush(t, bare, "main")
}

func TestApplyKeepsModeAndRejectsBadPaths(t *testing.T) {
	bare := newBare(t, seed)
	work := t.TempDir()
	git(t, work, "clone", "-q", bare, ".")
	writeFiles(t, work, map[string]string{"bin/run.sh": "#!/bin/sh\n", "link-target": "x"})
	if err := os.Chmod(filepath.Join(work, "bin/run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("link-target", filepath.Join(work, "link")); err != nil {
		t.Fatal(err)
	}
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "exec")
	git(t, work, "push", "-q", "origin", "main")

	r := open(t, bare, Options{})
	ctx := context.Background()
	if _, err := r.Apply(ctx, setFile("bin/run.sh", "#!/bin/sh\necho hi\n", "edit script")); err != nil {
		t.Fatal(err)
	}
	if got := git(t, bare, "ls-tree", "main", "bin/run.sh"); !strings.HasPrefix(got, "100755 ") {
		t.Errorf("mode after edit: %q, want 100755", got)
	}
	bad := []struct{ path, want string }{
		{"../escape", "clean relative"},
		{"/abs", "clean relative"},
		{"a/./b", "clean relative"},
		{".git/config", "inside .git"},
		{"envs/.GIT/x", "inside .git"},
		{"envs", "is a directory"},
		{"README.md/x", "is a file"},
		{"link", "symlink"},
	}
	for _, tc := range bad {
		t.Run(tc.path, func(t *testing.T) {
			before := git(t, bare, "rev-parse", "main")
			_, err := r.Apply(ctx, setFile(tc.path, "x", "bad"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
			if after := git(t, bare, "rev-parse", "main"); after != before {
				t.Errorf("branch moved after a refused change")
			}
		})
	}
}

func TestApplyBranch(t *testing.T) {
	bare := newBare(t, seed)
	r := open(t, bare, Options{})
	ctx := context.Background()

	for _, b := range []string{"main", "feature/x", "ferry", "ferry/../main", "ferry/a..b", "refs/heads/ferry/x"} {
		t.Run("refuses "+b, func(t *testing.T) {
			_, err := r.ApplyBranch(ctx, b, setFile("x", "x", "x"))
			if !errors.Is(err, ErrBranchNotAllowed) {
				t.Errorf("err = %v, want ErrBranchNotAllowed", err)
			}
		})
	}

	const br = "ferry/prod/from-staging"
	first, err := r.ApplyBranch(ctx, br, setFile("envs/prod/deploy.yaml", "image: api:1.1.0\n", "prod: 1.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, bare, "rev-parse", br); got != first.SHA || !first.Pushed {
		t.Errorf("branch at %s, result %+v", got, first)
	}
	if got := git(t, bare, "rev-parse", "main"); got != first.Parent {
		t.Errorf("target branch moved to %s; ApplyBranch must leave it", got)
	}

	again, err := r.ApplyBranch(ctx, br, setFile("envs/prod/deploy.yaml", "image: api:1.1.0\n", "prod: 1.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&Result{SHA: first.SHA, Branch: br, Parent: first.Parent, NoChange: true}, again); diff != "" {
		t.Errorf("same tree again (-want +got):\n%s", diff)
	}

	// A newer version replaces ferry's branch (force-push of ferry's own branch only).
	second, err := r.ApplyBranch(ctx, br, setFile("envs/prod/deploy.yaml", "image: api:1.2.0\n", "prod: 1.2.0"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"seed", "prod: 1.2.0"}, firstParentLog(t, bare, br)); diff != "" {
		t.Errorf("ferry branch history (-want +got):\n%s", diff)
	}
	if second.Parent != first.Parent {
		t.Errorf("second branch commit built on %s, want the target tip %s", second.Parent, first.Parent)
	}
}

func TestOpenErrors(t *testing.T) {
	bare := newBare(t, seed)
	notRepo := t.TempDir()
	tests := []struct {
		name, repo string
		opts       Options
		is         error
		want       string
	}{
		{"missing branch", bare, Options{Branch: "nope"}, ErrBranchNotFound, "nope"},
		{"not a repo", notRepo, Options{}, ErrNotARepo, notRepo},
		{"bad branch", bare, Options{Branch: "a..b"}, nil, "not a valid branch"},
		{"no-push on a URL", bare, Options{NoPush: true}, nil, "needs a local checkout"},
		{"unsupported scheme", "ftp://example.com/x", Options{}, nil, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), tc.repo, tc.opts)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestFixtureRefusesForcePush proves the bare-repo fixture would catch a forced push of main.
func TestFixtureRefusesForcePush(t *testing.T) {
	bare := newBare(t, seed)
	pushFromClone(t, bare, "main", map[string]string{"x": "1"}, "one")
	work := t.TempDir()
	git(t, work, "clone", "-q", bare, ".")
	git(t, work, "reset", "-q", "--hard", "HEAD~1")
	writeFiles(t, work, map[string]string{"y": "2"})
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "rewrite")
	if _, err := gitErr(work, "push", "-q", "--force", "origin", "main"); err == nil {
		t.Fatal("a forced non-fast-forward push of main was accepted by the fixture")
	}
}

// TestApplyHookRefusalNotRetried: a push the remote refuses while the branch stays put is an
// error at once, not a conflict to retry.
func TestApplyHookRefusalNotRetried(t *testing.T) {
	bare := newBare(t, seed)
	hook := "#!/bin/sh\necho 'protected branch: reviews required' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	r := open(t, bare, Options{})
	calls := 0
	_, err := r.Apply(context.Background(), func(ctx context.Context, tip fs.FS) (*Change, error) {
		calls++
		return &Change{Files: map[string][]byte{"x": []byte("x")}, Message: "x"}, nil
	})
	if err == nil || errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want a push error that is not ErrConflict", err)
	}
	if calls != 1 {
		t.Errorf("intent ran %d times, want 1", calls)
	}
	t.Log(err)
}
