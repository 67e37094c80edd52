// Package promotetest builds a world for end-to-end tests of ferry's pipeline: a real registry
// on loopback with cosign-signed and unsigned images, and a bare config repo on disk whose
// three environments use the three layouts ferry rewrites.
//
// The config repo of the default world (images api and worker):
//
//	ferry.yaml                      images api and worker; environments dev, staging, prod
//	keys/api.pub                    the cosign public key every image verifies with
//	base/kustomization.yaml         the shared base: resources [deployment.yaml]
//	base/deployment.yaml            one container per image, all at 1.0.0 (never written)
//	envs/dev/kustomization.yaml     overlay over ../../base; images: an entry for every image
//	                                but the last (ferry adds that one to the overlay), at 1.0.0
//	envs/staging/Chart.yaml         a Helm chart whose values.yaml has, per image,
//	envs/staging/values.yaml        <name>: {image: {repository, tag, digest}} at 1.0.0
//	envs/staging/templates/…        (a template: not YAML, never parsed)
//	envs/prod/deployment.yaml       plain manifests at 1.0.0@digest with markers: the first
//	                                image's fields carry {"$ferry": …} markers, the others Flux
//	                                {"$imagepolicy": "flux-system:<name>"} markers that
//	                                ferry.yaml maps with markers:
//
// dev is fed by the registry (write: commit), staging by dev (write: commit), prod by staging
// (write: pull-request, gates.soak 24h). The branch main is protected: the bare repo refuses
// non-fast-forward pushes to it and logs every update (gittest.Protect).
package promotetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// Versions are the tags every image of a World is pushed under: 1.0.0 and 1.1.0 are signed with
// the world's key, 1.2.0 is pushed and never signed.
var Versions = []string{"1.0.0", "1.1.0", "1.2.0"}

// World is a test registry with signed and unsigned images, and a bare config repo on disk.
type World struct {
	T      testing.TB
	Reg    *registrytest.Server
	Key    *sigtest.KeyPair
	Bare   string            // the config repo's bare remote
	Images []string          // image names; image n is the repository Reg.Host/acme/n
	Digest map[string]string // "api:1.1.0" → digest
	// FerryYAML is the ferry.yaml the config repo was seeded with.
	FerryYAML string
}

// Spec describes a World. Its zero value is the default world.
type Spec struct {
	// Images are the image names (default api and worker); each is pushed as acme/<name>.
	Images []string
	// Extra adds or replaces files of the config repo; {{REG}} in their content stands for the
	// registry host.
	Extra map[string]string
	// Registry configures the world's registry (its address, a recorder, …).
	Registry []registrytest.Option
	// FerryYAMLTail is appended to the generated ferry.yaml (e.g. a notify: section).
	FerryYAMLTail string
	// VerifyExtra is added to every image's key entry in ferry.yaml, indented under it (e.g.
	// "attestations: [{predicateType: slsaprovenance1}]").
	VerifyExtra string
}

// New builds the default World (images api and worker). extra adds or replaces files (their
// content may use {{REG}}).
func New(t testing.TB, extra map[string]string) *World {
	t.Helper()
	return NewWorld(t, Spec{Extra: extra})
}

// NewWorld builds a World as spec says.
func NewWorld(t testing.TB, spec Spec) *World {
	t.Helper()
	images := spec.Images
	if len(images) == 0 {
		images = []string{"api", "worker"}
	}
	w := &World{T: t, Reg: registrytest.New(t, spec.Registry...), Images: images, Digest: map[string]string{}}
	var err error
	if w.Key, err = sigtest.NewKeyPair(); err != nil {
		t.Fatal(err)
	}
	for _, img := range images {
		for _, v := range Versions {
			d := w.Reg.PushRandom(t, "acme/"+img+":"+v, registrytest.Image{})
			w.Digest[img+":"+v] = d
			if v != "1.2.0" { // 1.2.0 is pushed but never signed
				w.Sign(img, d)
			}
		}
	}

	w.FerryYAML = w.ferryYAML(spec.VerifyExtra) + spec.FerryYAMLTail
	files := map[string]string{
		"ferry.yaml":                             w.FerryYAML,
		"README.md":                              "config repo\n",
		"base/kustomization.yaml":                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n",
		"base/deployment.yaml":                   Deployment(w.refs("1.0.0", false)...),
		"envs/dev/kustomization.yaml":            w.devOverlay(),
		"envs/staging/Chart.yaml":                "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"envs/staging/values.yaml":               w.stagingValues(),
		"envs/staging/templates/deployment.yaml": w.stagingTemplate(),
		"envs/prod/deployment.yaml":              w.prodManifest(),
	}
	for p, c := range spec.Extra {
		files[p] = strings.ReplaceAll(c, "{{REG}}", w.Reg.Host)
	}

	// The config repo: seeded with the git CLI, then cloned bare as the remote.
	seed := t.TempDir()
	for p, c := range files {
		full := filepath.Join(seed, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(seed, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := w.Key.WritePublicKey(filepath.Join(seed, "keys", "api.pub")); err != nil {
		t.Fatal(err)
	}
	Git(t, seed, "init", "-q", "-b", "main")
	Git(t, seed, "add", "-A")
	Git(t, seed, "-c", "user.name=seed", "-c", "user.email=seed@example.test", "commit", "-q", "-m", "seed")
	w.Bare = filepath.Join(t.TempDir(), "config.git")
	Git(t, "", "clone", "-q", "--bare", seed, w.Bare)
	Git(t, w.Bare, "remote", "remove", "origin")
	gittest.Protect(t, w.Bare, "main")
	return w
}

// Repository returns image img's repository, Reg.Host/acme/img.
func (w *World) Repository(img string) string { return w.Reg.Host + "/acme/" + img }

// Ref returns img:tag@digest, the reference ferry writes with the default pin.
func (w *World) Ref(img, tag string) string {
	return w.Repository(img) + ":" + tag + "@" + w.Digest[img+":"+tag]
}

// refs returns every image at tag, with its digest when pinned is true.
func (w *World) refs(tag string, pinned bool) []string {
	var out []string
	for _, img := range w.Images {
		if pinned {
			out = append(out, w.Ref(img, tag))
		} else {
			out = append(out, w.Repository(img)+":"+tag)
		}
	}
	return out
}

func (w *World) ferryYAML(verifyExtra string) string {
	var b strings.Builder
	b.WriteString("images:\n")
	for i, img := range w.Images {
		fmt.Fprintf(&b, "  - name: %s\n    repository: %s\n    policy:\n      semver: \">=1.0.0 <2.0.0\"\n    verify:\n      - key: keys/api.pub\n", img, w.Repository(img))
		for _, line := range strings.Split(strings.TrimRight(verifyExtra, "\n"), "\n") {
			if line != "" {
				b.WriteString("        " + line + "\n")
			}
		}
		if i > 0 {
			fmt.Fprintf(&b, "    markers: [flux-system:%s]\n", img)
		}
	}
	b.WriteString(`environments:
  - name: dev
    path: envs/dev
    source: registry
    write: commit
  - name: staging
    path: envs/staging
    source: dev
    write: commit
  - name: prod
    path: envs/prod
    source: staging
    write: pull-request
    gates:
      soak: 24h
git:
  branch: main
  author: ferry-test <ferry@example.test>
`)
	return b.String()
}

func (w *World) devOverlay() string {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\nimages:\n")
	for _, img := range w.Images[:max(1, len(w.Images)-1)] {
		fmt.Fprintf(&b, "  - name: %s\n    newTag: 1.0.0 # bumped by ferry\n", w.Repository(img))
	}
	return b.String()
}

func (w *World) stagingValues() string {
	var b strings.Builder
	b.WriteString("# Helm values for staging.\nreplicaCount: 2\n")
	for _, img := range w.Images {
		fmt.Fprintf(&b, "%s:\n  image:\n    repository: %s\n    tag: \"1.0.0\"\n    digest: %s\n  resources: {}\n", valuesKey(img), w.Repository(img), w.Digest[img+":1.0.0"])
	}
	return b.String()
}

func (w *World) stagingTemplate() string {
	var b strings.Builder
	b.WriteString("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicaCount }}\n  template:\n    spec:\n      containers:\n")
	for _, img := range w.Images {
		k := valuesKey(img)
		fmt.Fprintf(&b, "        - name: %s\n          image: \"{{ .Values.%s.image.repository }}:{{ .Values.%s.image.tag }}@{{ .Values.%s.image.digest }}\"\n", img, k, k, k)
	}
	return b.String()
}

func (w *World) prodManifest() string {
	var b strings.Builder
	b.WriteString("# prod: plain manifests; the markers bind fields to ferry.yaml's images.\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n")
	for i, img := range w.Images {
		marker := fmt.Sprintf(`{"$ferry": "%s`, img)
		if i > 0 {
			marker = fmt.Sprintf(`{"$imagepolicy": "flux-system:%s`, img)
		}
		fmt.Fprintf(&b, "        - name: %s\n          image: %s # %s\"}\n          env:\n            - name: VERSION\n              value: \"1.0.0\" # %s:tag\"}\n",
			img, w.Ref(img, "1.0.0"), marker, marker)
	}
	return b.String()
}

// valuesKey is img as a Helm values key (Go templates cannot index names with dashes).
func valuesKey(img string) string { return strings.ReplaceAll(img, "-", "_") }

// Deployment returns a Deployment manifest with one container per image.
func Deployment(images ...string) string {
	var b strings.Builder
	b.WriteString(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
`)
	for i, img := range images {
		fmt.Fprintf(&b, "        - name: c%d\n          image: %s\n", i, img)
	}
	return b.String()
}

// Sign signs acme/<img>@digest with the world's key (cosign 2 layout, no log entry).
func (w *World) Sign(img, digest string) {
	w.T.Helper()
	d, err := name.NewDigest(w.Reg.Ref("acme/" + img + "@" + digest))
	if err != nil {
		w.T.Fatal(err)
	}
	if err := sigtest.SignWithKey(context.Background(), d, w.Key, sigtest.WithRemoteOptions(w.Reg.RemoteOptions()...), sigtest.WithoutTlog()); err != nil {
		w.T.Fatal(err)
	}
}

// Attest attests acme/<img>@digest with the world's key (cosign 2 .att layout, no log entry).
func (w *World) Attest(img, digest, predicateType, predicate string) {
	w.T.Helper()
	d, err := name.NewDigest(w.Reg.Ref("acme/" + img + "@" + digest))
	if err != nil {
		w.T.Fatal(err)
	}
	if err := sigtest.AttestWithKey(context.Background(), d, w.Key, predicateType, []byte(predicate), sigtest.WithRemoteOptions(w.Reg.RemoteOptions()...)); err != nil {
		w.T.Fatal(err)
	}
}

// Options are promote options for the world: its bare repo and a private registry cache.
func (w *World) Options() promote.Options {
	return promote.Options{
		Repo:            w.Bare,
		RegistryOptions: []registry.Option{registry.WithCacheDir(w.T.TempDir())},
	}
}

// Show returns a file's content on a branch of the bare repo.
func (w *World) Show(branch, path string) string {
	w.T.Helper()
	return Git(w.T, w.Bare, "show", branch+":"+path)
}

// Head returns a branch's commit in the bare repo.
func (w *World) Head(branch string) string {
	w.T.Helper()
	return strings.TrimSpace(Git(w.T, w.Bare, "rev-parse", branch))
}

// Heads returns every ref of the bare repo and its commit.
func (w *World) Heads() map[string]string {
	w.T.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(Git(w.T, w.Bare, "for-each-ref", "--format=%(refname) %(objectname)")), "\n") {
		if ref, sha, ok := strings.Cut(line, " "); ok {
			out[ref] = sha
		}
	}
	return out
}

// Checkout writes the tree of a branch of the bare repo into a new temporary directory (no
// .git) and returns it, e.g. for `kustomize build`.
func (w *World) Checkout(branch string) string {
	w.T.Helper()
	dir := w.T.TempDir()
	cmd := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", w.Bare, branch, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		w.T.Fatalf("checking out %s: %v\n%s", branch, err, out)
	}
	return dir
}

// Fill adds n filler files (ConfigMaps of ~300 bytes, 100 per directory, under apps/) to main
// in one commit made with git fast-import, so that benchmarks can measure a big config repo
// without writing n files to disk.
func (w *World) Fill(n int) {
	w.T.Helper()
	var s strings.Builder
	msg := fmt.Sprintf("add %d filler files\n", n)
	fmt.Fprintf(&s, "commit refs/heads/main\ncommitter seed <seed@example.test> %d +0000\ndata %d\n%sfrom %s\n",
		time.Now().Unix(), len(msg), msg, w.Head("main"))
	pad := strings.Repeat("key: value # padding to make the file a realistic size\n", 5)
	for i := range n {
		c := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n%s", i, pad)
		fmt.Fprintf(&s, "M 100644 inline apps/app%03d/cm-%05d.yaml\ndata %d\n%s\n", i/100, i, len(c), c)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = w.Bare
	cmd.Stdin = strings.NewReader(s.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		w.T.Fatalf("git fast-import: %v\n%s", err, out)
	}
	Git(w.T, w.Bare, "gc", "-q")
}

// Git runs the git CLI in dir and returns its output, failing the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
