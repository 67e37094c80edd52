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

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/forge"
	"github.com/ferryhq/ferry/promote/gitrepo"
	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
	"github.com/ferryhq/ferry/promote/promotetest"
	"github.com/ferryhq/ferry/registry"
)

func TestWatchWritesNewestVerifiedAndSkipsUnsigned(t *testing.T) {
	w := promotetest.New(t, nil)
	ctx := context.Background()
	res, err := promote.Watch(ctx, w.Options(), promote.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kust := w.Show("main", "envs/dev/kustomization.yaml")
	wantAPI := "newTag: 1.1.0@" + w.Digest["api:1.1.0"] + " # bumped by ferry"
	if !strings.Contains(kust, "digest: "+w.Digest["api:1.1.0"]) && !strings.Contains(kust, wantAPI) {
		t.Errorf("dev kustomization does not pin api 1.1.0 to its verified digest:\n%s", kust)
	}
	if !strings.Contains(kust, "# bumped by ferry") {
		t.Errorf("comment lost:\n%s", kust)
	}
	// worker has no entry in the overlay: ferry adds one there, never in the shared base.
	if !strings.Contains(kust, "name: "+w.Repository("worker")+"\n    newTag: 1.1.0\n    digest: "+w.Digest["worker:1.1.0"]) {
		t.Errorf("dev overlay has no worker entry at 1.1.0@digest:\n%s", kust)
	}
	if base := w.Show("main", "base/deployment.yaml"); strings.Contains(base, "1.1.0") {
		t.Errorf("the shared base was written:\n%s", base)
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
	msg := promotetest.Git(t, w.Bare, "log", "-1", "--format=%B", "main")
	for _, want := range []string{
		"Ferry-Image: api=" + w.Reg.Host + "/acme/api:1.1.0@" + w.Digest["api:1.1.0"],
		"Ferry-Image: worker=" + w.Reg.Host + "/acme/worker:1.1.0@" + w.Digest["worker:1.1.0"],
		"Ferry-Source: registry",
		"Ferry-Environment: dev",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}
	// git itself reads exactly ferry's trailers: the change lines above them are not taken for
	// trailers.
	parsed := strings.TrimSpace(promotetest.Git(t, w.Bare, "log", "-1", "--format=%(trailers:only,unfold)", "main"))
	wantTrailers := strings.Join([]string{
		"Ferry-Image: api=" + w.Reg.Host + "/acme/api:1.1.0@" + w.Digest["api:1.1.0"],
		"Ferry-Image: worker=" + w.Reg.Host + "/acme/worker:1.1.0@" + w.Digest["worker:1.1.0"],
		"Ferry-Signer: api=key keys/api.pub",
		"Ferry-Signer: worker=key keys/api.pub",
		"Ferry-Source: registry",
		"Ferry-Environment: dev",
		"Ferry-Command: watch",
	}, "\n")
	if diff := cmp.Diff(wantTrailers, parsed); diff != "" {
		t.Errorf("trailers as git reads them (-want +got):\n%s", diff)
	}
	if got := strings.TrimSpace(promotetest.Git(t, w.Bare, "log", "-1", "--format=%an <%ae>", "main")); got != "ferry-test <ferry@example.test>" {
		t.Errorf("author = %q", got)
	}

	// Idempotent: nothing new, no commit.
	before := w.Head("main")
	res, err = promote.Watch(ctx, w.Options(), promote.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commits) != 0 || w.Head("main") != before {
		t.Errorf("second watch committed: %+v", res.Commits)
	}
}

func TestBumpAllOrNothing(t *testing.T) {
	w := promotetest.New(t, nil)
	ctx := context.Background()
	before := w.Head("main")
	_, err := promote.Bump(ctx, w.Options(), []string{
		w.Reg.Ref("acme/api:1.1.0"),
		w.Reg.Ref("acme/worker:1.2.0"), // unsigned
	})
	if !errors.Is(err, promote.ErrRefused) {
		t.Fatalf("bump with an unsigned ref: err = %v, want ErrRefused", err)
	}
	if w.Head("main") != before {
		t.Fatal("a refused bump wrote to the config repo")
	}

	res, err := promote.Bump(ctx, w.Options(), []string{w.Reg.Ref("acme/api:1.1.0")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commits) != 1 {
		t.Fatalf("commits = %+v", res.Commits)
	}
	if kust := w.Show("main", "envs/dev/kustomization.yaml"); !strings.Contains(kust, w.Digest["api:1.1.0"]) {
		t.Errorf("dev not bumped:\n%s", kust)
	}
	// staging is not registry-fed: untouched.
	if st := w.Show("main", "envs/staging/values.yaml"); strings.Contains(st, "1.1.0") {
		t.Errorf("bump wrote staging:\n%s", st)
	}
}

func TestBumpRefusesDowngradeAndUnknownRepository(t *testing.T) {
	w := promotetest.New(t, nil)
	ctx := context.Background()
	if _, err := promote.Bump(ctx, w.Options(), []string{w.Reg.Ref("acme/api:1.1.0")}); err != nil {
		t.Fatal(err)
	}
	head := w.Head("main")
	res, err := promote.Bump(ctx, w.Options(), []string{w.Reg.Ref("acme/api:1.0.0")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Reason != "downgrade" || w.Head("main") != head {
		t.Errorf("downgrade not refused: skipped %+v", res.Skipped)
	}
	opts := w.Options()
	opts.AllowDowngrade = true
	if res, err = promote.Bump(ctx, opts, []string{w.Reg.Ref("acme/api:1.0.0")}); err != nil || len(res.Commits) != 1 {
		t.Errorf("--allow-downgrade: commits %+v, err %v", res, err)
	}

	_, err = promote.Bump(ctx, w.Options(), []string{w.Reg.Ref("acme/other:1.0.0")})
	if err == nil || !strings.Contains(err.Error(), "acme/other") {
		t.Errorf("unknown repository: err = %v", err)
	}
}

func TestPromoteCommitThenPullRequestBranchWithSoakGate(t *testing.T) {
	w := promotetest.New(t, nil)
	ctx := context.Background()
	if _, err := promote.Watch(ctx, w.Options(), promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}

	// dev → staging: a commit with dev's exact digests.
	res, err := promote.Promote(ctx, w.Options(), "dev", "staging")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commits) != 1 {
		t.Fatalf("promote dev staging: %+v", res)
	}
	st := w.Show("main", "envs/staging/values.yaml")
	for _, want := range []string{
		"repository: " + w.Repository("api") + "\n    tag: \"1.1.0\"\n    digest: " + w.Digest["api:1.1.0"],
		"repository: " + w.Repository("worker") + "\n    tag: \"1.1.0\"\n    digest: " + w.Digest["worker:1.1.0"],
	} {
		if !strings.Contains(st, want) {
			t.Errorf("staging lacks %s:\n%s", want, st)
		}
	}
	if msg := promotetest.Git(t, w.Bare, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "Ferry-Source: dev") {
		t.Errorf("promotion commit lacks its source trailer:\n%s", msg)
	}

	// staging → prod: the soak gate (24h) is not met right after the promotion.
	res, err = promote.Promote(ctx, w.Options(), "staging", "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.PullRequests) != 0 || len(res.Skipped) != 2 || res.Skipped[0].Reason != "gate" {
		t.Fatalf("soak gate not applied: %+v", res)
	}

	// A day later the gate is met: prod writes through a pull-request branch. The remote is a
	// path, so no forge: the branch is pushed and reported without a URL.
	opts := w.Options()
	opts.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	res, err = promote.Promote(ctx, opts, "staging", "prod")
	if err != nil {
		t.Fatal(err)
	}
	want := []promote.PullRequest{{Environment: "prod", Branch: "ferry/prod/from-staging"}}
	if diff := cmp.Diff(want, res.PullRequests); diff != "" {
		t.Errorf("pull requests (-want +got):\n%s", diff)
	}
	if prod := w.Show("ferry/prod/from-staging", "envs/prod/deployment.yaml"); !strings.Contains(prod, w.Digest["api:1.1.0"]) {
		t.Errorf("prod branch lacks the promoted digest:\n%s", prod)
	}
	if prod := w.Show("main", "envs/prod/deployment.yaml"); strings.Contains(prod, "1.1.0") {
		t.Errorf("a pull-request environment was written on main:\n%s", prod)
	}

	// Again: same branch, nothing new.
	branchHead := w.Head("ferry/prod/from-staging")
	if _, err = promote.Promote(ctx, opts, "staging", "prod"); err != nil {
		t.Fatal(err)
	}
	if w.Head("ferry/prod/from-staging") != branchHead {
		t.Error("a repeated promotion rewrote the branch with nothing new")
	}
}

func TestPromoteRefusesWhatNoLongerVerifies(t *testing.T) {
	w := promotetest.New(t, nil)
	ctx := context.Background()
	// dev gets api and worker 1.1.0 from the registry; then someone puts the unsigned worker
	// 1.2.0 into dev by hand.
	opts := w.Options()
	if _, err := promote.Watch(ctx, opts, promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	seed := t.TempDir()
	promotetest.Git(t, "", "clone", "-q", w.Bare, seed)
	p := filepath.Join(seed, "envs/dev/kustomization.yaml")
	overlay := "resources: [../../base]\nimages:\n" +
		"  - {name: " + w.Repository("api") + ", newTag: 1.1.0, digest: " + w.Digest["api:1.1.0"] + "}\n" +
		"  - {name: " + w.Repository("worker") + ", newTag: 1.2.0, digest: " + w.Digest["worker:1.2.0"] + "}\n"
	if err := os.WriteFile(p, []byte(overlay), 0o644); err != nil {
		t.Fatal(err)
	}
	promotetest.Git(t, seed, "-c", "user.name=dev", "-c", "user.email=dev@example.test", "commit", "-qam", "hand edit")
	promotetest.Git(t, seed, "push", "-q", "origin", "main")

	res, err := promote.Promote(ctx, opts, "dev", "staging")
	if !errors.Is(err, promote.ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	st := w.Show("main", "envs/staging/values.yaml")
	if strings.Contains(st, "1.2.0") || strings.Contains(st, w.Digest["worker:1.2.0"]) {
		t.Errorf("unsigned worker reached staging:\n%s", st)
	}
	if !strings.Contains(st, "digest: "+w.Digest["api:1.1.0"]) {
		t.Errorf("verified api was not promoted alongside the refusal:\n%s", st)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Image != "worker" || res.Skipped[0].Reason != registry.ReasonUnsigned {
		t.Errorf("skipped = %+v", res.Skipped)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	w := promotetest.New(t, nil)
	before := w.Head("main")
	opts := w.Options()
	opts.DryRun = true
	res, err := promote.Watch(context.Background(), opts, promote.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Head("main") != before {
		t.Fatal("dry run wrote")
	}
	// It reports the commit it would make, without a SHA.
	if diff := cmp.Diff([]promote.Commit{{Environment: "dev", Branch: "main"}}, res.Commits); diff != "" {
		t.Errorf("dry-run commits (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.Diff, "+") || !strings.Contains(res.Diff, "envs/dev/") {
		t.Errorf("dry run diff:\n%s", res.Diff)
	}
	if len(res.Plan) == 0 {
		t.Error("dry run has no plan")
	}
}

func TestStatus(t *testing.T) {
	w := promotetest.New(t, nil)
	ctx := context.Background()
	if _, err := promote.Watch(ctx, w.Options(), promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := promote.Status(ctx, w.Options())
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
	if dev.Tag != "1.1.0" || dev.Digest != w.Digest["api:1.1.0"] || !dev.Verified || dev.Behind != 1 {
		t.Errorf("dev/api = %+v, want 1.1.0, its digest, verified, 1 behind (1.2.0)", dev)
	}
	prod := got["prod/api"]
	if prod.Tag != "1.0.0" || !prod.Verified || prod.Behind != 2 {
		t.Errorf("prod/api = %+v", prod)
	}
}

func TestSignedCommitsAndUnverifiedTrailer(t *testing.T) {
	keyDir := t.TempDir()
	key := filepath.Join(keyDir, "signing")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ferry", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	priv, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FERRY_TEST_SIGNING_KEY", string(priv))

	// worker is deployed without verification; commits are signed with the SSH key.
	const cfg = `images:
  - name: api
    repository: {{REG}}/acme/api
    policy:
      semver: ">=1.0.0 <2.0.0"
    verify:
      - key: keys/api.pub
  - name: worker
    repository: {{REG}}/acme/worker
    policy:
      semver: ">=1.0.0 <2.0.0"
    insecureSkipVerify: true
    markers: [flux-system:worker]
environments:
  - {name: dev, path: envs/dev, source: registry, write: commit}
  - {name: staging, path: envs/staging, source: dev, write: commit}
  - {name: prod, path: envs/prod, source: staging, write: pull-request}
git:
  branch: main
  author: ferry-test <ferry@example.test>
  signingKey: {ssh: env://FERRY_TEST_SIGNING_KEY}
`
	w := promotetest.New(t, map[string]string{"ferry.yaml": cfg})
	res, err := promote.Bump(context.Background(), w.Options(), []string{w.Reg.Ref("acme/worker:1.2.0")})
	if err != nil {
		t.Fatalf("bump of an image with insecureSkipVerify: %v", err)
	}
	if len(res.Commits) != 1 {
		t.Fatalf("commits = %+v", res.Commits)
	}
	msg := promotetest.Git(t, w.Bare, "log", "-1", "--format=%B", "main")
	if !strings.Contains(msg, "Ferry-Unverified: worker") || !strings.Contains(msg, "(unverified)") {
		t.Errorf("the commit does not say worker is unverified:\n%s", msg)
	}

	allowed := filepath.Join(keyDir, "allowed_signers")
	if err := os.WriteFile(allowed, []byte("ferry@example.test "+string(pub)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", "main")
	cmd.Dir = w.Bare
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("git verify-commit: %v\n%s", err, out)
	}
	// The seed commit is unsigned: verify-commit must fail there, so the check above is real.
	cmd = exec.Command("git", "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", "main~1")
	cmd.Dir = w.Bare
	if err := cmd.Run(); err == nil {
		t.Error("git verify-commit accepted the unsigned seed commit")
	}
}

// A pull-request environment whose remote is a plain HTTP repository with no owner/repo path
// (no forge can be inferred) gets its branch pushed and reported, as with a path remote.
func TestPullRequestBranchOverPlainHTTPRemote(t *testing.T) {
	w := promotetest.New(t, nil)
	url, _ := gittest.RepoURL(t, w.Bare, "ferry", "secret-token")
	opts := w.Options()
	opts.Repo = url
	opts.GitAuth = gitrepo.Auth{Username: "ferry", Token: "secret-token"}
	opts.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	ctx := context.Background()
	if _, err := promote.Watch(ctx, opts, promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := promote.Promote(ctx, opts, "dev", "staging"); err != nil {
		t.Fatal(err)
	}
	res, err := promote.Promote(ctx, opts, "staging", "prod")
	if err != nil {
		t.Fatalf("promote staging prod over %s: %v", url, err)
	}
	want := []promote.PullRequest{{Environment: "prod", Branch: "ferry/prod/from-staging"}}
	if diff := cmp.Diff(want, res.PullRequests); diff != "" {
		t.Errorf("pull requests (-want +got):\n%s", diff)
	}
}

// A GitHub App configured in Options reaches the forge instead of the token.
func TestGitHubAppReachesTheForge(t *testing.T) {
	const cfg = `images:
  - name: api
    repository: {{REG}}/acme/api
    policy: {semver: ">=1.0.0 <2.0.0"}
    verify: [{key: keys/api.pub}]
environments:
  - {name: dev, path: envs/dev, source: registry, write: pull-request}
git:
  branch: main
  pullRequest: {provider: github, url: "http://127.0.0.1:9/api/v3"}
`
	w := promotetest.New(t, map[string]string{"ferry.yaml": cfg})
	// An HTTP remote with an owner/repo path, as a forge's would be.
	root := t.TempDir()
	promotetest.Git(t, "", "clone", "-q", "--bare", w.Bare, filepath.Join(root, "acme", "config.git"))
	srv := gittest.ServeHTTP(t, root, "ferry", "git-token")
	errStop := errors.New("stop here")
	var got forge.Config
	opts := w.Options()
	opts.Repo = srv.URL + "/acme/config.git"
	opts.GitAuth = gitrepo.Auth{Username: "ferry", Token: "git-token"}
	opts.GitHubApp = promote.GitHubApp{AppID: 7, InstallationID: 99, PrivateKeyPath: "/keys/app.pem"}
	opts.ForgeToken = func(string) string { return "a-token-that-must-not-be-used" }
	opts.NewForge = func(c forge.Config) (forge.Forge, error) { got = c; return nil, errStop }
	if res, err := promote.Watch(context.Background(), opts, promote.WatchOptions{}); !errors.Is(err, errStop) {
		t.Fatalf("watch: %v, want the forge to be asked for; result %+v", err, res)
	}
	if got.AppID != 7 || got.InstallationID != 99 || got.PrivateKeyPath != "/keys/app.pem" || got.Token != "" {
		t.Errorf("forge config = %+v, want the App and no token", got)
	}
}
