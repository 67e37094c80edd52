// Package promotetest builds a world for end-to-end tests of ferry's pipeline: a real registry
// on loopback with cosign-signed and unsigned images, and a bare config repo on disk.
package promotetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// World is a test registry with signed and unsigned images, and a bare config repo on disk:
// images acme/api and acme/worker at 1.0.0, 1.1.0 (both signed with Key) and 1.2.0 (pushed,
// never signed); environments dev (kustomize overlay, from the registry, commits), staging
// (plain manifests, from dev, commits) and prod (from staging, pull requests, 24h soak).
type World struct {
	T      testing.TB
	Reg    *registrytest.Server
	Key    *sigtest.KeyPair
	Bare   string            // the config repo's bare remote
	Digest map[string]string // "api:1.1.0" → digest
}

// FerryYAML is the world's ferry.yaml; {{REG}} stands for the registry host.
const FerryYAML = `images:
  - name: api
    repository: {{REG}}/acme/api
    policy:
      semver: ">=1.0.0 <2.0.0"
    verify:
      - key: keys/api.pub
  - name: worker
    repository: {{REG}}/acme/worker
    policy:
      semver: ">=1.0.0"
    verify:
      - key: keys/api.pub
environments:
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
`

// New builds a World. The config repo's files are ferry.yaml (FerryYAML) and the three
// environments; extra adds or replaces files (their content may use {{REG}}).
func New(t testing.TB, extra map[string]string) *World {
	t.Helper()
	w := &World{T: t, Reg: registrytest.New(t), Digest: map[string]string{}}
	var err error
	if w.Key, err = sigtest.NewKeyPair(); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{"api", "worker"} {
		for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
			d := w.Reg.PushRandom(t, "acme/"+img+":"+v, registrytest.Image{})
			w.Digest[img+":"+v] = d
			if v != "1.2.0" { // 1.2.0 is pushed but never signed
				w.Sign(img, d)
			}
		}
	}

	// The config repo: seeded with the git CLI, then cloned bare as the remote.
	seed := t.TempDir()
	files := map[string]string{
		"ferry.yaml": strings.ReplaceAll(FerryYAML, "{{REG}}", w.Reg.Host),
		"envs/dev/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: ` + w.Reg.Host + `/acme/api
    newTag: 1.0.0 # bumped by ferry
`,
		"envs/dev/deployment.yaml":     Deployment(w.Reg.Host+"/acme/api:1.0.0", w.Reg.Host+"/acme/worker:1.0.0"),
		"envs/staging/deployment.yaml": Deployment(w.Reg.Host+"/acme/api:1.0.0@"+w.Digest["api:1.0.0"], w.Reg.Host+"/acme/worker:1.0.0@"+w.Digest["worker:1.0.0"]),
		"envs/prod/deployment.yaml":    Deployment(w.Reg.Host+"/acme/api:1.0.0@"+w.Digest["api:1.0.0"], w.Reg.Host+"/acme/worker:1.0.0@"+w.Digest["worker:1.0.0"]),
		"README.md":                    "config repo\n",
	}
	for p, c := range extra {
		files[p] = strings.ReplaceAll(c, "{{REG}}", w.Reg.Host)
	}
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
	return w
}

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
		b.WriteString("        - name: c" + string(rune('0'+i)) + "\n          image: " + img + "\n")
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
