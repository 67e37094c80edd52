package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"
)

// longHistory makes a bare repo with n commits on main, built with git fast-import. Commit i
// (1 = oldest) touches envs/dev/i.txt, or envs/prod/i.txt when i%10 == 0; the commit at
// trailerAt (counted from the tip, 1 = tip) carries a Ferry-Image trailer. Commit i is
// committed at base + i hours.
func longHistory(t *testing.T, n, trailerAt int, base time.Time) string {
	t.Helper()
	root := t.TempDir()
	bare := filepath.Join(root, "long.git")
	git(t, root, "init", "-q", "--bare", "-b", "main", bare)
	var b strings.Builder
	for i := 1; i <= n; i++ {
		env := "dev"
		if i%10 == 0 {
			env = "prod"
		}
		msg := fmt.Sprintf("%s: change %d\n", env, i)
		if n-i+1 == trailerAt {
			msg += "\nFerry-Image: api=ghcr.io/acme/api:1.4.2@sha256:feed\nFerry-Source: staging\n"
		}
		content := fmt.Sprintf("%d\n", i)
		ts := base.Add(time.Duration(i) * time.Hour).Unix()
		fmt.Fprintf(&b, "commit refs/heads/main\ncommitter Dev <dev@example.com> %d +0000\ndata %d\n%s", ts, len(msg), msg)
		fmt.Fprintf(&b, "M 100644 inline envs/%s/%d.txt\ndata %d\n%s\n", env, i, len(content), content)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	return bare
}

// countCommits counts the commit objects in a temporary clone and says whether it is shallow.
func countCommits(t *testing.T, r *Repo) (int, bool) {
	t.Helper()
	iter, err := r.repo.Storer.IterEncodedObjects(plumbing.CommitObject)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := iter.ForEach(func(plumbing.EncodedObject) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	sh, err := r.repo.Storer.Shallow()
	if err != nil {
		t.Fatal(err)
	}
	return n, len(sh) > 0
}

func TestHistoryDeepensOnlyAsFarAsNeeded(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bare := longHistory(t, 200, 150, base)
	ctx := context.Background()
	r := open(t, "file://"+bare, Options{})
	if n, shallow := countCommits(t, r); n != 1 || !shallow {
		t.Fatalf("fresh clone holds %d commits (shallow %v), want 1 shallow", n, shallow)
	}

	entries, err := r.History(ctx, HistoryQuery{Stop: func(e Entry) bool {
		return len(TrailerValues(e.Trailers, TrailerImage)) > 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 150 {
		t.Fatalf("walked %d entries, want 150", len(entries))
	}
	last := entries[len(entries)-1]
	want := []Trailer{{"Ferry-Image", "api=ghcr.io/acme/api:1.4.2@sha256:feed"}, {"Ferry-Source", "staging"}}
	if diff := cmp.Diff(want, last.Trailers); diff != "" {
		t.Errorf("trailers (-want +got):\n%s", diff)
	}
	if last.Subject != "dev: change 51" || !last.Committer.When.Equal(base.Add(51*time.Hour)) {
		t.Errorf("found %q at %v", last.Subject, last.Committer.When)
	}
	n, shallow := countCommits(t, r)
	if !shallow || n >= 200 || n < 150 {
		t.Errorf("after the walk the clone holds %d of 200 commits (shallow %v): want it deepened past 150 but not all the way", n, shallow)
	}
	t.Logf("clone holds %d of 200 commits", n)

	t.Run("path and since", func(t *testing.T) {
		got, err := r.History(ctx, HistoryQuery{Path: "envs/prod", Since: base.Add(160 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		for _, e := range got {
			subjects = append(subjects, e.Subject)
		}
		want := []string{"prod: change 200", "prod: change 190", "prod: change 180", "prod: change 170", "prod: change 160"}
		if diff := cmp.Diff(want, subjects); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("limit", func(t *testing.T) {
		got, err := r.History(ctx, HistoryQuery{Path: "envs/dev/199.txt", Limit: 1})
		if err != nil || len(got) != 1 || got[0].Subject != "dev: change 199" {
			t.Errorf("got %v, %v", got, err)
		}
	})
	t.Run("whole history", func(t *testing.T) {
		got, err := r.History(ctx, HistoryQuery{})
		if err != nil || len(got) != 200 {
			t.Fatalf("got %d entries, %v; want 200", len(got), err)
		}
		if got[199].Subject != "dev: change 1" {
			t.Errorf("oldest = %q", got[199].Subject)
		}
	})
	// The deepened clone still pushes fine and git agrees it is consistent.
	if _, err := r.Apply(ctx, setFile("envs/dev/new.txt", "x\n", "dev: new")); err != nil {
		t.Fatal(err)
	}
	if out, err := gitErr(bare, "fsck", "--strict", "--no-dangling"); err != nil {
		t.Errorf("fsck: %v %s", err, out)
	}
}

// TestHistoryDeepensToTheWindow: a walk back to Since estimates how deep to fetch from the
// pace of the commits seen, so a long window takes a few fetches, not one per step.
func TestHistoryDeepensToTheWindow(t *testing.T) {
	base := time.Now().Add(-1000 * time.Hour)
	bare := longHistory(t, 600, 0, base) // one commit an hour, the tip an hour from now
	r := open(t, bare, Options{})
	entries, err := r.History(context.Background(), HistoryQuery{Since: base.Add(200 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 400 {
		t.Fatalf("%d entries after the window's start, want 400", len(entries))
	}
	n, shallow := countCommits(t, r)
	if !shallow || n > 600 || n < 401 {
		t.Errorf("clone holds %d commits (shallow %v), want the window's 401 and at most a quarter more", n, shallow)
	}
	for _, tc := range []struct {
		since, tip, at time.Time
		pos, want      int
	}{
		{base, base.Add(100 * time.Hour), base.Add(90 * time.Hour), 10, 125},
		{time.Time{}, base.Add(100 * time.Hour), base.Add(90 * time.Hour), 10, 0},
		{base.Add(95 * time.Hour), base.Add(100 * time.Hour), base.Add(90 * time.Hour), 10, 0}, // already past since
		{base, base.Add(100 * time.Hour), base.Add(100 * time.Hour), 10, 0},                    // no pace yet
	} {
		if got := sinceDepth(tc.since, tc.tip, tc.at, tc.pos); got != tc.want {
			t.Errorf("sinceDepth(%v, %v, %v, %d) = %d, want %d", tc.since, tc.tip, tc.at, tc.pos, got, tc.want)
		}
	}
}

// TestSnapshotTrees covers what history reads a commit through: PathHash(es), Files in
// fs.WalkDir's order, ReadBlob, Commit, and Merged for a merge commit.
func TestSnapshotTrees(t *testing.T) {
	ctx := context.Background()
	bare := newBare(t, map[string]string{
		"envs/dev/a.yaml": "a\n", "envs/dev/a/x.yaml": "x\n", "envs/dev/a-b.yaml": "ab\n", "envs/prod/p.yaml": "p\n",
	})
	work := filepath.Join(t.TempDir(), "w")
	git(t, "", "clone", "-q", bare, work)
	git(t, work, "checkout", "-q", "-b", "side")
	writeFiles(t, work, map[string]string{"envs/prod/p.yaml": "p2\n"})
	git(t, work, "-c", "user.name=T", "-c", "user.email=t@example.test", "commit", "-q", "-am", "side\n\nFerry-Environment: prod")
	git(t, work, "checkout", "-q", "main")
	git(t, work, "-c", "user.name=T", "-c", "user.email=t@example.test", "merge", "-q", "--no-ff", "-m", "merge side", "side")
	git(t, work, "push", "-q", "origin", "main")

	r := open(t, bare, Options{})
	entries, err := r.History(ctx, HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	merge := entries[0]
	if len(merge.Parents) != 2 || merge.Merged == nil || trailerValue(merge.Merged.Trailers, "Ferry-Environment") != "prod" {
		t.Fatalf("merge entry %+v: want two parents and the merged head's trailers", merge)
	}
	tip, _, err := r.Commit(ctx, merge.SHA)
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := r.Commit(ctx, merge.Parents[0])
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tip.PathHashes([]string{"envs/dev", "envs/prod", "envs/qa"})
	b, _ := first.PathHashes([]string{"envs/dev", "envs/prod", "envs/qa"})
	if a[0] != b[0] || a[1] == b[1] || a[2] != "" || b[2] != "" {
		t.Errorf("path hashes at the merge %v and its first parent %v: want dev equal, prod different, qa empty", a, b)
	}
	if h, _ := tip.PathHash("envs/prod/p.yaml"); h != a[1] && h == "" {
		t.Errorf("PathHash of a file = %q", h)
	}
	files, err := tip.Files("envs/dev")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	var walked []string
	if err := fs.WalkDir(os.DirFS(work), "envs/dev", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			walked = append(walked, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(walked, paths); diff != "" || len(paths) != 3 {
		t.Errorf("Files order (-fs.WalkDir's +got):\n%s", diff)
	}
	if data, err := tip.ReadBlob(files[0].Blob); err != nil || string(data) != "x\n" {
		t.Errorf("ReadBlob = %q, %v", data, err)
	}
	if _, _, err := r.Commit(ctx, strings.Repeat("0", 40)); !errors.Is(err, ErrCommitNotFound) {
		t.Errorf("Commit of an unknown SHA: %v", err)
	}
}

func trailerValue(ts []Trailer, key string) string {
	if v := TrailerValues(ts, key); len(v) > 0 {
		return v[0]
	}
	return ""
}
