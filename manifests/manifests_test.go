package manifests_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/atomicfile"
	"github.com/ferryhq/ferry/internal/testenv"
	"github.com/ferryhq/ferry/manifests"
)

func TestParseImageArg(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want manifests.Image
		err  string
	}{
		{in: "nginx:1.27", want: manifests.Image{Repository: "nginx", Tag: "1.27"}},
		{in: "ghcr.io/acme/api@" + digestA, want: manifests.Image{Repository: "ghcr.io/acme/api", Digest: digestA}},
		{in: "ghcr.io/acme/api:1.4.2@" + digestA, want: manifests.Image{Repository: "ghcr.io/acme/api", Tag: "1.4.2", Digest: digestA}},
		{in: "localhost:5000/app:v2", want: manifests.Image{Repository: "localhost:5000/app", Tag: "v2"}},
		{in: "nginx=ghcr.io/acme/nginx", want: manifests.Image{Repository: "nginx", NewName: "ghcr.io/acme/nginx"}},
		{in: "nginx=registry.local:5000/nginx:1.27@" + digestB, want: manifests.Image{Repository: "nginx", NewName: "registry.local:5000/nginx", Tag: "1.27", Digest: digestB}},
		{in: "", err: "empty"},
		{in: "nginx", err: "sets nothing"},
		{in: "nginx:", err: "empty tag"},
		{in: "nginx@sha256:abc", err: "digest"},
		{in: "Nginx:1.0", err: "not a valid repository"},
		{in: "nginx:bad/tag", err: "not a valid repository"},
		{in: "nginx=", err: "nothing after"},
		{in: "nginx:1.0=other:2", err: "bare repository"},
		{in: "nginx:1 2", err: "white space"},
		{in: "nginx:-x", err: "tag"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := manifests.ParseImageArg(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, manifests.ErrBadImageArg) {
					t.Fatalf("ParseImageArg(%q) = %+v, %v; want error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseImageArg(f *testing.F) {
	for _, s := range []string{"nginx:1.27", "a=b:c@" + digestA, "localhost:5000/x", "x@y", "=", "a:b:c", "ghcr.io/a/b:1@sha256:" + strings.Repeat("f", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		img, err := manifests.ParseImageArg(s)
		if err != nil {
			return
		}
		// A parsed argument is usable by Plan.
		_, err = manifests.Plan(manifests.Options{FS: fstest.MapFS{"k.yaml": {Data: []byte("image: x\n")}}, Path: ".", Images: []manifests.Image{img}})
		if err != nil {
			t.Fatalf("ParseImageArg(%q) = %+v, but Plan refuses it: %v", s, img, err)
		}
	})
}

func TestPlanErrors(t *testing.T) {
	api := []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "1.3.0"}}
	for _, tc := range []struct {
		name   string
		files  fstest.MapFS
		path   string
		images []manifests.Image
		err    string
	}{
		{
			name:   "invalid YAML mentioning the repository names file and line",
			files:  fstest.MapFS{"env/a.yaml": {Data: []byte("ok: 1\nimage: ghcr.io/acme/api:1.0\n  bad: [\n")}},
			path:   "env",
			images: api,
			err:    "env/a.yaml:3: invalid YAML",
		},
		{
			name:   "missing path",
			files:  fstest.MapFS{"a.yaml": {Data: []byte("x: 1\n")}},
			path:   "nope",
			images: api,
			err:    "environment path nope",
		},
		{
			name:   "path escaping the tree",
			files:  fstest.MapFS{},
			path:   "../x",
			images: api,
			err:    "environment path",
		},
		{
			name:   "same repository twice",
			files:  fstest.MapFS{},
			path:   ".",
			images: []manifests.Image{{Repository: "nginx", Tag: "1"}, {Repository: "docker.io/library/nginx", Tag: "2"}},
			err:    "same repository",
		},
		{
			name:   "pin digest without a digest",
			files:  fstest.MapFS{},
			path:   ".",
			images: []manifests.Image{{Repository: "nginx", Tag: "1", Pin: manifests.PinDigest}},
			err:    "pin digest needs a digest",
		},
		{
			name:   "block scalar",
			files:  fstest.MapFS{"a.yaml": {Data: []byte("image: >-\n  ghcr.io/acme/api:1.0\n")}},
			path:   ".",
			images: api,
			err:    "a.yaml:1: cannot rewrite",
		},
		{
			name: "invalid YAML in an Argo CD values string names the file's line",
			files: fstest.MapFS{"app.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n" +
				"      values: |\n        image: ghcr.io/acme/api:1.0\n        bad: [\n      releaseName: x\n")}},
			path:   ".",
			images: api,
			err:    "app.yaml:8: invalid YAML",
		},
		{
			name: "Argo CD values in a folded string",
			files: fstest.MapFS{"app.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n" +
				"      values: >\n        image: ghcr.io/acme/api:1.0\n")}},
			path:   ".",
			images: api,
			err:    "app.yaml:6: cannot rewrite this value in place: Helm values in a string that is not a literal block scalar",
		},
		{
			name:   "pin digest into a Helm map with no digest key",
			files:  fstest.MapFS{"values.yaml": {Data: []byte("image:\n  repository: ghcr.io/acme/api\n  tag: 1.0\n")}},
			path:   ".",
			images: []manifests.Image{{Repository: "ghcr.io/acme/api", Digest: digestA, Pin: manifests.PinDigest}},
			err:    "no digest key",
		},
		{
			name:   "bad field part",
			files:  fstest.MapFS{},
			path:   ".",
			images: []manifests.Image{{Repository: "nginx", Tag: "1", Fields: []manifests.Field{{Path: "a.b", Part: "version"}}}},
			err:    `part "version"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One file at a time, and read and parsed in parallel (a file that does not parse
			// there is left for the walk): the same error either way.
			for _, readers := range []int{0, 4} {
				e, err := manifests.Plan(manifests.Options{FS: tc.files, Path: tc.path, Images: tc.images, Readers: readers})
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Plan with %d readers = %+v, %v; want error containing %q", readers, e, err, tc.err)
				}
			}
		})
	}
}

func TestPlanSkips(t *testing.T) {
	files := fstest.MapFS{
		// Invalid YAML that does not mention the image: never parsed.
		"broken.yaml": {Data: []byte("a: [\n")},
		// A Helm template mentioning it: skipped.
		"chart/templates/d.yaml": {Data: []byte("image: ghcr.io/acme/api:{{ .Values.tag }}\n  {{- if x }}\n")},
		// Not YAML.
		"notes.txt": {Data: []byte("image: ghcr.io/acme/api:1.0\n")},
		// A Helm-style template-looking value in a valid YAML file is not a reference.
		"values.yaml": {Data: []byte("image: \"ghcr.io/acme/api:{{ .Values.tag }}\"\n")},
		// An ApplicationSet whose values string is a template that is not YAML: skipped.
		"appset.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nspec:\n  template:\n    spec:\n      source:\n" +
			"        helm:\n          values: |\n            image: ghcr.io/acme/api:1.0\n            {{- if .debug }}\n            debug: true\n            {{- end }}\n")},
	}
	for _, readers := range []int{0, 4} {
		e, err := manifests.Plan(manifests.Options{FS: files, Path: ".", Images: []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "2.0"}}, Readers: readers})
		if err != nil {
			t.Fatalf("%d readers: %v", readers, err)
		}
		if len(e.Files) != 0 || len(e.Changes) != 0 {
			t.Fatalf("%d readers: want no edit, got %v", readers, e.Changes)
		}
	}
}

func TestNothingWrittenOutsidePath(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pod := "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx:1.0\n"
	write(outside, pod)
	write(filepath.Join(tmp, "other", "pod.yaml"), pod)
	write(filepath.Join(tmp, "env", "pod.yaml"), pod)
	if err := os.Symlink(outside, filepath.Join(tmp, "env", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(tmp, "env", "linkdir")); err != nil {
		t.Fatal(err)
	}
	e, err := manifests.Plan(manifests.Options{FS: os.DirFS(tmp), Path: "env", Images: []manifests.Image{{Repository: "nginx", Tag: "1.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range e.Files {
		paths = append(paths, f.Path)
	}
	if diff := cmp.Diff([]string{"env/pod.yaml"}, paths); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	if e.Files[0].Mode != 0o600 {
		t.Errorf("mode %v, want 0600", e.Files[0].Mode)
	}
	if err := writeEdit(tmp, e); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(tmp, "env", "pod.yaml"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after write: %v, %v", fi, err)
	}
	for _, p := range []string{outside, filepath.Join(tmp, "other", "pod.yaml")} {
		if b, _ := os.ReadFile(p); string(b) != pod {
			t.Errorf("%s was changed", p)
		}
	}
	// What the writer refuses (escaping paths, symlinks, files changed since planning) is
	// tested in internal/atomicfile.
}

// writeEdit writes e's files under dir, the FS root on disk, the way ferry set-image does.
func writeEdit(dir string, e *manifests.Edit) error {
	files := make([]atomicfile.File, len(e.Files))
	for i, f := range e.Files {
		files[i] = atomicfile.File(f)
	}
	return atomicfile.Replace(dir, files)
}

func TestFind(t *testing.T) {
	dir := filepath.Join("..", "testdata", "manifests")
	for _, tc := range []struct {
		name, tree, path string
		images           []manifests.Image
		want             []manifests.Ref
	}{
		{
			name: "overlay entry overrides the workload", tree: "kustomize-entries/original", path: ".",
			images: []manifests.Image{{Name: "api", Repository: "ghcr.io/acme/api"}},
			want: []manifests.Ref{{Image: "api", File: "kustomization.yaml", Line: 9, Field: "images[0]", Repository: "ghcr.io/acme/api", Tag: "1.2.0",
				Digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"}},
		},
		{
			name: "base outside the path", tree: "overlay-add/original", path: "overlays/dev",
			images: []manifests.Image{{Repository: "nginx"}},
			want:   []manifests.Ref{{Image: "nginx", File: "base/deployment.yaml", Line: 12, Field: "spec.template.spec.containers[1].image", Repository: "docker.io/library/nginx", Tag: "1.25"}},
		},
		{
			name: "base renamed by its kustomization, tag from the overlay", tree: "overlay-append/original", path: "overlays/dev",
			images: []manifests.Image{{Repository: "ghcr.io/acme/api"}, {Repository: "redis"}},
			want: []manifests.Ref{
				{Image: "ghcr.io/acme/api", File: "base/kustomization.yaml", Line: 4, Field: "images[0]", Repository: "ghcr.io/acme/api", Tag: "latest"},
				{Image: "redis", File: "overlays/dev/kustomization.yaml", Line: 4, Field: "images[0]", Repository: "redis", Tag: "7.2"},
			},
		},
		{
			name: "a component outside the path pins the base's tag", tree: "kustomize-components/original", path: "envs/dev",
			images: []manifests.Image{{Repository: "ghcr.io/acme/api"}},
			want: []manifests.Ref{
				{Image: "ghcr.io/acme/api", File: "components/pin/kustomization.yaml", Line: 5, Field: "images[0]", Repository: "ghcr.io/acme/api", Tag: "1.1.0"},
				{Image: "ghcr.io/acme/api", File: "envs/dev/chart/kustomization.yaml", Line: 12, Field: "helmCharts[0].valuesInline.image", Repository: "ghcr.io/acme/api", Tag: "1.0.0"},
			},
		},
		{
			name: "Argo CD sources", tree: "argo/original", path: ".",
			images: []manifests.Image{{Repository: "nginx"}},
			want: []manifests.Ref{
				{Image: "nginx", File: "apps/kustomize.yaml", Line: 12, Field: "spec.source.kustomize.images[1]", Repository: "mirror.local/nginx", Tag: "1.25"},
				{Image: "nginx", File: "apps/kustomize.yaml", Line: 14, Field: "spec.source.kustomize.images[3]", Repository: "nginx", Digest: digestB},
				{Image: "nginx", File: "apps/parameters.yaml", Line: 23, Field: "spec.source.helm.parameters.proxy", Repository: "docker.io/library/nginx", Tag: "1.25"},
				{Image: "nginx", File: "apps/parameters.yaml", Line: 31, Field: "spec.source.helm.parameters.sidecar", Repository: "nginx"},
				{Image: "nginx", File: "apps/values-object.yaml", Line: 21, Field: "spec.source.helm.valuesObject.proxy.image", Repository: "nginx", Tag: "1.25"},
				{Image: "nginx", File: "apps/values-string.yaml", Line: 17, Field: "spec.sources[0].helm.values.proxy.image", Repository: "docker.io/library/nginx", Tag: "1.25"},
			},
		},
		{
			name: "helm values and markers", tree: "markers/original", path: ".",
			images: []manifests.Image{{Name: "api", Repository: "ghcr.io/acme/api", Markers: []string{"flux-system:api"}}},
			want: []manifests.Ref{
				{Image: "api", File: "config.yaml", Line: 7, Field: "data.API_IMAGE", Repository: "registry.example.com/old/api", Tag: "0.9"},
				{Image: "api", File: "config.yaml", Line: 8, Field: "data.API_VERSION", Tag: "0.9"},
				{Image: "api", File: "release.yaml", Line: 8, Field: "spec.values.image.repository", Repository: "ghcr.io/acme/api"},
				{Image: "api", File: "release.yaml", Line: 9, Field: "spec.values.image.tag", Tag: "1.2.0"},
				{Image: "api", File: "release.yaml", Line: 10, Field: "spec.values.image.digest"},
				{Image: "api", File: "release.yaml", Line: 12, Field: "spec.values.legacy.image", Repository: "ghcr.io/acme/api", Tag: "1.1.0"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := manifests.Find(manifests.Options{FS: os.DirFS(filepath.Join(dir, tc.tree)), Path: tc.path, Images: tc.images})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestFindValuesUnderKustomize: an Argo CD Application that a kustomization includes (app of
// apps) still reports its values: kustomize's images transformer sets containers only.
func TestFindValuesUnderKustomize(t *testing.T) {
	fsys := fstest.MapFS{
		"kustomization.yaml": {Data: []byte("resources:\n- app.yaml\n- deploy.yaml\nimages:\n- name: nginx\n  newTag: \"1.27\"\n")},
		"app.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n" +
			"      valuesObject:\n        image: nginx:1.25\n")},
		"deploy.yaml": {Data: []byte("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: web\n    image: nginx:1.0\n")},
	}
	got, err := manifests.Find(manifests.Options{FS: fsys, Path: ".", Images: []manifests.Image{{Repository: "nginx"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []manifests.Ref{
		{Image: "nginx", File: "app.yaml", Line: 7, Field: "spec.source.helm.valuesObject.image", Repository: "nginx", Tag: "1.25"},
		{Image: "nginx", File: "kustomization.yaml", Line: 5, Field: "images[0]", Repository: "nginx", Tag: "1.27"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestKustomizeBuild proves the rewritten overlays stay valid for kustomize and produce the
// wanted images.
func TestKustomizeBuild(t *testing.T) {
	kustomize := testenv.Tool(t, "kustomize")
	for _, tc := range []struct {
		tree, path string
		images     []manifests.Image
		want       []string
	}{
		{"overlay-add", "overlays/dev", []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}, {Repository: "nginx", Tag: "1.27"}},
			[]string{"image: ghcr.io/acme/api:1.3.0@" + digestA, "image: docker.io/library/nginx:1.27"}},
		{"overlay-append", "overlays/dev", []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}},
			[]string{"image: ghcr.io/acme/api:1.3.0@" + digestA, "image: redis:7.2"}},
		{"kustomize-newname", ".", []manifests.Image{mustArg(t, "nginx=ghcr.io/acme/nginx:1.27.0"), {Repository: "busybox", Digest: digestB, Pin: manifests.PinDigest}},
			[]string{"image: ghcr.io/acme/nginx:1.27.0", "image: busybox@" + digestB}},
		{"kustomize-entries", ".", []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}},
			[]string{"image: ghcr.io/acme/api:1.3.0@" + digestA, "image: nginx:1.25.0"}},
		// Inline JSON 6902 patches (block scalars) end both overlays.
		{"overlay-patch", "overlays/dev", []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}, {Repository: "nginx", Tag: "1.27"}},
			[]string{"image: ghcr.io/acme/api:1.3.0@" + digestA, "image: docker.io/library/nginx:1.27", "name: api-dev"}},
		{"overlay-patch", "overlays/prod", []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}, {Repository: "nginx", Tag: "1.27"}},
			[]string{"image: ghcr.io/acme/api:1.3.0@" + digestA, "image: docker.io/library/nginx:1.27", "replicas: 3", "tier: prod"}},
		{"kustomize-components", "envs/dev", []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}, {Repository: "nginx", Tag: "1.27"}},
			[]string{"image: ghcr.io/acme/api:1.3.0@" + digestA, "image: mirror.local/nginx:1.27"}},
		// The tree `make demo` uses.
		{"examples/demo", "envs/dev", []manifests.Image{
			{Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}, {Repository: "nginx", Tag: "1.27"},
			{Repository: "ghcr.io/acme/worker", Tag: "1.0.0", Markers: []string{"worker"}},
		}, []string{"image: ghcr.io/acme/api:1.3.0@" + digestA, "image: nginx:1.27", "image: ghcr.io/acme/worker:1.0.0"}},
	} {
		t.Run(tc.tree, func(t *testing.T) {
			tmp := t.TempDir()
			src := filepath.Join("..", "testdata", "manifests", tc.tree, "original")
			if strings.HasPrefix(tc.tree, "examples/") {
				src = filepath.Join("..", tc.tree)
			}
			copyTree(t, src, tmp)
			e, err := manifests.Plan(manifests.Options{FS: os.DirFS(tmp), Path: tc.path, Images: tc.images})
			if err != nil {
				t.Fatal(err)
			}
			if err := writeEdit(tmp, e); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(kustomize, "build", filepath.Join(tmp, tc.path)).CombinedOutput()
			if err != nil {
				t.Fatalf("kustomize build: %v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("kustomize build output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
