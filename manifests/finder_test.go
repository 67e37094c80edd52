package manifests_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/manifests"
)

// TestFinderIsFind: for each golden tree, a Finder made once gives what Find gives, run after
// run (and reading one file at a time gives what reading in parallel gives); and in a tree
// without kustomizations, what Find gives for the whole tree is what it
// gives for each file alone, in path order (IsKustomization's promise, which ferry history
// relies on to read each version of a file once).
func TestFinderIsFind(t *testing.T) {
	perFileChecked := 0
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			fsys := os.DirFS(filepath.Join("..", "testdata", "manifests", tc.name, "original"))
			// Find reads in parallel, the Finder one file at a time.
			opts := manifests.Options{FS: fsys, Path: tc.path, Images: tc.images, Environment: "dev", Readers: 3}
			want, err := manifests.Find(opts)
			if err != nil {
				t.Fatal(err)
			}
			f, err := manifests.NewFinder(manifests.Options{Path: tc.path, Images: tc.images, Environment: "dev"})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				got, err := f.Find(fsys)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Finder.Find (-Find +Finder):\n%s", diff)
				}
			}
			var perFile []manifests.Ref
			kust := false
			err = fs.WalkDir(fsys, tc.path, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				kust = kust || manifests.IsKustomization(p)
				data, err := fs.ReadFile(fsys, p)
				if err != nil {
					return err
				}
				refs, err := f.Find(fstest.MapFS{p: &fstest.MapFile{Data: data}})
				perFile = append(perFile, refs...)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !kust {
				perFileChecked++
				if diff := cmp.Diff(want, perFile); diff != "" {
					t.Errorf("file by file (-whole tree +each file alone):\n%s", diff)
				}
			}
		})
	}
	if perFileChecked < 3 {
		t.Errorf("only %d golden trees without kustomizations: the per-file property is barely checked", perFileChecked)
	}
}
