package forge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/promote/forge"
	"github.com/ferryhq/ferry/promote/forge/giteatest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	giteatest.StopShared()
	os.Exit(code)
}

// checkout is a clone of a Gitea repository that pushes with the admin's token.
type checkout struct {
	t    *testing.T
	dir  string
	repo giteatest.Repo
}

func clone(t *testing.T, repo giteatest.Repo) *checkout {
	dir := t.TempDir()
	giteatest.Git(t, dir, "clone", "-q", repo.PushURL, ".")
	return &checkout{t: t, dir: dir, repo: repo}
}

// pushBranch commits a file on branch (from main) and force-pushes it, as ferry does with its
// own branch.
func (c *checkout) pushBranch(branch, file, content string) {
	c.t.Helper()
	giteatest.Git(c.t, c.dir, "checkout", "-q", "-B", branch, "origin/main")
	if err := os.WriteFile(filepath.Join(c.dir, file), []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
	giteatest.Git(c.t, c.dir, "add", file)
	giteatest.Git(c.t, c.dir, "commit", "-q", "-m", "ferry: "+content)
	giteatest.Git(c.t, c.dir, "push", "-q", "--force", "origin", branch)
}

func newGitea(t *testing.T, repo giteatest.Repo, token string) forge.Forge {
	t.Helper()
	f, err := forge.New(forge.Config{Provider: "gitea", RemoteURL: repo.CloneURL, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// pulls lists every pull request of repo in the given state, straight from the API.
func pulls(t *testing.T, repo giteatest.Repo, state gitea.StateType) []*gitea.PullRequest {
	t.Helper()
	c, err := giteatest.Shared(t).Client()
	if err != nil {
		t.Fatal(err)
	}
	prs, _, err := c.ListRepoPullRequests(repo.Owner, repo.Name, gitea.ListPullRequestsOptions{State: state, ListOptions: gitea.ListOptions{PageSize: 50}})
	if err != nil {
		t.Fatal(err)
	}
	return prs
}

// merge merges pull request number through the API. Gitea answers 405 while it is still
// checking mergeability after a push (and its SDK reports that as false, not an error), so it
// asks again, a bounded number of times.
func merge(t *testing.T, repo giteatest.Repo, number int) {
	t.Helper()
	c, err := giteatest.Shared(t).Client()
	if err != nil {
		t.Fatal(err)
	}
	for try := 0; try < 60; try++ {
		ok, resp, err := c.MergePullRequest(repo.Owner, repo.Name, int64(number), gitea.MergePullRequestOption{Style: gitea.MergeStyleMerge})
		if err != nil {
			t.Fatalf("merging #%d: %v", number, err)
		}
		if ok {
			return
		}
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("merging #%d: status %d", number, resp.StatusCode)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("merging #%d: Gitea still refuses after 30s", number)
}

type prView struct {
	Title, Body, Head, Base string
	Labels, Assignees       []string
	Draft                   bool
}

func view(t *testing.T, repo giteatest.Repo, number int) prView {
	t.Helper()
	c, err := giteatest.Shared(t).Client()
	if err != nil {
		t.Fatal(err)
	}
	pr, _, err := c.GetPullRequest(repo.Owner, repo.Name, int64(number))
	if err != nil {
		t.Fatal(err)
	}
	v := prView{Title: pr.Title, Body: pr.Body, Head: pr.Head.Ref, Base: pr.Base.Ref, Draft: pr.Draft}
	for _, l := range pr.Labels {
		v.Labels = append(v.Labels, l.Name)
	}
	for _, u := range pr.Assignees {
		v.Assignees = append(v.Assignees, u.UserName)
	}
	slices.Sort(v.Labels)
	slices.Sort(v.Assignees)
	return v
}

func TestGiteaPullRequestLifecycle(t *testing.T) {
	srv := giteatest.Shared(t)
	ctx := context.Background()
	repo := srv.CreateRepo(t, "lifecycle")
	reviewer := srv.CreateUser(t, "rita")
	assignee := srv.CreateUser(t, "adam")
	srv.AddCollaborator(t, repo, assignee)
	srv.AddCollaborator(t, repo, reviewer)
	co := clone(t, repo)
	f := newGitea(t, repo, srv.Token)

	const head = "ferry/prod/from-staging"
	co.pushBranch(head, "prod.yaml", "api 1.4.2")
	spec := forge.Spec{
		Head: head, Base: "main", Title: "Promote staging to prod",
		Body:   forge.Body([]forge.BodyRow{{Image: "api", From: "ghcr.io/acme/api:1.4.1", To: "ghcr.io/acme/api:1.4.2@sha256:aa", Digest: "sha256:aa", Signer: "keys/api.pub"}}),
		Labels: []string{"promotion", "prod"}, Reviewers: []string{reviewer}, Assignees: []string{assignee},
	}

	// First run: opens the pull request, creating the missing labels.
	first, err := f.EnsurePullRequest(ctx, spec)
	if err != nil {
		t.Fatalf("opening: %v", err)
	}
	if first.Updated || first.Number == 0 || !strings.HasPrefix(first.URL, srv.URL+"/") {
		t.Errorf("first run = %+v, want a new pull request on %s", first, srv.URL)
	}
	want := prView{Title: spec.Title, Body: spec.Body, Head: head, Base: "main", Labels: []string{"prod", "promotion"}, Assignees: []string{assignee}}
	if diff := cmp.Diff(want, view(t, repo, first.Number)); diff != "" {
		t.Errorf("opened pull request (-want +got):\n%s", diff)
	}
	c, err := giteatest.Shared(t).Client()
	if err != nil {
		t.Fatal(err)
	}
	reviews, _, err := c.ListPullReviews(repo.Owner, repo.Name, int64(first.Number), gitea.ListPullReviewsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var requested []string
	for _, r := range reviews {
		if r.State == gitea.ReviewStateRequestReview && r.Reviewer != nil {
			requested = append(requested, r.Reviewer.UserName)
		}
	}
	if diff := cmp.Diff([]string{reviewer}, requested); diff != "" {
		t.Errorf("review requests (-want +got):\n%s", diff)
	}

	// A newer promotion force-pushes ferry's branch; the second run updates the same pull
	// request in place: title and body refreshed, a new label added, no duplicate.
	co.pushBranch(head, "prod.yaml", "api 1.4.3")
	spec.Title = "Promote staging to prod (api 1.4.3)"
	spec.Body = forge.Body([]forge.BodyRow{{Image: "api", From: "ghcr.io/acme/api:1.4.1", To: "ghcr.io/acme/api:1.4.3@sha256:bb", Digest: "sha256:bb"}})
	spec.Labels = []string{"promotion", "superseded"}
	second, err := f.EnsurePullRequest(ctx, spec)
	if err != nil {
		t.Fatalf("updating: %v", err)
	}
	if diff := cmp.Diff(&forge.PullRequest{Number: first.Number, URL: first.URL, Updated: true}, second); diff != "" {
		t.Errorf("second run (-want +got):\n%s", diff)
	}
	want = prView{Title: spec.Title, Body: spec.Body, Head: head, Base: "main", Labels: []string{"prod", "promotion", "superseded"}, Assignees: []string{assignee}}
	if diff := cmp.Diff(want, view(t, repo, first.Number)); diff != "" {
		t.Errorf("updated pull request (-want +got):\n%s", diff)
	}
	if n := len(pulls(t, repo, gitea.StateOpen)); n != 1 {
		t.Errorf("open pull requests = %d, want 1", n)
	}

	// Merge it through the API; Wait sees it merged.
	if st, err := f.State(ctx, first.Number); err != nil || st != forge.StateOpen {
		t.Fatalf("State before merge = %q, %v; want open", st, err)
	}
	merge(t, repo, first.Number)
	st, err := forge.Wait(ctx, f, first.Number, 100*time.Millisecond, 2*time.Minute)
	if err != nil || st != forge.StateMerged {
		t.Fatalf("Wait = %q, %v; want merged", st, err)
	}

	// The merged pull request is not reused: the next promotion opens a new one.
	co.pushBranch(head, "prod.yaml", "api 1.5.0")
	third, err := f.EnsurePullRequest(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if third.Updated || third.Number == first.Number {
		t.Errorf("after merge: %+v, want a new pull request", third)
	}

	// Closed without merging: State and Wait say closed.
	closed := gitea.StateClosed
	if _, _, err := c.EditPullRequest(repo.Owner, repo.Name, int64(third.Number), gitea.EditPullRequestOption{State: &closed}); err != nil {
		t.Fatal(err)
	}
	st, err = forge.Wait(ctx, f, third.Number, 100*time.Millisecond, 2*time.Minute)
	if err != nil || st != forge.StateClosed {
		t.Fatalf("Wait = %q, %v; want closed", st, err)
	}
}

func TestGiteaWaitTimeout(t *testing.T) {
	srv := giteatest.Shared(t)
	repo := srv.CreateRepo(t, "timeout")
	co := clone(t, repo)
	f := newGitea(t, repo, srv.Token)
	co.pushBranch("ferry/dev/api", "dev.yaml", "api 1.0.0")
	pr, err := f.EnsurePullRequest(context.Background(), forge.Spec{Head: "ferry/dev/api", Base: "main", Title: "Bump api"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := forge.Wait(context.Background(), f, pr.Number, 50*time.Millisecond, 300*time.Millisecond)
	if !errors.Is(err, forge.ErrWaitTimeout) || st != forge.StateOpen {
		t.Errorf("Wait = %q, %v; want open and ErrWaitTimeout", st, err)
	}
}

func TestGiteaDraftAndAutoMerge(t *testing.T) {
	srv := giteatest.Shared(t)
	ctx := context.Background()
	repo := srv.CreateRepo(t, "automerge")
	co := clone(t, repo)
	f := newGitea(t, repo, srv.Token)

	co.pushBranch("ferry/staging/api", "staging.yaml", "api 2.0.0")
	draft, err := f.EnsurePullRequest(ctx, forge.Spec{Head: "ferry/staging/api", Base: "main", Title: "Bump api", Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	v := view(t, repo, draft.Number)
	if !v.Draft || v.Title != "WIP: Bump api" {
		t.Errorf("draft pull request: title %q draft %v, want a WIP title and draft", v.Title, v.Draft)
	}
	// Updating keeps the draft state.
	if _, err := f.EnsurePullRequest(ctx, forge.Spec{Head: "ferry/staging/api", Base: "main", Title: "Bump api to 2.0.0"}); err != nil {
		t.Fatal(err)
	}
	if v := view(t, repo, draft.Number); v.Title != "WIP: Bump api to 2.0.0" {
		t.Errorf("updated draft title %q, want the WIP prefix kept", v.Title)
	}

	// Auto-merge: with no required checks, Gitea merges at once; Wait reports merged.
	co.pushBranch("ferry/prod/api", "prod.yaml", "api 2.0.0")
	pr, err := f.EnsurePullRequest(ctx, forge.Spec{Head: "ferry/prod/api", Base: "main", Title: "Bump api", AutoMerge: true})
	if err != nil {
		t.Fatalf("auto-merge: %v", err)
	}
	st, err := forge.Wait(ctx, f, pr.Number, 100*time.Millisecond, 2*time.Minute)
	if err != nil || st != forge.StateMerged {
		t.Fatalf("Wait after auto-merge = %q, %v; want merged", st, err)
	}
}

func TestGiteaErrors(t *testing.T) {
	srv := giteatest.Shared(t)
	repo := srv.CreateRepo(t, "errors")
	co := clone(t, repo)
	co.pushBranch("ferry/prod/api", "prod.yaml", "api 3.0.0")
	spec := forge.Spec{Head: "ferry/prod/api", Base: "main", Title: "Bump api"}

	readOnly := srv.NewToken(t, "read:repository")
	tests := []struct {
		name   string
		token  string
		repo   giteatest.Repo
		wantIs error
		wantIn []string
	}{
		{"read-only token", readOnly, repo, forge.ErrForbidden, []string{"403", "write:repository"}},
		{"invalid token", "0000000000000000000000000000000000000000", repo, forge.ErrUnauthorized, []string{"401", "GITEA_TOKEN"}},
		{"missing repository", srv.Token, giteatest.Repo{CloneURL: srv.URL + "/" + giteatest.Admin + "/nope.git"}, forge.ErrNotFound, []string{"404", giteatest.Admin + "/nope"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newGitea(t, tc.repo, tc.token)
			_, err := f.EnsurePullRequest(context.Background(), spec)
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("error %v, want %v", err, tc.wantIs)
			}
			t.Logf("error: %v", err)
			for _, s := range tc.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			for _, secret := range []string{tc.token, srv.Token} {
				if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), secret) {
					t.Errorf("the token appears in the error")
				}
			}
		})
	}
}
