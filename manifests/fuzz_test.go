package manifests_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"

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
	f.Add([]byte("image:\n  repository: nginx\n  note: |+\n    kept\n\n# end\n"), uint8(0))
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

// FuzzEmbeddedValues: Helm values written as an Argo CD `helm.values` block scalar are
// rewritten exactly as the same values in a file of their own: the block's value afterwards
// is the file's new content, whatever its indentation, indicator and chomping.
func FuzzEmbeddedValues(f *testing.F) {
	for _, s := range []string{
		"image:\n  repository: ghcr.io/acme/api\n  tag: 1.0.0\n",
		"# values\nimage: ghcr.io/acme/api:1.0.0 # pinned\n\n\n",
		"  # deeper first line\nproxy:\n  image: {repository: nginx}",
		"a:\n  b:\n    image:\n      repository: nginx\n      digest: ''\n",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(3))
	}
	images := []manifests.Image{
		{Name: "api", Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA, Fields: []manifests.Field{{Path: "app.release.version", Part: "tag"}}},
		{Repository: "nginx", NewName: "ghcr.io/acme/nginx", Tag: "1.27"},
		{Repository: "redis", Tag: "7.4", Digest: digestB, Pin: manifests.PinTag},
	}
	f.Fuzz(func(t *testing.T, data []byte, indent uint8) {
		if bytes.ContainsAny(data, "\r\t\x00") || bytes.Contains(data, []byte("{{")) || !utf8.Valid(data) ||
			bytes.Contains(data, []byte("kind")) || bytes.ContainsRune(data, '\u0085') || bytes.ContainsRune(data, '\u2028') ||
			bytes.ContainsRune(data, '\u2029') || bytes.ContainsRune(data, '\ufeff') {
			return
		}
		app, ok := embedValues(data, int(indent%4)+1)
		if !ok {
			return
		}
		alone, err := manifests.Plan(manifests.Options{FS: fstest.MapFS{"values.yaml": {Data: data}}, Path: ".", Images: images})
		inApp, appErr := manifests.Plan(manifests.Options{FS: fstest.MapFS{"values.yaml": {Data: app}}, Path: ".", Images: images})
		if err != nil {
			if appErr == nil {
				t.Fatalf("values alone fail (%v) but not in the Application:\n%s", err, app)
			}
			return
		}
		if appErr != nil {
			t.Fatalf("values in the Application fail: %v\n%s", appErr, app)
		}
		want, got := data, app
		if len(alone.Files) > 0 {
			want = alone.Files[0].New
		}
		if len(inApp.Files) > 0 {
			got = inApp.Files[0].New
		}
		v, err := appValues(got)
		if err != nil {
			t.Fatalf("rewritten Application: %v\n%s", err, got)
		}
		if v != string(want) || len(alone.Changes) != len(inApp.Changes) {
			t.Fatalf("values in the Application rewritten as %q (%d changes), alone as %q (%d changes)\nApplication:\n%s",
				v, len(inApp.Changes), want, len(alone.Changes), got)
		}
	})
}

// embedValues writes data as the helm.values block scalar of an Application, its content
// indented by indent spaces under the key, with the header that makes the value data.
func embedValues(data []byte, indent int) ([]byte, bool) {
	s := string(data)
	header := "|"
	switch {
	case s == "" || strings.TrimLeft(s, "\n ") == "":
		return nil, false
	case !strings.HasSuffix(s, "\n"):
		header += "-"
	case strings.HasSuffix(s, "\n\n"):
		header += "+"
	}
	first := strings.TrimLeft(s, "\n")
	if strings.HasPrefix(first, " ") {
		header = "|" + strconv.Itoa(indent) + header[1:]
	}
	pad := strings.Repeat(" ", 6+indent)
	var b strings.Builder
	b.WriteString("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      values: " + header + "\n")
	for _, l := range strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n") {
		if strings.TrimRight(l, "\n") != "" {
			b.WriteString(pad)
		}
		b.WriteString(l)
	}
	b.WriteString("\n      releaseName: x\n")
	out := []byte(b.String())
	if v, err := appValues(out); err != nil || v != s {
		return nil, false
	}
	return out, true
}

func appValues(app []byte) (string, error) {
	var doc struct {
		Spec struct {
			Source struct {
				Helm struct {
					Values string `yaml:"values"`
				} `yaml:"helm"`
			} `yaml:"source"`
		} `yaml:"spec"`
	}
	err := yaml.Unmarshal(app, &doc)
	return doc.Spec.Source.Helm.Values, err
}

// FuzzOverlay: for any overlay over a base outside the path, the rewrite parses, adds the
// entries the base needs whatever ends the file (block scalars, comments, flow style), and a
// second run changes nothing.
func FuzzOverlay(f *testing.F) {
	_ = filepath.WalkDir(filepath.Join("..", "testdata", "manifests"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "kustomization.yaml" && filepath.Base(filepath.Dir(filepath.Dir(p))) == "overlays" &&
			strings.Contains(p, "original") {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	base, err := os.ReadFile(filepath.Join("..", "testdata", "manifests", "overlay-add", "original", "base", "deployment.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	images := []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}, {Repository: "nginx", Tag: "1.27"}}
	tree := func(k []byte) fstest.MapFS {
		return fstest.MapFS{
			"base/kustomization.yaml":         {Data: []byte("resources:\n- deployment.yaml\n")},
			"base/deployment.yaml":            {Data: base},
			"overlays/dev/kustomization.yaml": {Data: k},
		}
	}
	f.Fuzz(func(t *testing.T, k []byte) {
		opts := manifests.Options{FS: tree(k), Path: "overlays/dev", Images: images}
		e, err := manifests.Plan(opts)
		if err != nil || len(e.Files) == 0 {
			return
		}
		opts.FS = tree(e.Files[0].New)
		again, err := manifests.Plan(opts)
		if err != nil {
			t.Fatalf("second run fails: %v\ninput:\n%s\nfirst output:\n%s", err, k, e.Files[0].New)
		}
		if len(again.Files) != 0 {
			t.Fatalf("second run changes again:\n%s\ninput:\n%s", again.Diff(), k)
		}
	})
}

// TestOverlayAfterMultiLinePlainScalar: the images list an overlay needs goes after the whole
// of a multi-line plain scalar that ends the file, also when the scalar starts on the line
// after its dash, or continues less indented than it starts (the dashes' column bounds it),
// and the second run changes nothing. FuzzOverlay found the first: the list went in between
// the scalar's two lines.
func TestOverlayAfterMultiLinePlainScalar(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "testdata", "manifests", "overlay-add", "original", "base", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	images := []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}}
	for _, tc := range []struct{ name, tail, value string }{
		{"item on the line after its dash", "notes:\n  -\n   first\n   second\n", "first second"},
		{"continued less indented", "notes:\n  - first\n   second\n", "first second"},
		{"nested list", "notes:\n- - first\n  - second\n    third\n", "second third"},
		{"list at the key's column", "notes:\n- first\n second\n", "first second"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := "resources:\n- ../../base\n" + tc.tail
			fsys := fstest.MapFS{
				"base/kustomization.yaml":         {Data: []byte("resources:\n- deployment.yaml\n")},
				"base/deployment.yaml":            {Data: base},
				"overlays/dev/kustomization.yaml": {Data: []byte(k)},
			}
			opts := manifests.Options{FS: fsys, Path: "overlays/dev", Images: images}
			e, err := manifests.Plan(opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Files) != 1 {
				t.Fatalf("want the overlay changed, got %d files", len(e.Files))
			}
			out := string(e.Files[0].New)
			if !strings.HasPrefix(out, k+"images:\n") {
				t.Fatalf("images list not appended after the scalar:\n%s", out)
			}
			var doc struct {
				Notes []any `yaml:"notes"`
			}
			if err := yaml.Unmarshal(e.Files[0].New, &doc); err != nil {
				t.Fatal(err)
			}
			last := doc.Notes[len(doc.Notes)-1]
			if l, ok := last.([]any); ok {
				last = l[len(l)-1]
			}
			if last != tc.value {
				t.Errorf("last note = %q, want %q", last, tc.value)
			}
			fsys["overlays/dev/kustomization.yaml"] = &fstest.MapFile{Data: e.Files[0].New}
			again, err := manifests.Plan(opts)
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if len(again.Files) != 0 {
				t.Fatalf("second run changes again:\n%s", again.Diff())
			}
		})
	}
}

// TestFlowMappingFillsBeforeAdding: in a flow mapping whose last pair has an empty value, the
// value is filled in before the pairs added after it (both land at the same byte), so that
// the digest stays the digest's and the tag a tag. FuzzRewrite found it: the new tag pair
// went in between `digest:` and its value.
func TestFlowMappingFillsBeforeAdding(t *testing.T) {
	images := []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}}
	for in, want := range map[string]string{
		"image: {repository: ghcr.io/acme/api, digest: }\n": "image: {repository: ghcr.io/acme/api, digest: " + digestA + ", tag: 1.3.0 }\n",
		"image: {repository: ghcr.io/acme/api, tag: }":      "image: {repository: ghcr.io/acme/api, tag: 1.3.0@" + digestA + " }",
	} {
		opts := manifests.Options{FS: fstest.MapFS{"values.yaml": {Data: []byte(in)}}, Path: ".", Images: images}
		e, err := manifests.Plan(opts)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if len(e.Files) != 1 {
			t.Fatalf("%q: %d files changed, want 1", in, len(e.Files))
		}
		if got := string(e.Files[0].New); got != want {
			t.Fatalf("%q:\n got %q\nwant %q", in, got, want)
		}
		opts.FS = fstest.MapFS{"values.yaml": {Data: e.Files[0].New}}
		if again, err := manifests.Plan(opts); err != nil || len(again.Files) != 0 {
			t.Fatalf("%q: second run: %v, %d files", in, err, len(again.Files))
		}
	}
}
