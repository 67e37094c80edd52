package main

import (
	"encoding/json"
	"strings"
	"testing"

	"code.gitea.io/sdk/gitea"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/promote/forge/giteatest"
	"github.com/ferryhq/ferry/promote/promotetest"
)

// cliPRYAML has no soak gate: the CLI has no clock to move.
const cliPRYAML = `images:
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
git:
  branch: main
  author: ferry-test <ferry@example.test>
  pullRequest:
    provider: gitea
    url: {{GITEA}}
    labels: [promotion]
`

// TestPromotePullRequestCLI runs `ferry promote staging prod` against a real Gitea with the
// tokens in GITEA_TOKEN and FERRY_GIT_TOKEN and debug logging, and checks the JSON result,
// a repeated run, --wait with a timeout, a forbidden token, and that no token is ever printed.
func TestPromotePullRequestCLI(t *testing.T) {
	srv := giteatest.Shared(t)
	repo := srv.CreateRepo(t, "cli")
	w := promotetest.New(t, map[string]string{
		"ferry.yaml":                   strings.ReplaceAll(cliPRYAML, "{{GITEA}}", srv.URL),
		"envs/staging/deployment.yaml": promotetest.Deployment("{{REG}}/acme/api:1.1.0", "{{REG}}/acme/worker:1.0.0"),
	})
	giteatest.Git(t, w.Bare, "push", "-q", "--force", repo.PushURL, "main:main")
	t.Setenv("GITEA_TOKEN", srv.Token)
	t.Setenv("FERRY_GIT_TOKEN", srv.Token)
	readOnly := srv.NewToken(t, "read:repository")
	api, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"--repo", repo.CloneURL, "--cache-dir", t.TempDir()}
	var printed []string
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		code, out, errOut := runCLI(t, append(append([]string{"--log-level", "debug"}, args...), common...)...)
		printed = append(printed, out, errOut)
		return code, out, errOut
	}
	const branch = "ferry/prod/from-staging"

	// The first run opens the pull request; the JSON names it.
	code, out, errOut := cli("promote", "staging", "prod", "--output", "json")
	if code != 0 {
		t.Fatalf("promote: exit %d\n%s", code, errOut)
	}
	var res struct {
		Commits      []map[string]any `json:"commits"`
		PullRequests []map[string]any `json:"pullRequests"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out)
	}
	if len(res.PullRequests) != 1 || len(res.Commits) != 0 {
		t.Fatalf("want one pull request and no commit:\n%s", out)
	}
	got := res.PullRequests[0]
	number, _ := got["number"].(float64)
	if number < 1 {
		t.Fatalf("pullRequests[0].number = %v\n%s", got["number"], out)
	}
	want := map[string]any{
		"environment": "prod",
		"branch":      branch,
		"url":         srv.URL + "/" + repo.Owner + "/" + repo.Name + "/pulls/" + jsonNumber(number),
		"number":      number,
		"updated":     false,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pullRequests[0] (-want +got):\n%s", diff)
	}
	pr, _, err := api.GetPullRequest(repo.Owner, repo.Name, int64(number))
	if err != nil {
		t.Fatal(err)
	}
	printed = append(printed, pr.Body, pr.Title)
	c, _, err := api.GetSingleCommit(repo.Owner, repo.Name, pr.Head.Sha)
	if err != nil {
		t.Fatal(err)
	}
	printed = append(printed, c.RepoCommit.Message)
	if !strings.Contains(c.RepoCommit.Message, "Ferry-Image: api=") {
		t.Errorf("commit on %s lacks its trailer:\n%s", branch, c.RepoCommit.Message)
	}

	// A repeated run has nothing new: it says so, and logs that the pull request is up to date.
	code, out, errOut = cli("promote", "staging", "prod")
	if code != 0 || !strings.Contains(out, "nothing to change") || !strings.Contains(errOut, "pull request already up to date") {
		t.Errorf("repeated promote: exit %d\n%s%s", code, out, errOut)
	}

	// --wait with nobody merging: the wait times out, the run succeeds and says open.
	code, out, errOut = cli("promote", "staging", "prod", "--wait", "1s", "-o", "json")
	if code != 0 {
		t.Fatalf("promote --wait 1s: exit %d\n%s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.PullRequests) != 1 || res.PullRequests[0]["state"] != "open" {
		t.Errorf("promote --wait 1s: want state open:\n%s", out)
	}

	// A forge token that cannot write pull requests: exit 1, the scope named, no token shown.
	t.Setenv("GITEA_TOKEN", readOnly)
	code, _, errOut = cli("promote", "staging", "prod")
	if code != 1 || !strings.Contains(errOut, "403") || !strings.Contains(errOut, "write:repository") {
		t.Errorf("read-only forge token: exit %d\n%s", code, errOut)
	}

	prs, _, err := api.ListRepoPullRequests(repo.Owner, repo.Name, gitea.ListPullRequestsOptions{State: gitea.StateAll})
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) != 1 {
		t.Errorf("the repository has %d pull requests, want 1", len(prs))
	}
	for i, s := range printed {
		for _, tok := range []string{srv.Token, readOnly} {
			if strings.Contains(s, tok) {
				t.Errorf("a token appears in output %d:\n%s", i, s)
			}
		}
	}
}

// TestDebugLogReachesGit: --log-level debug shows the git steps (fetches, pushes), which
// gitrepo logs at debug level; the pipeline must hand its logger to gitrepo.
func TestDebugLogReachesGit(t *testing.T) {
	w := promotetest.New(t, nil)
	code, _, errOut := runCLI(t, "--log-level", "debug", "watch", "--repo", w.Bare, "--cache-dir", t.TempDir())
	if code != 0 {
		t.Fatalf("watch: exit %d\n%s", code, errOut)
	}
	for _, s := range []string{"level=DEBUG msg=fetched", "level=DEBUG msg=pushed"} {
		if !strings.Contains(errOut, s) {
			t.Errorf("debug log lacks %q:\n%s", s, errOut)
		}
	}
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
