package promote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/forge/giteatest"
	"github.com/ferryhq/ferry/promote/gitrepo"
	"github.com/ferryhq/ferry/promote/promotetest"
	"github.com/ferryhq/ferry/registry"
)

func TestMain(m *testing.M) {
	code := m.Run()
	giteatest.StopShared()
	os.Exit(code)
}

// prYAML is ferry.yaml for the pull-request tests. Besides promotetest's {{REG}}, it has
// {{GITEA}} (the server's base URL: a loopback host cannot be inferred), {{REVIEWER}} and
// {{ASSIGNEE}}, and {{DEVWRITE}} (how dev writes).
const prYAML = `images:
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
    markers: [flux-system:worker] # prod's manifest binds worker with a Flux marker
environments:
  - name: dev
    path: envs/dev
    source: registry
    write: {{DEVWRITE}}
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
    pullRequest:
      title: 'Promote {{ .Source }} to {{ .Environment }} ({{ range $i, $c := .Changes }}{{ if $i }}, {{ end }}{{ $c.Image }}{{ end }})'
      labels: [promotion, prod]
      reviewers: [{{REVIEWER}}]
      assignees: [{{ASSIGNEE}}]
git:
  branch: main
  author: ferry-test <ferry@example.test>
  pullRequest:
    provider: gitea
    url: {{GITEA}}
    labels: [promotion]
`

// prWorld is a promotetest world whose config repo lives on a real Gitea.
type prWorld struct {
	*promotetest.World
	srv                *giteatest.Server
	repo               giteatest.Repo
	api                *gitea.Client
	reviewer, assignee string
	log                *promotetest.Buffer // every run's log, at debug level
}

type prSetup struct {
	yaml     string            // ferry.yaml; default prYAML
	devWrite string            // default commit
	extra    map[string]string // more files for promotetest.New
}

// newPRWorld builds the registry and config repo, creates a Gitea repository with a reviewer
// and an assignee, and pushes the config repo's main into it.
func newPRWorld(t *testing.T, s prSetup) *prWorld {
	t.Helper()
	srv := giteatest.Shared(t)
	p := &prWorld{srv: srv, log: &promotetest.Buffer{}}
	p.repo = srv.CreateRepo(t, "config")
	p.reviewer = srv.CreateUser(t, "rita")
	p.assignee = srv.CreateUser(t, "adam")
	srv.AddCollaborator(t, p.repo, p.reviewer)
	srv.AddCollaborator(t, p.repo, p.assignee)
	var err error
	if p.api, err = srv.Client(); err != nil {
		t.Fatal(err)
	}
	if s.yaml == "" {
		s.yaml = prYAML
	}
	if s.devWrite == "" {
		s.devWrite = "commit"
	}
	extra := map[string]string{"ferry.yaml": strings.NewReplacer(
		"{{GITEA}}", srv.URL, "{{REVIEWER}}", p.reviewer, "{{ASSIGNEE}}", p.assignee, "{{DEVWRITE}}", s.devWrite,
	).Replace(s.yaml)}
	for k, v := range s.extra {
		extra[k] = v
	}
	p.World = promotetest.New(t, extra)
	// The Gitea repository was created with a README commit on main: replace it.
	giteatest.Git(t, p.Bare, "push", "-q", "--force", p.repo.PushURL, "main:main")
	return p
}

// options runs the pipeline against the Gitea repository over HTTP with the admin's token for
// both git and the API, logging at debug level into p.log.
func (p *prWorld) options() promote.Options {
	return promote.Options{
		Repo:            p.repo.CloneURL,
		RegistryOptions: []registry.Option{registry.WithCacheDir(p.T.TempDir())},
		GitAuth:         gitrepo.Auth{Token: p.srv.Token},
		ForgeToken:      func(string) string { return p.srv.Token },
		Log:             slog.New(slog.NewTextHandler(p.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// soaked is options with the clock a day and more ahead, so that prod's 24h soak gate is met.
func (p *prWorld) soaked() promote.Options {
	o := p.options()
	o.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	return o
}

// head is a branch's commit on Gitea, "" when the branch does not exist.
func (p *prWorld) head(branch string) string {
	p.T.Helper()
	out := giteatest.Git(p.T, "", "ls-remote", p.repo.PushURL, "refs/heads/"+branch)
	sha, _, _ := strings.Cut(strings.TrimSpace(out), "\t")
	return sha
}

func (p *prWorld) file(ref, path string) string {
	p.T.Helper()
	b, _, err := p.api.GetFile(p.repo.Owner, p.repo.Name, ref, path)
	if err != nil {
		p.T.Fatalf("reading %s at %s from Gitea: %v", path, ref, err)
	}
	return string(b)
}

func (p *prWorld) message(sha string) string {
	p.T.Helper()
	c, _, err := p.api.GetSingleCommit(p.repo.Owner, p.repo.Name, sha)
	if err != nil {
		p.T.Fatalf("reading commit %s from Gitea: %v", sha, err)
	}
	return c.RepoCommit.Message
}

func (p *prWorld) pulls(state gitea.StateType) []*gitea.PullRequest {
	p.T.Helper()
	prs, _, err := p.api.ListRepoPullRequests(p.repo.Owner, p.repo.Name, gitea.ListPullRequestsOptions{State: state, ListOptions: gitea.ListOptions{PageSize: 50}})
	if err != nil {
		p.T.Fatal(err)
	}
	return prs
}

func (p *prWorld) pull(number int) *gitea.PullRequest {
	p.T.Helper()
	pr, _, err := p.api.GetPullRequest(p.repo.Owner, p.repo.Name, int64(number))
	if err != nil {
		p.T.Fatal(err)
	}
	return pr
}

// openHeads lists the head branches of the open pull requests, sorted.
func (p *prWorld) openHeads() []string {
	p.T.Helper()
	var heads []string
	for _, pr := range p.pulls(gitea.StateOpen) {
		heads = append(heads, pr.Head.Ref)
	}
	slices.Sort(heads)
	return heads
}

// merge merges pull request number through the API. Gitea answers 405 while it still checks
// mergeability after a push, so it asks again, a bounded number of times. It returns an error
// rather than failing, so that it can run in a goroutine.
func (p *prWorld) merge(number int) error {
	for try := 0; try < 120; try++ {
		ok, resp, err := p.api.MergePullRequest(p.repo.Owner, p.repo.Name, int64(number), gitea.MergePullRequestOption{Style: gitea.MergeStyleMerge})
		if err != nil {
			return fmt.Errorf("merging #%d: %w", number, err)
		}
		if ok {
			return nil
		}
		if resp.StatusCode != http.StatusMethodNotAllowed {
			return fmt.Errorf("merging #%d: status %d", number, resp.StatusCode)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("merging #%d: Gitea still refuses after 30s", number)
}

// noToken fails when the token appears in the run's log or in any of texts.
func (p *prWorld) noToken(what string, texts ...string) {
	p.T.Helper()
	for i, s := range append(texts, p.log.String()) {
		if strings.Contains(s, p.srv.Token) {
			p.T.Errorf("%s: the Gitea token appears in text %d", what, i)
		}
	}
}

func labelsOf(pr *gitea.PullRequest) []string {
	var ls []string
	for _, l := range pr.Labels {
		ls = append(ls, l.Name)
	}
	slices.Sort(ls)
	return ls
}

func assigneesOf(pr *gitea.PullRequest) []string {
	var as []string
	for _, u := range pr.Assignees {
		as = append(as, u.UserName)
	}
	return as
}

func resultJSON(t *testing.T, res *promote.Result) string {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stagingAhead seeds staging one step ahead of prod: api 1.1.0 (tag only: its digest is
// resolved when promoted), worker 1.0.0 as in prod.
var stagingAhead = map[string]string{
	"envs/staging/deployment.yaml": promotetest.Deployment("{{REG}}/acme/api:1.1.0", "{{REG}}/acme/worker:1.0.0"),
}

// TestPromotePullRequestOnGitea runs promote staging prod through a real Gitea: the first run
// opens one pull request, a repeated run changes nothing, and a newer promotion updates the
// same pull request in place.
func TestPromotePullRequestOnGitea(t *testing.T) {
	p := newPRWorld(t, prSetup{extra: stagingAhead})
	ctx := context.Background()
	const branch = "ferry/prod/from-staging"
	mainBefore := p.head("main")
	prodBefore := p.file("main", "envs/prod/deployment.yaml")
	api := p.Reg.Host + "/acme/api"

	// Before the soak time has passed: a gate skip, nothing pushed, no pull request.
	res, err := promote.Promote(ctx, p.options(), "staging", "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.PullRequests) != 0 || len(res.Skipped) != 1 || res.Skipped[0].Reason != "gate" || p.head(branch) != "" {
		t.Fatalf("soak gate not applied: %s", resultJSON(t, res))
	}

	// The first promotion: one branch, one pull request into main.
	res, err = promote.Promote(ctx, p.soaked(), "staging", "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.PullRequests) != 1 {
		t.Fatalf("pull requests = %+v, want one", res.PullRequests)
	}
	first := res.PullRequests[0]
	want := promote.PullRequest{Environment: "prod", URL: fmt.Sprintf("%s/%s/%s/pulls/%d", p.srv.URL, p.repo.Owner, p.repo.Name, first.Number), Number: first.Number, Branch: branch}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("pull request (-want +got):\n%s", diff)
	}
	if len(res.Commits) != 0 {
		t.Errorf("a pull-request environment reported commits on main: %+v", res.Commits)
	}
	if p.head("main") != mainBefore || p.file("main", "envs/prod/deployment.yaml") != prodBefore {
		t.Error("promote to a pull-request environment changed main")
	}
	sha := p.head(branch)
	if got := p.file(branch, "envs/prod/deployment.yaml"); !strings.Contains(got, api+":1.1.0@"+p.Digest["api:1.1.0"]) {
		t.Errorf("prod on %s lacks api 1.1.0 by digest:\n%s", branch, got)
	}
	msg := p.message(sha)
	for _, s := range []string{
		"Ferry-Image: api=" + api + ":1.1.0@" + p.Digest["api:1.1.0"],
		"Ferry-Source: staging",
		"Ferry-Environment: prod",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("commit on %s lacks %q:\n%s", branch, s, msg)
		}
	}

	pr := p.pull(first.Number)
	if pr.Head.Ref != branch || pr.Base.Ref != "main" || pr.Title != "Promote staging to prod (api)" {
		t.Errorf("pull request head %q base %q title %q", pr.Head.Ref, pr.Base.Ref, pr.Title)
	}
	if diff := cmp.Diff([]string{"prod", "promotion"}, labelsOf(pr)); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{p.assignee}, assigneesOf(pr)); diff != "" {
		t.Errorf("assignees (-want +got):\n%s", diff)
	}
	reviews, _, err := p.api.ListPullReviews(p.repo.Owner, p.repo.Name, int64(first.Number), gitea.ListPullReviewsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var requested []string
	for _, r := range reviews {
		if r.State == gitea.ReviewStateRequestReview && r.Reviewer != nil {
			requested = append(requested, r.Reviewer.UserName)
		}
	}
	if diff := cmp.Diff([]string{p.reviewer}, requested); diff != "" {
		t.Errorf("review requests (-want +got):\n%s", diff)
	}
	// The default body: the change table with image, from, to, digest and signer.
	row := fmt.Sprintf("| api | %s:1.0.0@%s | %s:1.1.0@%s | %s |", api, p.Digest["api:1.0.0"], api, p.Digest["api:1.1.0"], p.Digest["api:1.1.0"])
	for _, s := range []string{"| image | from | to | digest | signed by |", row, "key "} {
		if !strings.Contains(pr.Body, s) {
			t.Errorf("pull request body lacks %q:\n%s", s, pr.Body)
		}
	}
	if strings.Contains(pr.Body, "worker") {
		t.Errorf("the body lists worker, which prod already runs:\n%s", pr.Body)
	}
	if diff := cmp.Diff([]string{branch}, p.openHeads()); diff != "" {
		t.Errorf("open pull requests (-want +got):\n%s", diff)
	}

	// The same promotion again: nothing new is pushed, no second pull request is opened, and
	// the result reports nothing (the pipeline still asks the forge to ensure the pull request,
	// so that one lost to a failed run would be opened now).
	res, err = promote.Promote(ctx, p.soaked(), "staging", "prod")
	if err != nil {
		t.Fatal(err)
	}
	if p.head(branch) != sha {
		t.Error("a repeated promotion pushed the branch again")
	}
	if len(res.PullRequests) != 0 || len(res.Commits) != 0 || len(res.Changes) != 0 {
		t.Errorf("repeated promotion reported work:\n%s", resultJSON(t, res))
	}
	if diff := cmp.Diff([]string{branch}, p.openHeads()); diff != "" {
		t.Errorf("open pull requests after a repeated run (-want +got):\n%s", diff)
	}

	// A newer promotion: dev and staging move to 1.1.0 of both images (commits on main), and
	// prod's pull request is updated in place with both.
	if _, err := promote.Watch(ctx, p.options(), promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, err := promote.Promote(ctx, p.options(), "dev", "staging"); err != nil || len(res.Commits) != 1 {
		t.Fatalf("promote dev staging: %v, %+v", err, res)
	}
	res, err = promote.Promote(ctx, p.soaked(), "staging", "prod")
	if err != nil {
		t.Fatal(err)
	}
	want.Updated = true
	if diff := cmp.Diff([]promote.PullRequest{want}, res.PullRequests); diff != "" {
		t.Errorf("newer promotion (-want +got):\n%s", diff)
	}
	newSHA := p.head(branch)
	if newSHA == sha {
		t.Fatal("the newer promotion did not push the branch")
	}
	msg = p.message(newSHA)
	for _, s := range []string{
		"Ferry-Image: api=" + api + ":1.1.0@" + p.Digest["api:1.1.0"],
		"Ferry-Image: worker=" + p.Reg.Host + "/acme/worker:1.1.0@" + p.Digest["worker:1.1.0"],
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("newer commit lacks %q:\n%s", s, msg)
		}
	}
	pr = p.pull(first.Number)
	if pr.Title != "Promote staging to prod (api, worker)" {
		t.Errorf("title not refreshed: %q", pr.Title)
	}
	if !strings.Contains(pr.Body, "| worker | "+p.Reg.Host+"/acme/worker:1.0.0@"+p.Digest["worker:1.0.0"]) {
		t.Errorf("the updated body lacks worker's row:\n%s", pr.Body)
	}
	if pr.State != gitea.StateOpen {
		t.Errorf("pull request #%d is %s", first.Number, pr.State)
	}
	if diff := cmp.Diff([]string{branch}, p.openHeads()); diff != "" {
		t.Errorf("open pull requests after the newer promotion (-want +got):\n%s", diff)
	}
	if n := len(p.pulls(gitea.StateAll)); n != 1 {
		t.Errorf("the repository has %d pull requests, want 1", n)
	}
	// main has the dev and staging commits, never prod's change.
	if got := p.file("main", "envs/prod/deployment.yaml"); got != prodBefore {
		t.Errorf("prod changed on main:\n%s", got)
	}
	p.noToken("promote", resultJSON(t, res), msg, pr.Body, p.message(sha))
}

// TestPromotePullRequestSignerNamesRepoKey: the signer in the body names the key as ferry.yaml
// does (keys/api.pub), not the temporary copy the run verified with, whose name changes every
// run: so a repeated run with nothing new leaves the body as it was.
func TestPromotePullRequestSignerNamesRepoKey(t *testing.T) {
	p := newPRWorld(t, prSetup{extra: stagingAhead})
	var bodies []string
	number := 0
	for run := 0; run < 2; run++ {
		res, err := promote.Promote(context.Background(), p.soaked(), "staging", "prod")
		if err != nil || (run == 0 && len(res.PullRequests) != 1) {
			t.Fatalf("promote: %v, %+v", err, res)
		}
		if run == 0 {
			number = res.PullRequests[0].Number
		}
		bodies = append(bodies, p.pull(number).Body)
	}
	if !strings.Contains(bodies[0], "| key keys/api.pub |") || strings.Contains(bodies[0], os.TempDir()) {
		t.Errorf("the body's signer does not name keys/api.pub as ferry.yaml does:\n%s", bodies[0])
	}
	if diff := cmp.Diff(bodies[0], bodies[1]); diff != "" {
		t.Errorf("a repeated promotion with nothing new rewrote the body (-first +second):\n%s", diff)
	}
}

// TestWatchPullRequestPerImageOnGitea: a registry-fed environment that writes through pull
// requests gets one branch and one pull request per image, and a second cycle adds none.
func TestWatchPullRequestPerImageOnGitea(t *testing.T) {
	p := newPRWorld(t, prSetup{devWrite: "pull-request"})
	ctx := context.Background()
	mainBefore := p.head("main")
	res, err := promote.Watch(ctx, p.options(), promote.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pr := range res.PullRequests {
		if pr.Environment != "dev" || pr.Number == 0 || pr.URL == "" || pr.Updated {
			t.Errorf("pull request %+v", pr)
		}
		got = append(got, pr.Branch)
	}
	wantBranches := []string{"ferry/dev/api", "ferry/dev/worker"}
	if diff := cmp.Diff(wantBranches, got); diff != "" {
		t.Errorf("result's branches (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantBranches, p.openHeads()); diff != "" {
		t.Errorf("open pull requests (-want +got):\n%s", diff)
	}
	if p.head("main") != mainBefore || len(res.Commits) != 0 {
		t.Errorf("watch of a pull-request environment committed on main: %+v", res.Commits)
	}
	heads := map[string]string{}
	for _, pr := range res.PullRequests {
		img := strings.TrimPrefix(pr.Branch, "ferry/dev/")
		other := map[string]string{"api": "worker", "worker": "api"}[img]
		heads[pr.Branch] = p.head(pr.Branch)
		msg := p.message(heads[pr.Branch])
		wantTrailer := "Ferry-Image: " + img + "=" + p.Reg.Host + "/acme/" + img + ":1.1.0@" + p.Digest[img+":1.1.0"]
		if !strings.Contains(msg, wantTrailer) || strings.Contains(msg, "Ferry-Image: "+other+"=") || !strings.Contains(msg, "Ferry-Source: registry") {
			t.Errorf("commit on %s: want only %q:\n%s", pr.Branch, wantTrailer, msg)
		}
		view := p.pull(pr.Number)
		if view.Title != "Update "+img+" in dev" || !strings.Contains(view.Body, "| "+img+" |") || strings.Contains(view.Body, "| "+other+" |") {
			t.Errorf("pull request for %s: title %q body:\n%s", img, view.Title, view.Body)
		}
		if diff := cmp.Diff([]string{"promotion"}, labelsOf(view)); diff != "" {
			t.Errorf("labels of %s (-want +got):\n%s", pr.Branch, diff)
		}
	}

	// A second cycle: the same two pull requests, nothing pushed.
	res, err = promote.Watch(ctx, p.options(), promote.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range wantBranches {
		if p.head(b) != heads[b] {
			t.Errorf("the second cycle pushed %s again", b)
		}
	}
	if diff := cmp.Diff(wantBranches, p.openHeads()); diff != "" {
		t.Errorf("open pull requests after a second cycle (-want +got):\n%s", diff)
	}
	if n := len(p.pulls(gitea.StateAll)); n != 2 {
		t.Errorf("the repository has %d pull requests, want 2", n)
	}
	p.noToken("watch", resultJSON(t, res))
}

// TestPromoteWaitOnGitea: promote --wait reports merged when someone merges the pull request
// while ferry waits, and open (without failing the run) when the wait times out.
func TestPromoteWaitOnGitea(t *testing.T) {
	p := newPRWorld(t, prSetup{extra: stagingAhead})
	ctx := context.Background()
	const branch = "ferry/prod/from-staging"

	// A reviewer merges the pull request as soon as it is open.
	merged := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		for {
			for _, pr := range p.pullsQuiet() {
				if pr.Head.Ref == branch {
					merged <- p.merge(int(pr.Index))
					return
				}
			}
			select {
			case <-stop:
				merged <- fmt.Errorf("no pull request for %s appeared", branch)
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	opts := p.soaked()
	opts.Wait, opts.WaitPoll = 2*time.Minute, 200*time.Millisecond
	res, err := promote.Promote(ctx, opts, "staging", "prod")
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-merged; err != nil {
		t.Fatal(err)
	}
	if len(res.PullRequests) != 1 || res.PullRequests[0].State != "merged" {
		t.Fatalf("promote --wait: %s, want one pull request, merged", resultJSON(t, res))
	}
	first := res.PullRequests[0].Number
	if prod := p.file("main", "envs/prod/deployment.yaml"); !strings.Contains(prod, "acme/api:1.1.0@"+p.Digest["api:1.1.0"]) {
		t.Errorf("after the merge, main's prod lacks api 1.1.0:\n%s", prod)
	}

	// The next promotion opens a new pull request (the merged one is not reused); nobody
	// merges it, so the wait times out: state open, and the run still succeeds.
	if _, err := promote.Watch(ctx, p.options(), promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := promote.Promote(ctx, p.options(), "dev", "staging"); err != nil {
		t.Fatal(err)
	}
	opts = p.soaked()
	opts.Wait, opts.WaitPoll = time.Second, 200*time.Millisecond
	res, err = promote.Promote(ctx, opts, "staging", "prod")
	if err != nil {
		t.Fatalf("a wait that timed out failed the run: %v", err)
	}
	if len(res.PullRequests) != 1 {
		t.Fatalf("pull requests = %+v", res.PullRequests)
	}
	got := res.PullRequests[0]
	if got.State != "open" || got.Updated || got.Number == first {
		t.Errorf("after a timed-out wait: %+v, want a new pull request, open", got)
	}
	if diff := cmp.Diff([]string{branch}, p.openHeads()); diff != "" {
		t.Errorf("open pull requests (-want +got):\n%s", diff)
	}
}

// pullsQuiet lists open pull requests, or none on error (for a goroutine, which cannot fail
// the test).
func (p *prWorld) pullsQuiet() []*gitea.PullRequest {
	prs, _, err := p.api.ListRepoPullRequests(p.repo.Owner, p.repo.Name, gitea.ListPullRequestsOptions{State: gitea.StateOpen})
	if err != nil {
		return nil
	}
	return prs
}

// TestPromotePullRequestUnverifiedOnGitea: an image with insecureSkipVerify: true is promoted
// with a warning in the pull request body and a Ferry-Unverified trailer in the commit.
func TestPromotePullRequestUnverifiedOnGitea(t *testing.T) {
	yaml := strings.Replace(prYAML, `      semver: ">=1.0.0 <2.0.0"
    verify:
      - key: keys/api.pub
`, `      semver: ">=1.0.0 <2.0.0"
    insecureSkipVerify: true
`, 1)
	if yaml == prYAML {
		t.Fatal("the api image's verify entry was not replaced")
	}
	p := newPRWorld(t, prSetup{yaml: yaml, extra: stagingAhead})
	res, err := promote.Promote(context.Background(), p.soaked(), "staging", "prod")
	if err != nil || len(res.PullRequests) != 1 {
		t.Fatalf("promote: %v, %+v", err, res)
	}
	body := p.pull(res.PullRequests[0].Number).Body
	for _, s := range []string{"**unverified** (insecureSkipVerify)", "without signature verification (insecureSkipVerify: true)"} {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q:\n%s", s, body)
		}
	}
	msg := p.message(p.head("ferry/prod/from-staging"))
	if !strings.Contains(msg, "Ferry-Unverified: api\n") {
		t.Errorf("commit lacks the Ferry-Unverified trailer:\n%s", msg)
	}
	if !strings.Contains(p.log.String(), "insecureSkipVerify") {
		t.Errorf("no warning logged:\n%s", p.log.String())
	}
}

// TestPromotePullRequestForbiddenTokenOnGitea: a forge token that may read but not write pull
// requests fails the run with a clear error that names neither token.
func TestPromotePullRequestForbiddenTokenOnGitea(t *testing.T) {
	p := newPRWorld(t, prSetup{extra: stagingAhead})
	readOnly := p.srv.NewToken(t, "read:repository")
	opts := p.soaked()
	opts.ForgeToken = func(string) string { return readOnly }
	res, err := promote.Promote(context.Background(), opts, "staging", "prod")
	if err == nil {
		t.Fatalf("promote with a read-only forge token succeeded: %s", resultJSON(t, res))
	}
	for _, s := range []string{"prod", "ferry/prod/from-staging", "403"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	t.Logf("error: %v", err)
	p.noToken("forbidden", err.Error(), fmt.Sprintf("%+v %#v", err, err))
	if strings.Contains(err.Error()+p.log.String(), readOnly) {
		t.Error("the read-only token appears in the error or the log")
	}
}

// TestPromotePullRequestBodyLinksSourceCommit: the default body links the source environment's
// commit (issue 5: "a link to the source environment's commit"), as forge.Body's source-commit
// column does, so that a reviewer can see where the version came from.
func TestPromotePullRequestBodyLinksSourceCommit(t *testing.T) {
	p := newPRWorld(t, prSetup{extra: stagingAhead})
	res, err := promote.Promote(context.Background(), p.soaked(), "staging", "prod")
	if err != nil || len(res.PullRequests) != 1 {
		t.Fatalf("promote: %v, %+v", err, res)
	}
	body := p.pull(res.PullRequests[0].Number).Body
	link := p.srv.URL + "/" + p.repo.Owner + "/" + p.repo.Name + "/commit/"
	if !strings.Contains(body, link) {
		t.Errorf("the body has no link to staging's commit (%s…):\n%s", link, body)
	}
}

// TestRollbackPullRequestOnGitea rolls prod back through a real Gitea: a pull request on
// ferry/prod/rollback, updated in place by a repeated run; once merged, history reads the
// rollback from the merged branch's trailers and promote holds the version back.
func TestRollbackPullRequestOnGitea(t *testing.T) {
	p := newPRWorld(t, prSetup{extra: stagingAhead})
	ctx := context.Background()
	res, err := promote.Promote(ctx, p.soaked(), "staging", "prod")
	if err != nil || len(res.PullRequests) != 1 {
		t.Fatalf("promote staging prod: %+v, %v", res, err)
	}
	if err := p.merge(res.PullRequests[0].Number); err != nil {
		t.Fatal(err)
	}

	const branch = "ferry/prod/rollback"
	mainBefore := p.head("main")
	res, err = promote.Rollback(ctx, p.options(), "prod", promote.RollbackOptions{Images: []string{"api"}})
	if err != nil || len(res.PullRequests) != 1 {
		t.Fatalf("rollback prod: %s, %v", resultJSON(t, res), err)
	}
	first := res.PullRequests[0]
	if first.Branch != branch || first.Updated || p.head("main") != mainBefore {
		t.Errorf("rollback pull request %+v (main moved: %v)", first, p.head("main") != mainBefore)
	}
	pr := p.pull(first.Number)
	if pr.Title != "Roll back prod: api 1.1.0 → 1.0.0" {
		t.Errorf("title %q", pr.Title)
	}
	msg := p.message(p.head(branch))
	api := p.Reg.Host + "/acme/api"
	for _, want := range []string{
		"Ferry-Image: api=" + api + ":1.0.0@" + p.Digest["api:1.0.0"],
		"Ferry-Rollback: api=" + api + ":1.1.0@" + p.Digest["api:1.1.0"],
		"Ferry-Command: rollback",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("rollback commit lacks %q:\n%s", want, msg)
		}
	}
	// The same rollback again: the open pull request is kept, not duplicated.
	_, err = promote.Rollback(ctx, p.options(), "prod", promote.RollbackOptions{Images: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	if heads := p.openHeads(); !slices.Equal(heads, []string{branch}) {
		t.Errorf("open pull requests after a repeated rollback: %v, want one on %s", heads, branch)
	}
	if err := p.merge(first.Number); err != nil {
		t.Fatal(err)
	}

	rep, err := promote.History(ctx, p.options(), promote.HistoryOptions{Env: "prod", Images: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Events) == 0 || rep.Events[0].How != "rollback" || rep.Events[0].RolledBackFrom != api+":1.1.0@"+p.Digest["api:1.1.0"] {
		t.Fatalf("newest prod api event = %+v, want the merged rollback", rep.Events)
	}
	if s := rep.Summary[0]; s.Rollbacks != 1 || s.TimeToRestoreMedian == nil {
		t.Errorf("prod summary %+v: want one rollback with a time to restore", s)
	}
	// staging still runs 1.1.0: promoting it again is held back.
	res, err = promote.Promote(ctx, p.soaked(), "staging", "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Reason != promote.ReasonRolledBack || len(res.PullRequests) != 0 {
		t.Errorf("promote over a hold: %s", resultJSON(t, res))
	}
	p.noToken("rollback", resultJSON(t, res), msg, pr.Body)
}
