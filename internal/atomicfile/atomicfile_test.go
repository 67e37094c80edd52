package atomicfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/atomicfile"
)

const pod = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx:1.0\n"

// tree lays out dir/env/pod.yaml (mode 0600), dir/other/pod.yaml, an outside file and links
// to it from inside dir/env; it returns the outside file's path.
func tree(t *testing.T, dir string) string {
	t.Helper()
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	for _, p := range []string{outside, filepath.Join(dir, "other", "pod.yaml"), filepath.Join(dir, "env", "pod.yaml")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(pod), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "env", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(dir, "env", "linkdir")); err != nil {
		t.Fatal(err)
	}
	return outside
}

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir)
	if err := atomicfile.Replace(dir, []atomicfile.File{{Path: "env/pod.yaml", Old: []byte(pod), New: []byte("new\n"), Mode: 0o600}}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "env", "pod.yaml")
	if b, err := os.ReadFile(p); err != nil || string(b) != "new\n" {
		t.Errorf("content after write: %q, %v", b, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after write: %v, %v", fi, err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"link.yaml", "linkdir", "pod.yaml"}, names); diff != "" {
		t.Errorf("a temporary file was left (-want +got):\n%s", diff)
	}
}

func TestReplaceRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		file atomicfile.File
		want string
	}{
		{"outside the directory", atomicfile.File{Path: "../x.yaml", New: []byte("x")}, "not a path inside"},
		{"absolute", atomicfile.File{Path: "/etc/x.yaml", New: []byte("x")}, "not a path inside"},
		{"the directory itself", atomicfile.File{Path: ".", New: []byte("x")}, "not a path inside"},
		{"through a symlinked file", atomicfile.File{Path: "env/link.yaml", Old: []byte(pod), New: []byte("x")}, "not a regular file"},
		{"through a symlinked directory", atomicfile.File{Path: "env/linkdir/secret.yaml", Old: []byte(pod), New: []byte("x")}, "refusing to write"},
		{"a directory", atomicfile.File{Path: "env", New: []byte("x")}, "not a regular file"},
		{"missing", atomicfile.File{Path: "env/none.yaml", New: []byte("x")}, "refusing to write"},
		{"changed since planned", atomicfile.File{Path: "env/pod.yaml", Old: []byte("other"), New: []byte("x")}, "changed since the edit was planned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			outside := tree(t, dir)
			// A good file first: nothing is written when any file is refused.
			good := atomicfile.File{Path: "other/pod.yaml", Old: []byte(pod), New: []byte("x")}
			err := atomicfile.Replace(dir, []atomicfile.File{good, tc.file})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Replace: %v, want an error containing %q", err, tc.want)
			}
			for _, p := range []string{outside, filepath.Join(dir, "other", "pod.yaml"), filepath.Join(dir, "env", "pod.yaml")} {
				if b, _ := os.ReadFile(p); string(b) != pod {
					t.Errorf("%s was changed", p)
				}
			}
		})
	}
}

func TestReplaceNothing(t *testing.T) {
	if err := atomicfile.Replace(filepath.Join(t.TempDir(), "missing"), nil); err != nil {
		t.Errorf("Replace with no files: %v", err)
	}
}
