package promote_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/gitrepo"
	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
	"github.com/ferryhq/ferry/promote/promotetest"
)

// On a remote that allows partial clones (as GitHub, GitLab and Gitea do), a bump into a big
// config repo fetches its trees, ferry.yaml, and the files ferry.yaml names in one request,
// whatever else the repo holds; a rollback reads the old versions it needs the same way.
func TestPartialCloneBumpAndRollback(t *testing.T) {
	w := promotetest.New(t, nil)
	w.Fill(1500)
	gittest.AllowPartial(t, w.Bare)
	promotetest.Git(t, w.Bare, "config", "http.receivepack", "true")
	const token = "tok-partial-3b9e"
	url, srv := gittest.RepoURL(t, w.Bare, gitrepo.DefaultUsername, token)
	opts := w.Options()
	opts.Repo, opts.GitAuth = url, gitrepo.Auth{Token: token}
	ctx := context.Background()
	before := w.Show("main", "envs/dev/kustomization.yaml")

	res, err := promote.Bump(ctx, opts, []string{w.Reg.Ref("acme/api:1.1.0")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commits) != 1 {
		t.Fatalf("commits = %+v", res.Commits)
	}
	// 2 requests each (advertisement, then the exchange): the tip's trees; ferry.yaml (with
	// the other files beside it); the files ferry.yaml names; the base the dev overlay names;
	// one deepening of the history (commits and trees only); the push. Nothing per file.
	if n := srv.Served(); n != 12 {
		t.Errorf("bump made %d requests to the git server, want 12", n)
	}
	sha := res.Commits[0].SHA
	if got := promotetest.Git(t, w.Bare, "diff", "--name-only", sha+"^", sha); strings.TrimSpace(got) != "envs/dev/kustomization.yaml" {
		t.Errorf("the bump changed %q", got)
	}
	if kust := w.Show("main", "envs/dev/kustomization.yaml"); !strings.Contains(kust, w.Digest["api:1.1.0"]) || !strings.Contains(kust, "# bumped by ferry") {
		t.Errorf("dev not bumped, or its comment lost:\n%s", kust)
	}

	if _, err := promote.Rollback(ctx, opts, "dev", promote.RollbackOptions{Images: []string{"api"}}); err != nil {
		t.Fatal(err)
	}
	// The rollback pins the version dev ran before to the digest that verified.
	got := w.Show("main", "envs/dev/kustomization.yaml")
	if !strings.Contains(before, "newTag: 1.0.0") || !strings.Contains(got, "newTag: 1.0.0") ||
		!strings.Contains(got, "digest: "+w.Digest["api:1.0.0"]) || strings.Contains(got, w.Digest["api:1.1.0"]) {
		t.Errorf("rollback left dev at:\n%s\nit was:\n%s", got, before)
	}
	gittest.Fsck(t, w.Bare)
	gittest.AssertNoForcePush(t, w.Bare, "main")
}
