// Package demo runs ferry's main job end to end on an embedded default, with nothing beyond Go,
// git and loopback: a registry served in this process (go-containerregistry's pkg/registry),
// a cosign key pair made on the spot, signed and unsigned images, and a config repo with three
// environments in three layouts. It narrates each step and runs the real ferry commands.
//
// Rules:
//   - Everything lives in temporary directories and in memory; the registry listens on
//     127.0.0.1 only and stops when Run returns.
//   - One thing is kept: a non-bare clone of the config repo at its final state (every branch
//     ferry pushed checked out as a local branch, no remote), for the user to inspect.
//   - The private key never touches the disk.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferryhq/ferry/internal/sigtest"
)

// Ferry runs one ferry command line (args[0] is the program name) and returns its exit code.
// The CLI passes its own entry point, so the demo runs exactly what a user would.
type Ferry func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Options configure Run.
type Options struct {
	// Ferry runs the ferry commands; required.
	Ferry Ferry
	// Out receives the narration and the commands' output; nil discards it.
	Out io.Writer
	// Dir is where the config repo's clone is kept. It must not exist yet, or be an empty
	// directory. Empty means a new directory under os.TempDir named ferry-demo-*.
	Dir string
}

// Result says what Run left behind.
type Result struct {
	// Repo is the kept clone of the config repo.
	Repo string
	// PromotionBranch is the branch holding prod's promotion.
	PromotionBranch string
	// Elapsed is the demo's wall time.
	Elapsed time.Duration
}

// ErrStep is wrapped by the error Run returns when a ferry command exits with a code the demo
// did not expect.
var ErrStep = errors.New("demo step failed")

// Images pushed by the demo: repository → tags, and which of them are signed.
var (
	apiTags      = []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"}
	apiUnsigned  = "1.3.0"
	webTags      = []string{"2.0.0", "2.1.0"}
	prodBranch   = "ferry/prod/from-staging"
	demoAuthor   = "ferry-demo <ferry-demo@example.invalid>"
	seedIdentity = []string{"-c", "user.name=demo", "-c", "user.email=demo@example.invalid", "-c", "commit.gpgsign=false"}
)

// Run builds the demo world, runs ferry through it with narration, keeps the config repo's
// clone and removes everything else.
func Run(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	if opts.Ferry == nil {
		return nil, errors.New("demo: Options.Ferry is required (the CLI's entry point)")
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	keep, err := keepDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	kept := false
	defer func() {
		if !kept && opts.Dir == "" {
			os.RemoveAll(keep)
		}
	}()
	work, err := os.MkdirTemp("", "ferry-demo-work-")
	if err != nil {
		return nil, fmt.Errorf("demo: making a work directory: %w", err)
	}
	defer os.RemoveAll(work)

	d := &run{opts: opts, out: opts.Out, work: work}
	host, stop, err := startRegistry()
	if err != nil {
		return nil, err
	}
	defer stop()
	d.host = host

	if err := d.world(ctx); err != nil {
		return nil, err
	}
	if err := d.steps(ctx); err != nil {
		return nil, err
	}
	if err := d.keep(keep); err != nil {
		return nil, err
	}
	if err := d.showLog(keep); err != nil {
		return nil, err
	}
	kept = true
	res := &Result{Repo: keep, PromotionBranch: prodBranch, Elapsed: time.Since(start)}
	d.say("\n==> Done in %.1fs. The registry, the key and the remote are gone; the config repo is kept at\n", res.Elapsed.Seconds())
	d.say("    %s\n", keep)
	d.say("    Try: cd %s && git log --graph --all --stat && git diff main %s\n", keep, prodBranch)
	return res, nil
}

// keepDir returns the directory to keep the clone in, made and empty.
func keepDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "ferry-demo-")
		if err != nil {
			return "", fmt.Errorf("demo: making a directory for the config repo: %w", err)
		}
		return d, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("demo: --dir %s: %w", dir, err)
	}
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return "", fmt.Errorf("demo: --dir %s: %w", dir, err)
		}
	case err != nil:
		return "", fmt.Errorf("demo: --dir %s: %w", dir, err)
	case len(entries) > 0:
		return "", fmt.Errorf("demo: --dir %s is not empty: give a new or empty directory", dir)
	}
	return abs, nil
}

// startRegistry serves go-containerregistry's registry on a loopback port.
func startRegistry() (host string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo: listening on loopback: %w", err)
	}
	srv := &http.Server{
		Handler:           registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}

type run struct {
	opts   Options
	out    io.Writer
	work   string
	host   string
	bare   string
	cache  string
	digest map[string]string // "api:1.2.0" → digest
}

func (d *run) say(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// world pushes and signs the images and seeds the config repo.
func (d *run) world(ctx context.Context) error {
	d.say("ferry demo: the main job on loopback, nothing to install beyond Go and git.\n\n")
	d.say("==> A registry in this process at %s (go-containerregistry's pkg/registry)\n", d.host)
	key, err := sigtest.NewKeyPair()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d.say("    generated a cosign key pair (ECDSA P-256; the private key stays in memory)\n")
	d.digest = map[string]string{}
	for _, img := range []struct {
		name string
		tags []string
	}{{"api", apiTags}, {"web", webTags}} {
		var signed, unsigned []string
		for _, tag := range img.tags {
			dg, err := d.push(ctx, img.name, tag)
			if err != nil {
				return err
			}
			d.digest[img.name+":"+tag] = dg
			if img.name == "api" && tag == apiUnsigned {
				unsigned = append(unsigned, tag)
				continue
			}
			ref, err := name.NewDigest(d.repo(img.name) + "@" + dg)
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if err := sigtest.SignWithKey(ctx, ref, key, sigtest.WithRemoteOptions(remote.WithContext(ctx))); err != nil {
				return fmt.Errorf("demo: signing %s: %w", ref, err)
			}
			signed = append(signed, tag)
		}
		line := fmt.Sprintf("    pushed %s: %s signed", d.repo(img.name), strings.Join(signed, ", "))
		if len(unsigned) > 0 {
			line += fmt.Sprintf("; %s pushed but never signed", strings.Join(unsigned, ", "))
		}
		d.say("%s\n", line)
	}

	seed := filepath.Join(d.work, "seed")
	for p, c := range d.files() {
		full := filepath.Join(seed, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(seed, "keys"), 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := key.WritePublicKey(filepath.Join(seed, "keys", "cosign.pub")); err != nil {
		return fmt.Errorf("demo: writing the public key: %w", err)
	}
	d.bare = filepath.Join(d.work, "config.git")
	d.cache = filepath.Join(d.work, "cache")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", seed},
		{"-C", seed, "add", "-A"},
		append(append([]string{"-C", seed}, seedIdentity...), "commit", "-q", "-m", "config repo: api 1.0.0 and web 2.0.0 everywhere"),
		{"clone", "-q", "--bare", seed, d.bare},
	} {
		if _, err := git(ctx, args...); err != nil {
			return err
		}
	}
	d.say("\n==> A config repo (a bare remote on disk) with ferry.yaml and three environments\n")
	d.say("    dev      envs/dev/kustomization.yaml  a kustomize overlay of base/     source: registry  write: commit\n")
	d.say("    staging  envs/staging/values.yaml     Helm values                      source: dev       write: commit\n")
	d.say("    prod     envs/prod/deployment.yaml    plain manifests                  source: staging   write: pull-request\n")
	d.say("    every environment runs api 1.0.0 and web 2.0.0; images verify with keys/cosign.pub\n")
	d.say("    (each command below runs as `ferry … --repo <the remote>`)\n")
	return nil
}

func (d *run) repo(img string) string { return d.host + "/demo/" + img }

// push writes a small random image as demo/<img>:<tag> and returns its digest.
func (d *run) push(ctx context.Context, img, tag string) (string, error) {
	ref, err := name.NewTag(d.repo(img) + ":" + tag)
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	im, err := random.Image(256, 1)
	if err != nil {
		return "", fmt.Errorf("demo: making an image: %w", err)
	}
	if err := remote.Write(ref, im, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("demo: pushing %s: %w", ref, err)
	}
	dg, err := im.Digest()
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return dg.String(), nil
}

// files is the config repo's first commit.
func (d *run) files() map[string]string {
	api, web := d.repo("api"), d.repo("web")
	apiPinned := api + ":1.0.0@" + d.digest["api:1.0.0"]
	webPinned := web + ":2.0.0@" + d.digest["web:2.0.0"]
	return map[string]string{
		"README.md": "# demo config repo\n\nMade by `ferry demo`. Argo CD or Flux would apply envs/<environment>.\n",
		"ferry.yaml": `# ferry demo: two images from a registry on loopback, three environments.
images:
  - name: api
    repository: ` + api + `
    policy:
      semver: ">=1.0.0 <2.0.0"
    verify:
      - key: keys/cosign.pub        # cosign generate-key-pair's cosign.pub
  - name: web
    repository: ` + web + `
    policy:
      semver: ">=2.0.0"
    verify:
      - key: keys/cosign.pub

environments:
  - name: dev
    path: envs/dev                  # a kustomize overlay of base/
    source: registry                # the newest tag that passes policy and verification
    write: commit
  - name: staging
    path: envs/staging              # Helm values
    source: dev
    write: commit
  - name: prod
    path: envs/prod                 # plain manifests
    source: staging
    write: pull-request             # no forge for a path remote: the branch is pushed and reported

git:
  branch: main
  author: ` + demoAuthor + `
`,
		"base/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
`,
		"base/deployment.yaml": deployment(api+":1.0.0", web+":2.0.0"),
		"envs/dev/kustomization.yaml": `# dev: the base, with dev's images.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: ` + api + `
    newTag: 1.0.0
`,
		"envs/staging/values.yaml": `# staging: values for the app chart (Argo CD or Flux renders it with this file).
replicas: 2
api:
  image:
    repository: ` + api + `
    tag: "1.0.0"
    digest: ` + d.digest["api:1.0.0"] + `
web:
  image:
    repository: ` + web + `
    tag: "2.0.0"
    digest: ` + d.digest["web:2.0.0"] + `
`,
		"envs/prod/deployment.yaml": "# prod: plain manifests, pinned by digest.\n" + deployment(apiPinned, webPinned),
	}
}

// deployment is a Deployment running the api and web containers.
func deployment(api, web string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      containers:
        - name: api
          image: ` + api + `
        - name: web
          image: ` + web + `
`
}

// step is one ferry command the demo runs and the exit code it expects.
type step struct {
	intro string
	args  []string
	want  int
	// noCache leaves out --cache-dir (for a command that reads no registry).
	noCache bool
}

// steps runs the ferry commands.
func (d *run) steps(ctx context.Context) error {
	for _, s := range []step{
		{
			intro: "The watcher: newest tag first, until one verifies. api 1.3.0 is unsigned, so dev gets 1.2.0.",
			args:  []string{"watch", "--once"},
		},
		{
			intro: "Promote what dev runs to staging: the same digests, re-verified, one commit.",
			args:  []string{"promote", "dev", "staging"},
		},
		{
			intro: "Promote staging to prod: prod takes pull requests, so ferry pushes its branch.",
			args:  []string{"promote", "staging", "prod"},
		},
		{
			intro: "Where every environment stands: prod waits for its pull request; behind counts newer tags\n    the policy allows, signed or not (api 1.3.0 is one).",
			args:  []string{"status"},
		},
		{
			intro: "api 1.2.0 misbehaves in dev: roll it back. 1.0.0, what dev ran before, is re-verified and\n    written; the commit's Ferry-Rollback trailer holds 1.2.0 out of dev.",
			args:  []string{"rollback", "dev", "--image", "api"},
		},
		{
			intro: "The watcher runs again and leaves the rollback alone: 1.2.0 is held until a newer version.",
			args:  []string{"watch", "--once"},
		},
		{
			intro: "The audit trail, read back from Git: every change, how it was made, and the DORA figures.",
			args:  []string{"history"},
			// history asks no registry
			noCache: true,
		},
	} {
		d.say("\n==> %s\n$ ferry %s\n", s.intro, strings.Join(s.args, " "))
		args := append([]string{"ferry", "--log-level", "warn"}, s.args...)
		args = append(args, "--repo", d.bare, "--config", "ferry.yaml", "--output", "text")
		if !s.noCache {
			args = append(args, "--cache-dir", d.cache)
		}
		if code := d.opts.Ferry(ctx, args, d.out, d.out); code != s.want {
			return fmt.Errorf("%w: ferry %s exited %d, want %d", ErrStep, strings.Join(s.args, " "), code, s.want)
		}
	}
	return nil
}

// keep clones the remote into dir with every branch as a local branch, and drops the remote
// (it is about to be removed).
func (d *run) keep(dir string) error {
	ctx := context.Background()
	if _, err := git(ctx, "clone", "-q", d.bare, dir); err != nil {
		return err
	}
	out, err := git(ctx, "-C", dir, "for-each-ref", "--format=%(refname:lstrip=3)", "refs/remotes/origin")
	if err != nil {
		return err
	}
	for _, b := range strings.Fields(out) {
		if b == "HEAD" || b == "main" {
			continue
		}
		if _, err := git(ctx, "-C", dir, "branch", "-q", b, "origin/"+b); err != nil {
			return err
		}
	}
	_, err = git(ctx, "-C", dir, "remote", "remove", "origin")
	return err
}

// showLog prints the history with ferry's trailers.
func (d *run) showLog(dir string) error {
	args := []string{"log", "--all", "--format=%h%d %s%n%(trailers:key=Ferry-Image,key=Ferry-Rollback,key=Ferry-Source,key=Ferry-Environment)"}
	d.say("\n==> The history: one commit per environment, with the trailers status and gates read back.\n")
	d.say("$ git log %s\n", strings.Join(quoteArgs(args[1:]), " "))
	out, err := git(context.Background(), append([]string{"-C", dir}, args...)...)
	if err != nil {
		return err
	}
	d.say("%s", out)
	return nil
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " %()") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

// git runs the git CLI with the user's global and system configuration left out, so a
// signing or hook setting cannot change the demo.
func git(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("demo: git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
