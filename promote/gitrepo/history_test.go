package gitrepo

import (
	"context"
	"fmt"
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
