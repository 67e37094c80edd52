package manifests_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/manifests"
)

var update = flag.Bool("update", false, "rewrite the expected trees and changes.json of the golden tests")

const (
	digestA = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	digestB = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

func mustArg(t *testing.T, s string) manifests.Image {
	t.Helper()
	img, err := manifests.ParseImageArg(s)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// goldenCase is testdata/manifests/<name>/{original,expected,changes.json}, planned at path.
type goldenCase struct {
	name, path string
	images     []manifests.Image
}

func goldenCases(t *testing.T) []goldenCase {
	api := manifests.Image{Name: "api", Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA}
	return []goldenCase{
		{"kustomize-entries", ".", []manifests.Image{api, {Repository: "docker.io/library/nginx", Tag: "1.27.0"}}},
		{"overlay-add", "overlays/dev", []manifests.Image{api, {Repository: "nginx", Tag: "1.27"}}},
		{"overlay-inpath", ".", []manifests.Image{api, {Repository: "nginx", Tag: "1.27"}}},
		{"overlay-append", "overlays/dev", []manifests.Image{api}},
		{"kustomize-newname", ".", []manifests.Image{
			mustArg(t, "nginx=ghcr.io/acme/nginx:1.27.0"),
			{Repository: "busybox", Tag: "1.37", Digest: digestB, Pin: manifests.PinDigest},
		}},
		{"workloads", ".", []manifests.Image{
			{Repository: "index.docker.io/library/nginx", Tag: "1.27.0", Digest: digestB},
			{Repository: "localhost:5000/tools/job", Tag: "2.1", Digest: digestA, Pin: manifests.PinTag},
		}},
		{"helm-values", ".", []manifests.Image{api, {Repository: "nginx", Tag: "1.27", Digest: digestB}}},
		{"markers", ".", []manifests.Image{{Name: "api", Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA, Pin: manifests.PinTag, Markers: []string{"flux-system:api"}}}},
		{"fields", ".", []manifests.Image{{Name: "api", Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA, Fields: []manifests.Field{
			{Path: "app.release.version", Part: "tag", Files: "values*.yaml"},
			{Path: "app.images[1].digest", Part: "digest"},
		}}}},
		{"preserve", ".", []manifests.Image{api}},
		{"argo", ".", []manifests.Image{
			{Name: "api", Repository: "ghcr.io/acme/api", Tag: "1.3.0", Digest: digestA, Fields: []manifests.Field{{Path: "api.version", Part: "tag"}}},
			{Repository: "nginx", Tag: "1.27"},
		}},
		{"kustomize-components", "envs/dev", []manifests.Image{api, {Repository: "nginx", Tag: "1.27"}}},
		{"overlay-patch", "overlays", []manifests.Image{api, {Repository: "nginx", Tag: "1.27"}}},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "manifests", tc.name)
			tmp := t.TempDir()
			copyTree(t, filepath.Join(dir, "original"), tmp)
			// Read in parallel here and one file at a time for the second run.
			opts := manifests.Options{FS: os.DirFS(tmp), Path: tc.path, Images: tc.images, Environment: "dev", Readers: 3}
			e, err := manifests.Plan(opts)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if err := writeEdit(tmp, e); err != nil {
				t.Fatalf("Write: %v", err)
			}
			gotChanges, _ := json.MarshalIndent(e.Changes, "", "  ")
			gotChanges = append(gotChanges, '\n')
			if *update {
				_ = os.RemoveAll(filepath.Join(dir, "expected"))
				copyTree(t, tmp, filepath.Join(dir, "expected"))
				if err := os.WriteFile(filepath.Join(dir, "changes.json"), gotChanges, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(readTree(t, filepath.Join(dir, "expected")), readTree(t, tmp)); diff != "" {
				t.Errorf("rewritten tree (-want +got):\n%s", diff)
			}
			var want []manifests.Change
			raw, err := os.ReadFile(filepath.Join(dir, "changes.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, e.Changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			// Only changed files are in the edit, and the diff covers exactly them.
			for _, f := range e.Files {
				if bytes.Equal(f.Old, f.New) {
					t.Errorf("%s is in the edit but does not change", f.Path)
				}
				if !strings.Contains(e.Diff(), "+++ b/"+f.Path+"\n") {
					t.Errorf("diff does not cover %s", f.Path)
				}
			}
			// A second run changes nothing.
			opts.Readers = 0
			again, err := manifests.Plan(opts)
			if err != nil {
				t.Fatalf("second Plan: %v", err)
			}
			if len(again.Files) != 0 || len(again.Changes) != 0 {
				t.Errorf("second run is not a no-op: %v\n%s", again.Changes, again.Diff())
			}
		})
	}
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readTree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
