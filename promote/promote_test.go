package promote_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// world is a test registry with signed and unsigned images, and a bare config repo on disk.
type world struct {
	t      *testing.T
	reg    *registrytest.Server
	key    *sigtest.KeyPair
	bare   string
	digest map[string]string // "api:1.1.0" → digest
}

const ferryYAML = `images:
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

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, reg: registrytest.New(t), digest: map[string]string{}}
	var err error
	if w.key, err = sigtest.NewKeyPair(); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{"api", "worker"} {
		for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
			d := w.reg.PushRandom(t, w.reg.Ref("acme/"+img+":"+v), registrytest.Image{})
			w.digest[img+":"+v] = d
			if v != "1.2.0" { // 1.2.0 is pushed but never signed
				w.sign(img, d)
			}
		}
	}

	// The config repo: seeded with the git CLI, then cloned bare as the remote.
	seed := t.TempDir()
	files := map[string]string{
		"ferry.yaml": strings.ReplaceAll(ferryYAML, "{{REG}}", w.reg.Host),
		"envs/dev/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: ` + w.reg.Host + `/acme/api
    newTag: 1.0.0 # bumped by ferry
`,
		"envs/dev/deployment.yaml":     deployment(w.reg.Host+"/acme/api:1.0.0", w.reg.Host+"/acme/worker:1.0.0"),
		"envs/staging/deployment.yaml": deployment(w.reg.Host+"/acme/api:1.0.0@"+w.digest["api:1.0.0"], w.reg.Host+"/acme/worker:1.0.0@"+w.digest["worker:1.0.0"]),
		"envs/prod/deployment.yaml":    deployment(w.reg.Host+"/acme/api:1.0.0@"+w.digest["api:1.0.0"], w.reg.Host+"/acme/worker:1.0.0@"+w.digest["worker:1.0.0"]),
		"README.md":                    "config repo\n",
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
	if err := w.key.WritePublicKey(filepath.Join(seed, "keys", "api.pub")); err != nil {
		t.Fatal(err)
	}
	git(t, seed, "init", "-q", "-b", "main")
	git(t, seed, "add", "-A")
	git(t, seed, "-c", "user.name=seed", "-c", "user.email=seed@example.test", "commit", "-q", "-m", "seed")
	w.bare = filepath.Join(t.TempDir(), "config.git")
	git(t, "", "clone", "-q", "--bare", seed, w.bare)
	return w
}

func deployment(images ...string) string {
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

func (w *world) sign(img, digest string) {
	w.t.Helper()
	d, err := name.NewDigest(w.reg.Ref("acme/" + img + "@" + digest))
	if err != nil {
		w.t.Fatal(err)
	}
	if err := sigtest.SignWithKey(context.Background(), d, w.key, sigtest.WithRemoteOptions(w.reg.RemoteOptions()...), sigtest.WithoutTlog()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) opts() promote.Options {
	return promote.Options{
		Repo:            w.bare,
		RegistryOptions: []registry.Option{registry.WithCacheDir(w.t.TempDir())},
	}
}

// show returns a file's content on a branch of the bare repo.
func (w *world) show(branch, path string) string {
	w.t.Helper()
	return git(w.t, w.bare, "show", branch+":"+path)
}

func (w *world) head(branch string) string {
	w.t.Helper()
	return strings.TrimSpace(git(w.t, w.bare, "rev-parse", branch))
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestWatchWritesNewestVerifiedAndSkipsUnsigned(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	res, err := promote.Watch(ctx, w.opts(), promote.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kust := w.show("main", "envs/dev/kustomization.yaml")
	wantAPI := "newTag: 1.1.0@" + w.digest["api:1.1.0"] + " # bumped by ferry"
	if !strings.Contains(kust, "digest: "+w.digest["api:1.1.0"]) && !strings.Contains(kust, wantAPI) {
		t.Errorf("dev kustomization does not pin api 1.1.0 to its verified digest:\n%s", kust)
	}
	if !strings.Contains(kust, "# bumped by ferry") {
		t.Errorf("comment lost:\n%s", kust)
	}
	dep := w.show("main", "envs/dev/deployment.yaml")
	if !strings.Contains(dep, "acme/worker:1.1.0@"+w.digest["worker:1.1.0"]) {
		t.Errorf("dev worker not updated to 1.1.0@digest:\n%s", dep)
	}
	if len(res.Commits) != 1 || res.Commits[0].Environment != "dev" {
		t.Fatalf("commits = %+v, want one for dev", res.Commits)
	}
	var unsigned []string
	for _, s := range res.Skipped {
		if s.Reason == registry.ReasonUnsigned {
			unsigned = append(unsigned, s.Image+":"+s.Tag)
		}
	}
	if diff := cmp.Diff([]string{"api:1.2.0", "worker:1.2.0"}, unsigned); diff != "" {
		t.Errorf("unsigned skips (-want +got):\n%s", diff)
	}
	msg := git(t, w.bare, "log", "-1", "--format=%B", "main")
	for _, want := range []string{
		"Ferry-Image: api=" + w.reg.Host + "/acme/api:1.1.0@" + w.digest["api:1.1.0"],
		"Ferry-Image: worker=" + w.reg.Host + "/acme/worker:1.1.0@" + w.digest["worker:1.1.0"],
		"Ferry-Source: registry",
		"Ferry-Environment: dev",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}
	if got := strings.TrimSpace(git(t, w.bare, "log", "-1", "--format=%an <%ae>", "main")); got != "ferry-test <ferry@example.test>" {
		t.Errorf("author = %q", got)
	}

	// Idempotent: nothing new, no commit.
	before := w.head("main")
	res, err = promote.Watch(ctx, w.opts(), promote.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commits) != 0 || w.head("main") != before {
		t.Errorf("second watch committed: %+v", res.Commits)
	}
}

func TestBumpAllOrNothing(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	before := w.head("main")
	_, err := promote.Bump(ctx, w.opts(), []string{
		w.reg.Ref("acme/api:1.1.0"),
		w.reg.Ref("acme/worker:1.2.0"), // unsigned
	})
	if !errors.Is(err, promote.ErrRefused) {
		t.Fatalf("bump with an unsigned ref: err = %v, want ErrRefused", err)
	}
	if w.head("main") != before {
		t.Fatal("a refused bump wrote to the config repo")
	}

	res, err := promote.Bump(ctx, w.opts(), []string{w.reg.Ref("acme/api:1.1.0")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commits) != 1 {
		t.Fatalf("commits = %+v", res.Commits)
	}
	if kust := w.show("main", "envs/dev/kustomization.yaml"); !strings.Contains(kust, w.digest["api:1.1.0"]) {
		t.Errorf("dev not bumped:\n%s", kust)
	}
	// staging is not registry-fed: untouched.
	if st := w.show("main", "envs/staging/deployment.yaml"); strings.Contains(st, "1.1.0") {
		t.Errorf("bump wrote staging:\n%s", st)
	}
}

func TestBumpRefusesDowngradeAndUnknownRepository(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := promote.Bump(ctx, w.opts(), []string{w.reg.Ref("acme/api:1.1.0")}); err != nil {
		t.Fatal(err)
	}
	head := w.head("main")
	res, err := promote.Bump(ctx, w.opts(), []string{w.reg.Ref("acme/api:1.0.0")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Reason != "downgrade" || w.head("main") != head {
		t.Errorf("downgrade not refused: skipped %+v", res.Skipped)
	}
	opts := w.opts()
	opts.AllowDowngrade = true
	if res, err = promote.Bump(ctx, opts, []string{w.reg.Ref("acme/api:1.0.0")}); err != nil || len(res.Commits) != 1 {
		t.Errorf("--allow-downgrade: commits %+v, err %v", res, err)
	}

	_, err = promote.Bump(ctx, w.opts(), []string{w.reg.Ref("acme/other:1.0.0")})
	if err == nil || !strings.Contains(err.Error(), "acme/other") {
		t.Errorf("unknown repository: err = %v", err)
	}
}

func TestPromoteCommitThenPullRequestBranchWithSoakGate(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := promote.Watch(ctx, w.opts(), promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}

	// dev → staging: a commit with dev's exact digests.
	res, err := promote.Promote(ctx, w.opts(), "dev", "staging")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commits) != 1 {
		t.Fatalf("promote dev staging: %+v", res)
	}
	st := w.show("main", "envs/staging/deployment.yaml")
	for _, want := range []string{"acme/api:1.1.0@" + w.digest["api:1.1.0"], "acme/worker:1.1.0@" + w.digest["worker:1.1.0"]} {
		if !strings.Contains(st, want) {
			t.Errorf("staging lacks %s:\n%s", want, st)
		}
	}
	if msg := git(t, w.bare, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "Ferry-Source: dev") {
		t.Errorf("promotion commit lacks its source trailer:\n%s", msg)
	}

	// staging → prod: the soak gate (24h) is not met right after the promotion.
	res, err = promote.Promote(ctx, w.opts(), "staging", "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.PullRequests) != 0 || len(res.Skipped) != 2 || res.Skipped[0].Reason != "gate" {
		t.Fatalf("soak gate not applied: %+v", res)
	}

	// A day later the gate is met: prod writes through a pull-request branch. The remote is a
	// path, so no forge: the branch is pushed and reported without a URL.
	opts := w.opts()
	opts.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	res, err = promote.Promote(ctx, opts, "staging", "prod")
	if err != nil {
		t.Fatal(err)
	}
	want := []promote.PullRequest{{Environment: "prod", Branch: "ferry/prod/from-staging"}}
	if diff := cmp.Diff(want, res.PullRequests); diff != "" {
		t.Errorf("pull requests (-want +got):\n%s", diff)
	}
	if prod := w.show("ferry/prod/from-staging", "envs/prod/deployment.yaml"); !strings.Contains(prod, w.digest["api:1.1.0"]) {
		t.Errorf("prod branch lacks the promoted digest:\n%s", prod)
	}
	if prod := w.show("main", "envs/prod/deployment.yaml"); strings.Contains(prod, "1.1.0") {
		t.Errorf("a pull-request environment was written on main:\n%s", prod)
	}

	// Again: same branch, nothing new.
	branchHead := w.head("ferry/prod/from-staging")
	if _, err = promote.Promote(ctx, opts, "staging", "prod"); err != nil {
		t.Fatal(err)
	}
	if w.head("ferry/prod/from-staging") != branchHead {
		t.Error("a repeated promotion rewrote the branch with nothing new")
	}
}

func TestPromoteRefusesWhatNoLongerVerifies(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// dev runs worker 1.2.0, which is unsigned, by hand.
	opts := w.opts()
	opts.AllowDowngrade = true
	seed := t.TempDir()
	git(t, "", "clone", "-q", w.bare, seed)
	p := filepath.Join(seed, "envs/dev/deployment.yaml")
	if err := os.WriteFile(p, []byte(deployment(w.reg.Host+"/acme/api:1.1.0@"+w.digest["api:1.1.0"], w.reg.Host+"/acme/worker:1.2.0@"+w.digest["worker:1.2.0"])), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, seed, "-c", "user.name=dev", "-c", "user.email=dev@example.test", "commit", "-qam", "hand edit")
	git(t, seed, "push", "-q", "origin", "main")

	res, err := promote.Promote(ctx, opts, "dev", "staging")
	if !errors.Is(err, promote.ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	st := w.show("main", "envs/staging/deployment.yaml")
	if strings.Contains(st, "worker:1.2.0") {
		t.Errorf("unsigned worker reached staging:\n%s", st)
	}
	if !strings.Contains(st, "api:1.1.0@"+w.digest["api:1.1.0"]) {
		t.Errorf("verified api was not promoted alongside the refusal:\n%s", st)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Image != "worker" || res.Skipped[0].Reason != registry.ReasonUnsigned {
		t.Errorf("skipped = %+v", res.Skipped)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	w := newWorld(t)
	before := w.head("main")
	opts := w.opts()
	opts.DryRun = true
	res, err := promote.Watch(context.Background(), opts, promote.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w.head("main") != before || len(res.Commits) != 0 {
		t.Fatal("dry run wrote")
	}
	if !strings.Contains(res.Diff, "+") || !strings.Contains(res.Diff, "envs/dev/") {
		t.Errorf("dry run diff:\n%s", res.Diff)
	}
	if len(res.Plan) == 0 {
		t.Error("dry run has no plan")
	}
}

func TestStatus(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := promote.Watch(ctx, w.opts(), promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := promote.Status(ctx, w.opts())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]promote.ImageStatus{}
	for _, e := range rep.Environments {
		for _, im := range e.Images {
			got[e.Name+"/"+im.Image] = im
		}
	}
	dev := got["dev/api"]
	if dev.Tag != "1.1.0" || dev.Digest != w.digest["api:1.1.0"] || !dev.Verified || dev.Behind != 1 {
		t.Errorf("dev/api = %+v, want 1.1.0, its digest, verified, 1 behind (1.2.0)", dev)
	}
	prod := got["prod/api"]
	if prod.Tag != "1.0.0" || !prod.Verified || prod.Behind != 2 {
		t.Errorf("prod/api = %+v", prod)
	}
}
