package promote_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/promotetest"
)

var bumpedBy = regexp.MustCompile(`# bumped by .*`)

// BenchmarkBump20000 measures one `bump` (shallow clone, verify, edit, commit, push, clean up)
// in process on a config repo of 20,000 files more than the promotetest world, against the git
// CLI doing the same write by hand (clone --depth 1, edit, commit -a, push, remove the clone).
// Each iteration moves dev's api between 1.0.0 and 1.1.0, so every one pushes a commit.
// scripts/bench-bump.sh measures the same with the real binary, process start and peak RSS
// included.
func BenchmarkBump20000(b *testing.B) {
	w := promotetest.New(b, nil)
	w.Fill(20000)
	ctx := context.Background()
	opts := w.Options()
	opts.Repo = "file://" + w.Bare
	opts.AllowDowngrade = true
	tags := []string{"1.0.0", "1.1.0"}

	b.Run("ferry", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			res, err := promote.Bump(ctx, opts, []string{w.Reg.Ref("acme/api:" + tags[i%2])})
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Commits) != 1 {
				b.Fatalf("iteration %d: commits %+v", i, res.Commits)
			}
		}
	})

	b.Run("git-cli", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			dir := filepath.Join(b.TempDir(), "clone")
			promotetest.Git(b, "", "clone", "-q", "--depth", "1", "-b", "main", "file://"+w.Bare, dir)
			p := filepath.Join(dir, "envs/dev/kustomization.yaml")
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			edited := bumpedBy.ReplaceAllString(string(data), "# bumped by hand "+strconv.Itoa(i))
			if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
				b.Fatal(err)
			}
			promotetest.Git(b, dir, "-c", "user.name=b", "-c", "user.email=b@example.test", "commit", "-qam", "dev: api")
			promotetest.Git(b, dir, "push", "-q", "origin", "main")
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
	if out, err := exec.Command("git", "-C", w.Bare, "fsck", "--strict", "--no-dangling").CombinedOutput(); err != nil {
		b.Fatalf("git fsck: %v\n%s", err, out)
	}
}

// BenchmarkHistory reads the history of a 5,000-commit config repo with 20 environments × 50
// images (every commit changes one image; one in ten by hand), from a bare repo on disk.
func BenchmarkHistory(b *testing.B) {
	bare := filepath.Join(b.TempDir(), "config.git")
	n, err := promotetest.HistoryRepo(bare, promotetest.HistorySpec{Envs: 20, Images: 50, Commits: 5000, Start: time.Now().Add(-80 * 24 * time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rep, err := promote.History(ctx, promote.Options{Repo: bare}, promote.HistoryOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if got := len(rep.Events); got != n+20*50 {
			b.Fatalf("%d events, want %d", got, n+20*50)
		}
	}
}
