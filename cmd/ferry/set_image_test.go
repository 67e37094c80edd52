package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, s := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const podYAML = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: ghcr.io/acme/api:1.0.0 # keep me\n"

func TestSetImage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string
		args     []string // after "set-image --path <tmp>/env"
		code     int
		stdout   []string // substrings
		stderr   string
		want     map[string]string // file contents afterwards (relative to tmp)
		unchange []string
	}{
		{
			name:   "rewrite with text output",
			files:  map[string]string{"env/pod.yaml": podYAML},
			args:   []string{"ghcr.io/acme/api:1.1.0"},
			stdout: []string{"env/pod.yaml:8 spec.containers[0].image: ghcr.io/acme/api:1.0.0 -> ghcr.io/acme/api:1.1.0\n"},
			want:   map[string]string{"env/pod.yaml": strings.Replace(podYAML, "1.0.0", "1.1.0", 1)},
		},
		{
			name:     "dry run prints the diff and writes nothing",
			files:    map[string]string{"env/pod.yaml": podYAML},
			args:     []string{"--dry-run", "ghcr.io/acme/api:1.1.0"},
			stdout:   []string{"--- a/", "env/pod.yaml\n", "-    image: ghcr.io/acme/api:1.0.0 # keep me\n+    image: ghcr.io/acme/api:1.1.0 # keep me\n"},
			unchange: []string{"env/pod.yaml"},
		},
		{
			name:   "nothing to change is success",
			files:  map[string]string{"env/pod.yaml": podYAML},
			args:   []string{"nginx:1.27"},
			stdout: []string{"no changes\n"},
		},
		{
			name:     "malformed REF is a usage error",
			files:    map[string]string{"env/pod.yaml": podYAML},
			args:     []string{"ghcr.io/acme/api:1.1.0", "Bad:ref"},
			code:     exitUsage,
			stderr:   `image "Bad:ref"`,
			unchange: []string{"env/pod.yaml"},
		},
		{
			name:   "no REF is a usage error",
			files:  map[string]string{"env/pod.yaml": podYAML},
			code:   exitUsage,
			stderr: "at least one REF",
		},
		{
			name:     "invalid YAML is an error and nothing is written",
			files:    map[string]string{"env/pod.yaml": podYAML, "env/z.yaml": "image: ghcr.io/acme/api:1.0\n  x: [\n"},
			args:     []string{"ghcr.io/acme/api:1.1.0"},
			code:     exitError,
			stderr:   "/env/z.yaml:2: invalid YAML",
			unchange: []string{"env/pod.yaml"},
		},
		{
			name:   "marker mapped to a REF",
			files:  map[string]string{"env/values.yaml": "version: 1.0.0 # {\"$imagepolicy\": \"flux-system:api:tag\"}\n"},
			args:   []string{"--marker", "flux-system:api=ghcr.io/acme/api", "ghcr.io/acme/api:1.1.0@" + testDigest},
			stdout: []string{"version: 1.0.0 -> 1.1.0"},
			want:   map[string]string{"env/values.yaml": "version: 1.1.0 # {\"$imagepolicy\": \"flux-system:api:tag\"}\n"},
		},
		{
			name:   "marker for a repository no REF names",
			files:  map[string]string{"env/pod.yaml": podYAML},
			args:   []string{"--marker", "x=nginx", "ghcr.io/acme/api:1.1.0"},
			code:   exitUsage,
			stderr: "no REF names repository nginx",
		},
		{
			name: "base outside the directory gets an overlay entry and stays untouched",
			files: map[string]string{
				"base/kustomization.yaml": "resources:\n- pod.yaml\n",
				"base/pod.yaml":           podYAML,
				"env/kustomization.yaml":  "resources:\n- ../base\n",
			},
			args:     []string{"ghcr.io/acme/api:1.1.0"},
			stdout:   []string{"env/kustomization.yaml:4 images[0]: ghcr.io/acme/api:1.0.0 -> ghcr.io/acme/api:1.1.0\n"},
			want:     map[string]string{"env/kustomization.yaml": "resources:\n- ../base\nimages:\n- name: ghcr.io/acme/api\n  newTag: 1.1.0\n"},
			unchange: []string{"base/pod.yaml"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			writeTree(t, tmp, tc.files)
			env := filepath.Join(tmp, "env")
			code, stdout, stderr := runCLI(t, append([]string{"set-image", "--path", env}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			stdout = strings.ReplaceAll(stdout, tmp+"/", "")
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
			for p, want := range tc.want {
				if diff := cmp.Diff(want, readFile(t, filepath.Join(tmp, p))); diff != "" {
					t.Errorf("%s (-want +got):\n%s", p, diff)
				}
			}
			for _, p := range tc.unchange {
				if got := readFile(t, filepath.Join(tmp, p)); got != tc.files[p] {
					t.Errorf("%s changed:\n%s", p, got)
				}
			}
		})
	}
}

func TestSetImageJSON(t *testing.T) {
	tmp := t.TempDir()
	writeTree(t, tmp, map[string]string{"pod.yaml": podYAML})
	t.Chdir(tmp)
	code, stdout, stderr := runCLI(t, "set-image", "--dry-run", "--output", "json", "ghcr.io/acme/api:1.1.0@"+testDigest)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got promote.Result
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	want := []manifests.Change{{File: "pod.yaml", Line: 8, Field: "spec.containers[0].image", From: "ghcr.io/acme/api:1.0.0", To: "ghcr.io/acme/api:1.1.0@" + testDigest}}
	if diff := cmp.Diff(want, got.Changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got.Diff, "--- a/pod.yaml\n+++ b/pod.yaml\n") {
		t.Errorf("diff:\n%s", got.Diff)
	}
	if readFile(t, filepath.Join(tmp, "pod.yaml")) != podYAML {
		t.Error("dry run wrote the file")
	}
	// Without --dry-run: the file changes and the JSON has no diff.
	code, stdout, _ = runCLI(t, "set-image", "-o", "json", "ghcr.io/acme/api:1.1.0")
	if code != 0 || strings.Contains(stdout, `"diff"`) || !strings.Contains(stdout, `"changes"`) {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	if !strings.Contains(readFile(t, filepath.Join(tmp, "pod.yaml")), "image: ghcr.io/acme/api:1.1.0 # keep me") {
		t.Error("file not rewritten")
	}
}
