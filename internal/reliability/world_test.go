package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// world is a registry of signed and unsigned images and a bare config repo whose ferry.yaml
// names them. Image i is "img<i>" (two digits) at <host>/acme/img<i>, with tags 1.0.0 and 1.1.0
// signed by key and 1.2.0 pushed but never signed. Environments: dev (registry, commit) with
// every image in one deployment file (so every write touches the same file), staging (from
// dev, commit) and prod (from staging, pull request).
type world struct {
	t      testing.TB
	reg    *registrytest.Server
	host   string // registry host written in refs: the registry's or a proxy's
	key    *sigtest.KeyPair
	images []string
	digest map[string]string // "img03:1.1.0" → digest
	signed map[string]bool   // digests with a signature
	bare   string
}

type worldOptions struct {
	// images is the number of images (default 2).
	images int
	// proxy, when set, puts something in front of the registry and returns the host to use.
	proxy func(reg *registrytest.Server) string
	// registries is ferry.yaml's registries section, verbatim ({{HOST}} is replaced).
	registries string
	// regOpts start the registry.
	regOpts []registrytest.Option
	// gitExtra is appended to ferry.yaml's git section (two-space indented keys).
	gitExtra string
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	testenvGit(t)
	if o.images == 0 {
		o.images = 2
	}
	w := &world{t: t, reg: registrytest.New(t, o.regOpts...), digest: map[string]string{}, signed: map[string]bool{}}
	w.host = w.reg.Host
	if o.proxy != nil {
		w.host = o.proxy(w.reg)
	}
	var err error
	if w.key, err = sigtest.NewKeyPair(); err != nil {
		t.Fatal(err)
	}
	for i := range o.images {
		img := fmt.Sprintf("img%02d", i)
		w.images = append(w.images, img)
		for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
			d := w.reg.PushRandom(t, "acme/"+img+":"+v, registrytest.Image{})
			w.digest[img+":"+v] = d
			if v != "1.2.0" {
				w.sign(img, d)
			}
		}
	}

	var cfg strings.Builder
	cfg.WriteString("images:\n")
	for _, img := range w.images {
		fmt.Fprintf(&cfg, "  - name: %s\n    repository: %s\n    policy:\n      semver: \">=1.0.0\"\n    verify:\n      - key: keys/ferry.pub\n", img, w.repo(img))
	}
	if o.registries != "" {
		cfg.WriteString(strings.ReplaceAll(o.registries, "{{HOST}}", w.host))
	}
	cfg.WriteString(`environments:
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
git:
  branch: main
  author: ferry-test <ferry@example.test>
`)
	cfg.WriteString(o.gitExtra)
	var dev, pinned []string
	for _, img := range w.images {
		dev = append(dev, w.repo(img)+":1.0.0@"+w.digest[img+":1.0.0"])
		pinned = append(pinned, w.repo(img)+":1.0.0@"+w.digest[img+":1.0.0"])
	}
	files := map[string]string{
		"ferry.yaml":                   cfg.String(),
		"envs/dev/deployment.yaml":     deployment(dev...),
		"envs/staging/deployment.yaml": deployment(pinned...),
		"envs/prod/deployment.yaml":    deployment(pinned...),
		"README.md":                    "config repo\n",
		"keys/ferry.pub":               string(w.key.PublicPEM),
	}
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
	git(t, seed, "init", "-q", "-b", "main")
	git(t, seed, "add", "-A")
	git(t, seed, "commit", "-q", "-m", "seed")
	w.bare = filepath.Join(t.TempDir(), "config.git")
	git(t, "", "clone", "-q", "--bare", seed, w.bare)
	git(t, w.bare, "config", "receive.denyNonFastForwards", "true")
	git(t, w.bare, "config", "receive.fsckObjects", "true")
	installHook(t, w.bare, "update", updateHook)
	return w
}

func (w *world) repo(img string) string { return w.host + "/acme/" + img }

func (w *world) sign(img, digest string) {
	w.t.Helper()
	d, err := name.NewDigest(w.reg.Ref("acme/" + img + "@" + digest))
	if err != nil {
		w.t.Fatal(err)
	}
	if err := sigtest.SignWithKey(context.Background(), d, w.key, sigtest.WithRemoteOptions(w.reg.RemoteOptions()...), sigtest.WithoutTlog()); err != nil {
		w.t.Fatal(err)
	}
	w.signed[digest] = true
}

// deployment is a Deployment with one container per image.
func deployment(images ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n")
	for i, img := range images {
		fmt.Fprintf(&b, "        - name: c%02d\n          image: %s\n", i, img)
	}
	return b.String()
}

// head returns the bare repo's main.
func (w *world) head() string { return strings.TrimSpace(git(w.t, w.bare, "rev-parse", "main")) }

// show returns a file at a revision of the bare repo.
func (w *world) show(rev, path string) string { return git(w.t, w.bare, "show", rev+":"+path) }

var imageLine = regexp.MustCompile(`image: (\S+)`)

// devImages maps image name → reference written in envs/dev at rev.
func (w *world) devImages(rev string) map[string]string {
	out := map[string]string{}
	for _, m := range imageLine.FindAllStringSubmatch(w.show(rev, "envs/dev/deployment.yaml"), -1) {
		ref := m[1]
		for _, img := range w.images {
			if strings.HasPrefix(ref, w.repo(img)+":") || strings.HasPrefix(ref, w.repo(img)+"@") {
				out[img] = ref
			}
		}
	}
	return out
}

// checkEveryCommitVerified walks main's history and fails t if any commit ferry made wrote an
// image reference without a digest, or with a digest that has no signature.
func (w *world) checkEveryCommitVerified() {
	w.t.Helper()
	for _, c := range strings.Fields(git(w.t, w.bare, "rev-list", "main")) {
		for _, env := range []string{"dev", "staging", "prod"} {
			for _, m := range imageLine.FindAllStringSubmatch(w.show(c, "envs/"+env+"/deployment.yaml"), -1) {
				_, d, ok := strings.Cut(m[1], "@")
				if !ok || !w.signed[d] {
					w.t.Errorf("commit %s: envs/%s holds %s: not a signed digest", c[:12], env, m[1])
				}
			}
		}
	}
}

// checkLinear fails t unless main's history is a single chain from the seed (no merges) and
// the update hook never saw a non-fast-forward.
func (w *world) checkLinear() {
	w.t.Helper()
	if merges := strings.TrimSpace(git(w.t, w.bare, "rev-list", "--merges", "main")); merges != "" {
		w.t.Errorf("main has merge commits:\n%s", merges)
	}
	if b, err := os.ReadFile(filepath.Join(w.bare, "refused.log")); err == nil && len(b) > 0 {
		w.t.Errorf("the update hook refused non-fast-forward updates:\n%s", b)
	}
}

// updateHook refuses any non-fast-forward update of main (a force-push) and logs it; it is a
// second line behind receive.denyNonFastForwards.
const updateHook = `#!/bin/sh
ref="$1" old="$2" new="$3"
zero=0000000000000000000000000000000000000000
if [ "$ref" = refs/heads/main ] && [ "$old" != "$zero" ]; then
  if ! git merge-base --is-ancestor "$old" "$new"; then
    echo "$ref $old $new" >> "$GIT_DIR/refused.log"
    echo "refusing a non-fast-forward update of main" >&2
    exit 1
  fi
fi
exit 0
`

func installHook(t testing.TB, bare, name, script string) {
	t.Helper()
	p := filepath.Join(bare, "hooks", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// checkWholeCommits fails t unless every commit on main after base is whole: the images its
// Ferry-Image trailers name are exactly the images whose envs/dev reference it changed, each
// to the value the trailer gives (no change without its trailer, no trailer without its change).
func (w *world) checkWholeCommits(base string) {
	w.t.Helper()
	for _, c := range strings.Fields(git(w.t, w.bare, "rev-list", base+"..main")) {
		declared := map[string]string{}
		for _, l := range strings.Split(git(w.t, w.bare, "log", "-1", "--format=%(trailers:key=Ferry-Image,valueonly)", c), "\n") {
			if img, ref, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
				declared[img] = ref
			}
		}
		before, after := w.devImages(c+"^"), w.devImages(c)
		changed := map[string]string{}
		for img, ref := range after {
			if before[img] != ref {
				changed[img] = ref
			}
		}
		if diff := cmp.Diff(declared, changed); diff != "" {
			w.t.Errorf("commit %s: Ferry-Image trailers (-) against the changes it made (+):\n%s", c[:12], diff)
		}
	}
}
