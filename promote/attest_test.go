package promote_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/promotetest"
	"github.com/ferryhq/ferry/registry"
)

func provenance(repo, ref string) string {
	return `{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1","externalParameters":{"workflow":{"ref":"` + ref +
		`","repository":"` + repo + `","path":".github/workflows/release.yml"}}},"runDetails":{"builder":{"id":"https://github.com/actions/runner/github-hosted"}}}`
}

// TestAttestationGates: watch writes only what carries the required provenance, names where it
// was built in Ferry-Signer, and walks past a tag built from another branch; promote
// re-verifies against ferry.yaml as it is at the tip, so a stricter requirement holds the
// promotion back.
func TestAttestationGates(t *testing.T) {
	ctx := context.Background()
	w := promotetest.NewWorld(t, promotetest.Spec{VerifyExtra: `attestations:
  - predicateType: slsaprovenance1
    match:
      buildDefinition.externalParameters.workflow.repository: https://github.com/acme/api
      buildDefinition.externalParameters.workflow.ref: /^refs/heads/main$/
`})
	main := provenance("https://github.com/acme/api", "refs/heads/main")
	w.Attest("api", w.Digest["api:1.0.0"], registry.PredicateSLSAProvenance1, main)
	w.Attest("api", w.Digest["api:1.1.0"], registry.PredicateSLSAProvenance1, main)
	w.Attest("worker", w.Digest["worker:1.0.0"], registry.PredicateSLSAProvenance1, main)
	w.Attest("worker", w.Digest["worker:1.1.0"], registry.PredicateSLSAProvenance1, provenance("https://github.com/acme/api", "refs/heads/experiment"))

	res, err := promote.Watch(ctx, w.Options(), promote.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kust := w.Show("main", "envs/dev/kustomization.yaml")
	if !strings.Contains(kust, w.Digest["api:1.1.0"]) || !strings.Contains(kust, w.Digest["worker:1.0.0"]) || strings.Contains(kust, w.Digest["worker:1.1.0"]) {
		t.Errorf("dev should hold api 1.1.0 and worker 1.0.0 (1.1.0 was built from another branch):\n%s", kust)
	}
	var refused []string
	for _, s := range res.Skipped {
		if s.Reason == registry.ReasonAttestation {
			refused = append(refused, s.Image+":"+s.Tag)
			if !strings.Contains(s.Detail, `workflow.ref is "refs/heads/experiment", want /^refs/heads/main$/`) {
				t.Errorf("detail %q does not name the field that did not match", s.Detail)
			}
		}
	}
	if strings.Join(refused, ",") != "worker:1.1.0" {
		t.Errorf("refused for attestation: %v, want [worker:1.1.0] (skipped: %+v)", refused, res.Skipped)
	}
	msg := promotetest.Git(t, w.Bare, "log", "-1", "--format=%B", "main")
	if want := "Ferry-Signer: api=key keys/api.pub (built from https://github.com/acme/api@refs/heads/main)"; !strings.Contains(msg, want) {
		t.Errorf("commit message lacks %q:\n%s", want, msg)
	}

	// bump of a ref whose provenance fails: nothing written, ErrRefused.
	head := w.Head("main")
	if _, err := promote.Bump(ctx, w.Options(), []string{w.Reg.Ref("acme/worker:1.1.0")}); !errors.Is(err, promote.ErrRefused) || !strings.Contains(err.Error(), "(attestation)") {
		t.Errorf("bump worker:1.1.0: err = %v, want ErrRefused for its attestation", err)
	}
	if w.Head("main") != head {
		t.Error("bump wrote a commit for a refused image")
	}

	// A stricter ferry.yaml at the tip: only tags may be promoted. Nothing dev runs qualifies.
	dir := t.TempDir()
	promotetest.Git(t, "", "clone", "-q", w.Bare, dir)
	cfg := filepath.Join(dir, "ferry.yaml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(string(b), "/^refs/heads/main$/", "/^refs/tags/v/")), 0o644); err != nil {
		t.Fatal(err)
	}
	promotetest.Git(t, dir, "-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-qam", "only tags")
	promotetest.Git(t, dir, "push", "-q", "origin", "main")
	before := w.Show("main", "envs/staging/values.yaml")
	res, err = promote.Promote(ctx, w.Options(), "dev", "staging")
	if !errors.Is(err, promote.ErrRefused) {
		t.Fatalf("promote: err = %v, want ErrRefused", err)
	}
	if after := w.Show("main", "envs/staging/values.yaml"); after != before {
		t.Errorf("staging was written although nothing in dev passes the tip's attestation rules:\n%s", after)
	}
	n := 0
	for _, s := range res.Skipped {
		if s.Reason == registry.ReasonAttestation && strings.Contains(s.Detail, "want /^refs/tags/v/") {
			n++
		}
	}
	if n != 1 || len(res.Commits) != 0 { // api; worker 1.0.0 is what staging runs already
		t.Errorf("promote: %d attestation refusals (want 1, api), commits %+v; skipped %+v", n, res.Commits, res.Skipped)
	}

	// rollback verifies what it goes back to, attestations included.
	head = w.Head("main")
	_, err = promote.Rollback(ctx, w.Options(), "dev", promote.RollbackOptions{Images: []string{"api"}})
	if !errors.Is(err, promote.ErrRefused) || !strings.Contains(err.Error(), "want /^refs/tags/v/") {
		t.Errorf("rollback of api in dev: err = %v, want ErrRefused for its attestation", err)
	}
	if w.Head("main") != head {
		t.Error("rollback wrote a commit for a refused image")
	}
}
