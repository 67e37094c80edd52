package ferry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/internal/testenv"
)

// signWithKey signs repo@digest in cosign 2's layout.
func signWithKey(t *testing.T, repo, digest string, key *sigtest.KeyPair) {
	t.Helper()
	ref, err := name.NewDigest(repo + "@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := sigtest.SignWithKey(context.Background(), ref, key); err != nil {
		t.Fatalf("signing %s: %v", ref, err)
	}
}

// testRegistry serves go-containerregistry's registry on loopback and returns its host.
func testRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// pushRandom pushes a random image as ref and returns its digest.
func pushRandom(t *testing.T, ref string) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// git runs git in dir with a fixed identity and returns its output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(testenv.Git(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=seed", "GIT_AUTHOR_EMAIL=seed@example.com",
		"GIT_COMMITTER_NAME=seed", "GIT_COMMITTER_EMAIL=seed@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// bareConfigRepo makes a bare repository whose main branch holds files, and returns its path.
func bareConfigRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "config.git")
	git(t, ".", "init", "--bare", "--initial-branch=main", bare)
	work := t.TempDir()
	git(t, work, "init", "--initial-branch=main")
	for p, content := range files {
		full := filepath.Join(work, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, work, "add", "-A")
	git(t, work, "commit", "-m", "seed")
	git(t, work, "push", bare, "main")
	return bare
}

const deploymentTmpl = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: %s # the API server
`

// TestActionEndToEnd uses the action as a workflow would, with the real ferry it builds, a
// registry on loopback and a bare config repo: watch commits to dev, a second watch changes
// nothing and reuses the cached binary, promote pushes the staging branch, status prints the
// matrix, and an error still sets the outputs and fails the step.
// The images are signed with a key made here; a bump of an unsigned tag must exit 3.
func TestActionEndToEnd(t *testing.T) {
	host := testRegistry(t)
	repo := host + "/acme/api"
	key, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	signWithKey(t, repo, pushRandom(t, repo+":1.0.0"), key)
	want := pushRandom(t, repo+":1.1.0")
	signWithKey(t, repo, want, key)

	bare := bareConfigRepo(t, map[string]string{
		"ferry.yaml": fmt.Sprintf(`images:
  - name: api
    repository: %s
    policy:
      semver: ">=1.0.0"
    verify:
      - key: keys/cosign.pub
environments:
  - name: dev
    path: envs/dev
    source: registry
    write: commit
  - name: staging
    path: envs/staging
    source: dev
    write: pull-request
git:
  branch: main
`, repo),
		"keys/cosign.pub":              string(key.PublicPEM),
		"envs/dev/deployment.yaml":     fmt.Sprintf(deploymentTmpl, repo+":1.0.0"),
		"envs/staging/deployment.yaml": fmt.Sprintf(deploymentTmpl, repo+":1.0.0"),
	})

	r := newRunner(t)
	r.extraEnv = []string{"FERRY_CACHE_DIR=" + t.TempDir()}
	type commit struct{ Environment, SHA, Branch string }
	type pr struct {
		Environment, Branch, URL string
		Updated                  bool
	}

	// 1. watch: dev moves to 1.1.0, pinned by digest.
	res := r.run(map[string]string{"command": "watch", "repo": bare})
	if res.failed {
		t.Fatalf("watch failed:\n%s", res)
	}
	if res.step(t, "Build ferry").skipped {
		t.Errorf("the first run did not build ferry")
	}
	if res.outputs["changed"] != "true" {
		t.Errorf("changed = %q, want true", res.outputs["changed"])
	}
	var commits []commit
	if err := json.Unmarshal([]byte(res.outputs["commits"]), &commits); err != nil {
		t.Fatalf("commits output %q: %v", res.outputs["commits"], err)
	}
	head := strings.TrimSpace(git(t, bare, "rev-parse", "main"))
	if diff := cmp.Diff([]commit{{Environment: "dev", SHA: head, Branch: "main"}}, commits); diff != "" {
		t.Errorf("commits output (-want +got):\n%s", diff)
	}
	devFile := git(t, bare, "show", "main:envs/dev/deployment.yaml")
	if wantFile := fmt.Sprintf(deploymentTmpl, repo+":1.1.0@"+want); devFile != wantFile {
		t.Errorf("envs/dev/deployment.yaml after watch:\n%s\nwant:\n%s", devFile, wantFile)
	}
	for _, s := range []string{"### ferry watch", "| dev | api | envs/dev/deployment.yaml:", "| dev | `" + head + "` | `main` |"} {
		if !strings.Contains(res.summary, s) {
			t.Errorf("watch summary lacks %q:\n%s", s, res.summary)
		}
	}

	// 2. watch again: nothing new, and ferry comes from the cache.
	res = r.run(map[string]string{"command": "watch", "repo": bare})
	if res.failed {
		t.Fatalf("second watch failed:\n%s", res)
	}
	if !res.step(t, "Build ferry").skipped {
		t.Errorf("the second run rebuilt ferry instead of using the cache")
	}
	if diff := cmp.Diff(map[string]string{"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]", "skipped": "[]"}, res.outputs); diff != "" {
		t.Errorf("second watch outputs (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.summary, "Nothing to change.") {
		t.Errorf("second watch summary:\n%s", res.summary)
	}

	// 3. promote dev staging: no forge for a path remote, so the branch is pushed and reported.
	res = r.run(map[string]string{"command": "promote", "args": "dev staging", "repo": bare})
	if res.failed {
		t.Fatalf("promote failed:\n%s", res)
	}
	var prs []pr
	if err := json.Unmarshal([]byte(res.outputs["pull-requests"]), &prs); err != nil {
		t.Fatalf("pull-requests output %q: %v", res.outputs["pull-requests"], err)
	}
	if diff := cmp.Diff([]pr{{Environment: "staging", Branch: "ferry/staging/from-dev"}}, prs); diff != "" {
		t.Errorf("pull-requests output (-want +got):\n%s", diff)
	}
	if res.outputs["changed"] != "true" {
		t.Errorf("promote: changed = %q, want true", res.outputs["changed"])
	}
	stagingFile := git(t, bare, "show", "ferry/staging/from-dev:envs/staging/deployment.yaml")
	if !strings.Contains(stagingFile, repo+":1.1.0@"+want) {
		t.Errorf("the staging branch does not run dev's digest:\n%s", stagingFile)
	}
	if !strings.Contains(res.summary, "| staging | (no forge: open it by hand) | `ferry/staging/from-dev` | pushed |") {
		t.Errorf("promote summary:\n%s", res.summary)
	}

	// 4. status: the matrix goes to the summary; nothing changes.
	res = r.run(map[string]string{"command": "status", "repo": bare})
	if res.failed {
		t.Fatalf("status failed:\n%s", res)
	}
	if res.outputs["changed"] != "false" || !strings.Contains(res.summary, "| dev | api | `1.1.0` |") {
		t.Errorf("status: outputs %v, summary:\n%s", res.outputs, res.summary)
	}

	// 5. bump of a repository ferry.yaml does not name: exit 1, outputs still set.
	res = r.run(map[string]string{"command": "bump", "args": host + "/acme/other:1.0.0", "repo": bare})
	if !res.failed || res.code != 1 {
		t.Fatalf("bump of an unknown repository: failed %v, code %d, want exit 1\n%s", res.failed, res.code, res)
	}
	if res.outputs["changed"] != "false" || !strings.Contains(res.summary, "**ferry failed** (exit code 1)") {
		t.Errorf("failed bump: outputs %v, summary:\n%s", res.outputs, res.summary)
	}

	// 6. bump of an unsigned tag: refused, exit 3, nothing written, outputs and summary set.
	pushRandom(t, repo+":1.2.0")
	head = strings.TrimSpace(git(t, bare, "rev-parse", "main"))
	res = r.run(map[string]string{"command": "bump", "args": repo + ":1.2.0", "repo": bare})
	if !res.failed || res.code != 3 {
		t.Fatalf("bump of an unsigned tag: failed %v, code %d, want exit 3\n%s", res.failed, res.code, res)
	}
	if res.outputs["changed"] != "false" || res.outputs["commits"] != "[]" {
		t.Errorf("refused bump: outputs %v", res.outputs)
	}
	if !strings.Contains(res.summary, "**Verification refused an image** (exit code 3)") {
		t.Errorf("refused bump summary:\n%s", res.summary)
	}
	if after := strings.TrimSpace(git(t, bare, "rev-parse", "main")); after != head {
		t.Errorf("a refused bump moved main from %s to %s", head, after)
	}

	// 7. rollback: dev goes back to what it ran before; a commit, reported like bump's.
	res = r.run(map[string]string{"command": "rollback", "args": "dev", "repo": bare})
	if res.failed || res.outputs["changed"] != "true" || !strings.Contains(res.outputs["commits"], `"environment":"dev"`) {
		t.Fatalf("rollback: outputs %v\n%s", res.outputs, res)
	}
	if msg := git(t, bare, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "Ferry-Rollback: api="+repo+":1.1.0@"+want) {
		t.Errorf("rollback commit:\n%s", msg)
	}

	// 8. history: the DORA table and the events go to the job summary.
	res = r.run(map[string]string{"command": "history", "repo": bare})
	if res.failed || res.outputs["changed"] != "false" {
		t.Fatalf("history: outputs %v\n%s", res.outputs, res)
	}
	for _, s := range []string{"| environment | deployments |", "| dev | api | rollback |", "| dev | 3 | "} {
		if !strings.Contains(res.summary, s) {
			t.Errorf("history summary lacks %q:\n%s", s, res.summary)
		}
	}

	// The token never reaches the config repo.
	if log := git(t, bare, "log", "-p", "--all"); strings.Contains(log, r.token) {
		t.Errorf("the token is in the config repo's history")
	}
}
