package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
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

// TestSnapshotFSConcurrent: a Snapshot's FS read from many goroutines at once (as manifests
// reads an environment, a file per core) gives every file's content, on a whole clone and on
// a partial one that fetches blobs as they are read; under -race, object-store reads that do
// not take turns are a failure.
func TestSnapshotFSConcurrent(t *testing.T) {
	files := bigSeed()
	whole := open(t, newBare(t, files), Options{})
	_, url, _ := partialServer(t, files)
	partial := open(t, url, Options{Auth: Auth{Token: sentinelToken}})
	if !partial.partial {
		t.Fatal("the second clone is not partial")
	}
	for name, r := range map[string]*Repo{"whole": whole, "partial": partial} {
		t.Run(name, func(t *testing.T) {
			tip, err := r.Tip(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			fsys := tip.FS()
			paths := sortedKeys(files)
			const workers = 8
			errs := make(chan error, workers)
			for w := range workers {
				go func() {
					for i := w; i < len(paths); i += workers {
						p := paths[i]
						var b []byte
						var err error
						if i%2 == 0 {
							b, err = fs.ReadFile(fsys, p)
						} else {
							b, err = fs.ReadFile(struct{ fs.FS }{fsys}, p) // Open, Stat, Read
						}
						if err == nil && string(b) != files[p] {
							err = fmt.Errorf("%s read %q, want %q", p, b, files[p])
						}
						if err == nil {
							_, err = fs.ReadDir(fsys, path.Dir(p))
						}
						if err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range workers {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}
