package manifests

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// screenImages cover a registry with a port, Docker Hub's short names and a path of three
// segments, for FuzzScreen and TestScreen.
var screenImages = []Image{
	{Name: "api", Repository: "ghcr.io/acme/api", Tag: "1.3.0", Markers: []string{"flux-system:api"}},
	{Repository: "nginx", NewName: "ghcr.io/acme/nginx", Tag: "1.27"},
	{Repository: "localhost:5000/tools/job", Tag: "2.1"},
	{Repository: "registry.example.com/team/web/frontend", Tag: "3"},
}

// fullFinds runs every rule over data as the file name (parsed whatever the screen says),
// in Find and in Plan mode, and returns what they found or planned.
func fullFinds(t *testing.T, name string, data []byte) (refs []Ref, changes []Change) {
	t.Helper()
	for _, find := range []bool{true, false} {
		r, err := newRun(Options{FS: fstest.MapFS{name: {Data: data}}, Path: ".", Images: screenImages}, find)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parseYAML(name, data)
		if err != nil {
			return nil, nil
		}
		fc := newFileCtx(r, f, isKustomization(name))
		_ = fc.process()
		refs, changes = append(refs, fc.refs...), append(changes, fc.changes...)
	}
	return refs, changes
}

func TestScreen(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       bool
	}{
		{"values.yaml", "image: ghcr.io/acme/api:1.0\n", true},
		{"values.yaml", "image:\n  registry: ghcr.io/acme\n  repository: api\n  tag: 1.0\n", true},
		{"values.yaml", "image:\n  registry: registry.example.com/team\n  repository: web/frontend\n", true},
		{"values.yaml", `image: "ghcr.io/acme/\u0061pi:1.0"` + "\n", true},
		{"deploy.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: x\n    image: ghcr.io/acme/api-gateway:1\n", false},
		{"values.yaml", "image: ghcr.io/acme/api/v2:1.0\n", false},
		{"values.yaml", "image: docker.io/library/nginx\n", true},
		{"values.yaml", "image: nginx-unprivileged:1\n", false},
		{"kustomization.yaml", "images:\n- name: localhost:5000/tools/job\n  newTag: '2'\n", true},
		{"values.yaml", "version: 1 # {\"$ferry\": \"api:tag\"}\n", true},
	} {
		t.Run(tc.data, func(t *testing.T) {
			r, err := newRun(Options{FS: fstest.MapFS{}, Images: screenImages}, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, min := range []int{len(screenImages) + 1, 0} { // a search per screen, then the index
				r.indexScreens(min)
				if got := r.screen([]byte(tc.data)); got != tc.want {
					t.Errorf("screen (index from %d screens) = %v, want %v", min, got, tc.want)
				}
			}
			if refs, _ := fullFinds(t, tc.name, []byte(tc.data)); tc.want != (len(refs) > 0) {
				t.Errorf("the full parse finds %v; the case should say so", refs)
			}
		})
	}
}

// FuzzScreen: for any file, when the byte screen says no, the full parse and every rule
// find nothing (so skipping the file loses nothing); and the screen index says what a search
// per screen says.
func FuzzScreen(f *testing.F) {
	_ = filepath.WalkDir(filepath.Join("..", "testdata", "manifests"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b, uint8(len(p)))
			}
		}
		return nil
	})
	f.Add([]byte("image:\n  registry: ghcr.io/acme\n  repository: api\n"), uint8(0))
	names := []string{"values.yaml", "kustomization.yaml", "app.yaml"}
	r, err := newRun(Options{FS: fstest.MapFS{}, Images: screenImages}, true)
	if err != nil {
		f.Fatal(err)
	}
	indexed, err := newRun(Options{FS: fstest.MapFS{}, Images: screenImages}, true)
	if err != nil {
		f.Fatal(err)
	}
	indexed.indexScreens(0)
	r.indexScreens(len(screenImages) + 1)
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		if a, b := r.screen(data), indexed.screen(data); a != b {
			t.Fatalf("a search per screen says %v, the index %v:\n%s", a, b, data)
		}
		if r.screen(data) {
			return
		}
		name := names[int(which)%len(names)]
		if refs, changes := fullFinds(t, name, data); len(refs) > 0 || len(changes) > 0 {
			t.Fatalf("the screen skips a file in which the full parse finds %v %v:\n%s", refs, changes, data)
		}
	})
}
