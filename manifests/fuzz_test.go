package manifests_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/ferryhq/ferry/manifests"
)

var fuzzNames = []string{"values.yaml", "kustomization.yaml", "deploy.yaml"}

// FuzzRewrite: the rewriter never panics, its output parses (Plan checks that itself), and a
// second run over its output changes nothing.
func FuzzRewrite(f *testing.F) {
	_ = filepath.WalkDir(filepath.Join("..", "testdata", "manifests"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) != "expected" {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b, uint8(len(p)))
			}
		}
		return nil
	})
	images := []manifests.Image{
		{Name: "api", Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA, Markers: []string{"flux-system:api"},
			Fields: []manifests.Field{{Path: "app.release.version", Part: "tag"}}},
		{Repository: "nginx", NewName: "ghcr.io/acme/nginx", Tag: "1.27"},
		{Repository: "localhost:5000/tools/job", Digest: digestB, Pin: manifests.PinDigest},
		{Repository: "redis", Tag: "7.4", Digest: digestB, Pin: manifests.PinTag},
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		name := fuzzNames[int(which)%len(fuzzNames)]
		opts := manifests.Options{FS: fstest.MapFS{name: {Data: data}}, Path: ".", Images: images}
		e, err := manifests.Plan(opts)
		if err != nil {
			return
		}
		if len(e.Files) == 0 {
			return
		}
		opts.FS = fstest.MapFS{name: {Data: e.Files[0].New}}
		again, err := manifests.Plan(opts)
		if err != nil {
			t.Fatalf("second run fails: %v\ninput:\n%s\nfirst output:\n%s", err, data, e.Files[0].New)
		}
		if len(again.Files) != 0 {
			t.Fatalf("second run changes again:\n%s\ninput:\n%s", again.Diff(), data)
		}
	})
}
