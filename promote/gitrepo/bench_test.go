package gitrepo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// bigRepo makes a bare repository of files files (100 per directory, ~300 bytes each) plus
// envs/dev/values.yaml, in one commit, with git fast-import.
func bigRepo(b *testing.B, files int) string {
	b.Helper()
	root := b.TempDir()
	bare := filepath.Join(root, "big.git")
	git(b, root, "init", "-q", "--bare", "-b", "main", bare)
	var s strings.Builder
	msg := "seed\n"
	fmt.Fprintf(&s, "commit refs/heads/main\ncommitter Dev <dev@example.com> %d +0000\ndata %d\n%s", time.Now().Unix(), len(msg), msg)
	body := strings.Repeat("key: value # padding to make the file a realistic size\n", 5)
	for i := range files {
		c := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n%s", i, body)
		fmt.Fprintf(&s, "M 100644 inline apps/app%03d/cm-%05d.yaml\ndata %d\n%s\n", i/100, i, len(c), c)
	}
	v := "image:\n  tag: 0\n"
	fmt.Fprintf(&s, "M 100644 inline envs/dev/values.yaml\ndata %d\n%s\n", len(v), v)
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(s.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v\n%s", err, out)
	}
	git(b, bare, "gc", "-q")
	return bare
}

// BenchmarkApply compares one "clone, edit one file, commit, push" on a 20,000-file repo:
// gitrepo (no checkout), go-git with a checkout and Worktree.Add, and the git CLI. The
// apply-only case is gitrepo's edit+commit+push on an already open clone.
func BenchmarkApply(b *testing.B) {
	bare := bigRepo(b, 20000)
	url := "file://" + bare
	ctx := context.Background()
	n := 0
	content := func() string { n++; return fmt.Sprintf("image:\n  tag: %d\n", n) }

	b.Run("gitrepo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := Open(ctx, url, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.Apply(ctx, setFile("envs/dev/values.yaml", content(), "bump")); err != nil {
				b.Fatal(err)
			}
			if err := r.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("gitrepo-apply-only", func(b *testing.B) {
		b.ReportAllocs()
		r, err := Open(ctx, url, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		for b.Loop() {
			if _, err := r.Apply(ctx, setFile("envs/dev/values.yaml", content(), "bump")); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("go-git-worktree-add", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dir, err := os.MkdirTemp("", "ferry-bench-")
			if err != nil {
				b.Fatal(err)
			}
			repo, err := gogit.PlainCloneContext(ctx, dir, false, &gogit.CloneOptions{
				URL: url, ReferenceName: plumbing.NewBranchReferenceName("main"), SingleBranch: true, Depth: 1, Tags: gogit.NoTags,
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "envs/dev/values.yaml"), []byte(content()), 0o644); err != nil {
				b.Fatal(err)
			}
			wt, err := repo.Worktree()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := wt.Add("envs/dev/values.yaml"); err != nil {
				b.Fatal(err)
			}
			sig := &object.Signature{Name: "ferry", Email: "ferry@example.com", When: time.Now()}
			if _, err := wt.Commit("bump", &gogit.CommitOptions{Author: sig}); err != nil {
				b.Fatal(err)
			}
			if err := repo.PushContext(ctx, &gogit.PushOptions{RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main"}}); err != nil {
				b.Fatal(err)
			}
			os.RemoveAll(dir)
		}
	})

	b.Run("git-cli", func(b *testing.B) {
		for b.Loop() {
			dir, err := os.MkdirTemp("", "ferry-bench-")
			if err != nil {
				b.Fatal(err)
			}
			git(b, dir, "clone", "-q", "--depth", "1", "-b", "main", url, ".")
			if err := os.WriteFile(filepath.Join(dir, "envs/dev/values.yaml"), []byte(content()), 0o644); err != nil {
				b.Fatal(err)
			}
			git(b, dir, "commit", "-q", "-a", "-m", "bump")
			git(b, dir, "push", "-q", "origin", "main")
			os.RemoveAll(dir)
		}
	})
}
