package gitrepo

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A temporary clone keeps the commits it makes in memory, not as loose object files, and
// builds on them as on fetched objects: the next Apply reads the tip they make, a lost race
// fetches the other writer's commit on top of them, and History walks through them.
func TestCloneKeepsWrittenObjectsInMemory(t *testing.T) {
	bare := newBare(t, seed)
	r := open(t, bare, Options{})
	ctx := context.Background()
	bumpTo := func(tag, msg string, race bool) Intent {
		return func(ctx context.Context, tip fs.FS) (*Change, error) {
			b, err := fs.ReadFile(tip, "envs/prod/deploy.yaml")
			if err != nil {
				return nil, err
			}
			if race {
				race = false
				pushFromClone(t, bare, "main", map[string]string{"README.md": "config, by hand\n"}, "human: readme")
			}
			old, _, _ := strings.Cut(string(b), "\n")
			return &Change{Files: map[string][]byte{"envs/prod/deploy.yaml": []byte(strings.Replace(string(b), old, "image: api:"+tag, 1))}, Message: msg}, nil
		}
	}
	for _, step := range []struct {
		tag, msg string
		race     bool
	}{{"1.1.0", "prod: api 1.1.0", false}, {"1.2.0", "prod: api 1.2.0", false}, {"1.3.0", "prod: api 1.3.0", true}} {
		if _, err := r.Apply(ctx, bumpTo(step.tag, step.msg, step.race)); err != nil {
			t.Fatalf("%s: %v", step.msg, err)
		}
	}
	loose, err := filepath.Glob(filepath.Join(r.tmpDir, "objects", "??", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(loose) > 0 {
		t.Errorf("the clone wrote loose objects: %v", loose)
	}
	tip, err := r.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tip.ReadFile("envs/prod/deploy.yaml"); err != nil || string(got) != "image: api:1.3.0\n" {
		t.Errorf("tip's deploy.yaml = %q, %v", got, err)
	}
	hist, err := r.History(ctx, HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, e := range hist {
		subjects = append(subjects, e.Subject)
	}
	want := []string{"prod: api 1.3.0", "human: readme", "prod: api 1.2.0", "prod: api 1.1.0", "seed"}
	if diff := cmp.Diff(want, subjects); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if got := git(t, bare, "show", "main:envs/prod/deploy.yaml"); got != "image: api:1.3.0" {
		t.Errorf("remote deploy.yaml = %q", got)
	}
	assertNoForcePush(t, bare, "main")
}
