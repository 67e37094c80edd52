package manifests

import (
	"testing"
	"testing/fstest"
)

// Plan after Find over the same tree, through one cache, parses nothing again; a file whose
// bytes changed is parsed anew and kept beside the old version.
func TestParseCacheHits(t *testing.T) {
	dep := func(tag string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: ghcr.io/acme/api:" + tag + "\n")}
	}
	other := &fstest.MapFile{Data: []byte("apiVersion: v1\nkind: ConfigMap\n")}
	img := Image{Name: "api", Repository: "ghcr.io/acme/api", Tag: "1.3.0"}
	var c ParseCache
	size := func() int {
		n := 0
		for _, fs := range c.m {
			n += len(fs)
		}
		return n
	}
	tree := fstest.MapFS{"a.yaml": dep("1.0.0"), "b.yaml": dep("1.1.0"), "c.yaml": other}
	if _, err := Find(Options{FS: tree, Path: ".", Images: []Image{{Name: "api", Repository: img.Repository}}, Parsed: &c}); err != nil {
		t.Fatal(err)
	}
	if got := size(); got != 2 { // c.yaml names no wanted image: screened out, never parsed
		t.Fatalf("after Find: %d files cached, want 2", got)
	}
	e, err := Plan(Options{FS: tree, Path: ".", Images: []Image{img}, Parsed: &c})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Files) != 2 || size() != 2 {
		t.Fatalf("after Plan: %d files changed and %d cached, want 2 and 2", len(e.Files), size())
	}
	tree["a.yaml"] = &fstest.MapFile{Data: e.Files[0].New}
	e, err = Plan(Options{FS: tree, Path: ".", Images: []Image{img}, Parsed: &c})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Files) != 1 || e.Files[0].Path != "b.yaml" || size() != 3 {
		t.Fatalf("after Plan on a changed tree: files %v and %d cached, want b.yaml and 3", e.Files, size())
	}
}
