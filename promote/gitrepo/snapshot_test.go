package gitrepo

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestSnapshotFS(t *testing.T) {
	bare := newBare(t, seed)
	r := open(t, bare, Options{})
	tip, err := r.Tip(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tip.SHA() != git(t, bare, "rev-parse", "main") {
		t.Errorf("Tip = %s", tip.SHA())
	}
	fsys := tip.FS()
	if err := fstest.TestFS(fsys, sortedKeys(seed)...); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		got[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seed, got); diff != "" {
		t.Errorf("tree content (-want +got):\n%s", diff)
	}
	for _, p := range []string{"missing", "envs/missing/x", "README.md/x"} {
		if _, err := fs.Stat(fsys, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%s) = %v, want ErrNotExist", p, err)
		}
	}
	if _, err := fsys.Open("../x"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Open(../x) = %v, want ErrInvalid", err)
	}
}
