package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v88/github"

	"github.com/ferryhq/ferry/internal/authguard"
)

type gitHub struct {
	client      *github.Client
	owner, repo string
	graphQL     string
	secrets     []string
}

var _ Forge = (*gitHub)(nil)

func newGitHub(cfg Config, r remote, hc *http.Client, guard *authguard.Transport) (*gitHub, error) {
	owner, repo, err := r.ownerRepo(GitHub)
	if err != nil {
		return nil, err
	}
	apiBase := strings.TrimSpace(cfg.BaseURL)
	if apiBase == "" && r.Host != "github.com" {
		apiBase = r.webBase() + "/api/v3/"
	}
	guard.Host = "https://api.github.com"
	if apiBase != "" {
		guard.Host = apiBase
	}
	if cfg.AppID != 0 {
		itr, err := ghinstallation.NewKeyFromFile(hc.Transport, cfg.AppID, cfg.InstallationID, cfg.PrivateKeyPath)
		if err != nil {
			return nil, fmt.Errorf("forge: github app %d: reading private key %s: %w", cfg.AppID, cfg.PrivateKeyPath, err)
		}
		if apiBase != "" {
			itr.BaseURL = strings.TrimSuffix(enterpriseAPI(apiBase), "/")
		}
		hc = &http.Client{Transport: itr, Timeout: hc.Timeout, Jar: hc.Jar}
	}
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(hc)}
	if cfg.Token != "" {
		opts = append(opts, github.WithAuthToken(cfg.Token))
	}
	if apiBase != "" {
		opts = append(opts, github.WithEnterpriseURLs(apiBase, apiBase))
	}
	client, err := github.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("forge: github API URL %s: %w", redactURL(apiBase), err)
	}
	graphQL := "https://api.github.com/graphql"
	if apiBase != "" {
		graphQL = strings.TrimSuffix(strings.TrimSuffix(client.BaseURL(), "/"), "/v3") + "/graphql"
	}
	return &gitHub{client: client, owner: owner, repo: repo, graphQL: graphQL, secrets: []string{cfg.Token}}, nil
}

// enterpriseAPI mirrors go-github's rule: an Enterprise base URL ends in /api/v3/.
func enterpriseAPI(base string) string {
	b := strings.TrimSuffix(base, "/")
	if !strings.HasSuffix(b, "/api/v3") {
		b += "/api/v3"
	}
	return b + "/"
}

func (g *gitHub) fail(op string, err error) error {
	var (
		resp *http.Response
		msg  string
	)
	var er *github.ErrorResponse
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	switch {
	case errors.As(err, &rl):
		resp, msg = rl.Response, rl.Message
	case errors.As(err, &ab):
		resp, msg = ab.Response, ab.Message
	case errors.As(err, &er):
		resp, msg = er.Response, er.Message
		for _, d := range er.Errors {
			if d.Message != "" {
				msg += "; " + d.Message
			} else if d.Code != "" {
				msg += fmt.Sprintf("; %s %s", d.Field, d.Code)
			}
		}
	}
	return apiError(GitHub, op, resp, msg, err, g.secrets, gitHubHint)
}

func gitHubHint(resp *http.Response, msg string) string {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return "the token is invalid or expired: check GITHUB_TOKEN"
	case http.StatusForbidden:
		if strings.Contains(msg, "not permitted to create or approve pull requests") {
			return "allow it in the repository's (or organisation's) Settings → Actions → General: " +
				"\"Allow GitHub Actions to create and approve pull requests\""
		}
		h := "the token needs the pull-requests: write permission (in GitHub Actions: " +
			"`permissions: {contents: write, pull-requests: write}` on the job; a fine-grained token: " +
			"Pull requests read and write; a classic token: the repo scope)"
		if need := resp.Header.Get("X-Accepted-GitHub-Permissions"); need != "" {
			h += "; GitHub says this call needs " + need
		}
		if need := resp.Header.Get("X-Accepted-OAuth-Scopes"); need != "" {
			h += "; accepted scopes: " + need
		}
		return h
	case http.StatusNotFound:
		return "the repository does not exist or the token cannot see it"
	case http.StatusUnprocessableEntity:
		return "GitHub refused the request's content"
	}
	return ""
}

func (g *gitHub) where() string { return g.owner + "/" + g.repo }

func (g *gitHub) EnsurePullRequest(ctx context.Context, s Spec) (*PullRequest, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	existing, err := g.findOpen(ctx, s.Head)
	if err != nil {
		return nil, err
	}
	var pr *github.PullRequest
	updated := existing != nil
	if existing == nil {
		pr, _, err = g.client.PullRequests.Create(ctx, g.owner, g.repo, &github.NewPullRequest{
			Title: github.Ptr(s.Title), Head: github.Ptr(s.Head), Base: github.Ptr(s.Base),
			Body: github.Ptr(s.Body), Draft: github.Ptr(s.Draft),
		})
		if err != nil && isStatus(err, http.StatusUnprocessableEntity) {
			// Someone opened one meanwhile: find it and update it instead.
			if found, ferr := g.findOpen(ctx, s.Head); ferr == nil && found != nil {
				existing, pr, err, updated = found, found, nil, true
			}
		}
		if err != nil {
			return nil, g.fail(fmt.Sprintf("opening pull request for %s into %s in %s", s.Head, s.Base, g.where()), err)
		}
	} else {
		pr = existing
	}
	if updated {
		edit := &github.PullRequest{Title: github.Ptr(s.Title), Body: github.Ptr(s.Body)}
		if pr.GetBase().GetRef() != s.Base {
			edit.Base = &github.PullRequestBranch{Ref: github.Ptr(s.Base)}
		}
		number := pr.GetNumber()
		pr, _, err = g.client.PullRequests.Edit(ctx, g.owner, g.repo, number, edit)
		if err != nil {
			return &PullRequest{Number: number, URL: existing.GetHTMLURL(), Updated: true},
				g.fail(fmt.Sprintf("updating pull request #%d in %s", number, g.where()), err)
		}
	}
	out := &PullRequest{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Updated: updated}
	return out, g.decorate(ctx, pr, s)
}

// decorate adds labels, assignees and reviewers, and turns on auto-merge.
func (g *gitHub) decorate(ctx context.Context, pr *github.PullRequest, s Spec) error {
	n := pr.GetNumber()
	if len(s.Labels) > 0 {
		if _, _, err := g.client.Issues.AddLabelsToIssue(ctx, g.owner, g.repo, n, s.Labels); err != nil {
			return g.fail(fmt.Sprintf("adding labels %s to pull request #%d in %s", strings.Join(s.Labels, ", "), n, g.where()), err)
		}
	}
	if len(s.Assignees) > 0 {
		if _, _, err := g.client.Issues.AddAssignees(ctx, g.owner, g.repo, n, s.Assignees); err != nil {
			return g.fail(fmt.Sprintf("assigning %s to pull request #%d in %s", strings.Join(s.Assignees, ", "), n, g.where()), err)
		}
	}
	if len(s.Reviewers) > 0 {
		var req github.ReviewersRequest
		for _, r := range s.Reviewers {
			if team, ok := teamSlug(r); ok {
				req.TeamReviewers = append(req.TeamReviewers, team)
			} else {
				req.Reviewers = append(req.Reviewers, r)
			}
		}
		if _, _, err := g.client.PullRequests.RequestReviewers(ctx, g.owner, g.repo, n, req); err != nil {
			return g.fail(fmt.Sprintf("requesting reviews from %s on pull request #%d in %s", strings.Join(s.Reviewers, ", "), n, g.where()), err)
		}
	}
	if s.AutoMerge {
		if err := g.enableAutoMerge(ctx, pr); err != nil {
			return err
		}
	}
	return nil
}

// enableAutoMerge uses GraphQL's enablePullRequestAutoMerge: REST has no auto-merge call.
func (g *gitHub) enableAutoMerge(ctx context.Context, pr *github.PullRequest) error {
	op := fmt.Sprintf("enabling auto-merge on pull request #%d in %s", pr.GetNumber(), g.where())
	if pr.GetAutoMerge() != nil {
		return nil
	}
	body := map[string]any{
		"query":     `mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id}) { clientMutationId } }`,
		"variables": map[string]any{"id": pr.GetNodeID()},
	}
	req, err := g.client.NewRequest(ctx, http.MethodPost, g.graphQL, body)
	if err != nil {
		return g.fail(op, err)
	}
	var out struct {
		Errors []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if _, err := g.client.Do(req, &out); err != nil {
		return g.fail(op, err)
	}
	if len(out.Errors) > 0 {
		msgs := make([]string, 0, len(out.Errors))
		for _, e := range out.Errors {
			msgs = append(msgs, e.Message)
		}
		return &Error{Provider: GitHub, Op: op, Message: strings.Join(msgs, "; "),
			Hint: "auto-merge must be allowed in the repository's settings (Allow auto-merge); GitHub refuses it on a draft " +
				"and on a pull request that can already merge (no pending required checks)"}
	}
	return nil
}

// teamSlug reads "org/team" or "@org/team" as a team reviewer.
func teamSlug(name string) (string, bool) {
	name = strings.TrimPrefix(name, "@")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		return name[i+1:], true
	}
	return "", false
}

func (g *gitHub) findOpen(ctx context.Context, head string) (*github.PullRequest, error) {
	opts := &github.PullRequestListOptions{
		State: "open", Head: g.owner + ":" + head,
		ListOptions: github.ListOptions{PerPage: 100},
	}
	for {
		prs, resp, err := g.client.PullRequests.List(ctx, g.owner, g.repo, opts)
		if err != nil {
			return nil, g.fail(fmt.Sprintf("listing open pull requests for %s in %s", head, g.where()), err)
		}
		for _, pr := range prs {
			if pr.GetHead().GetRef() == head && strings.EqualFold(pr.GetHead().GetRepo().GetFullName(), g.where()) {
				return pr, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}

func (g *gitHub) State(ctx context.Context, number int) (State, error) {
	pr, _, err := g.client.PullRequests.Get(ctx, g.owner, g.repo, number)
	if err != nil {
		return "", g.fail(fmt.Sprintf("reading pull request #%d in %s", number, g.where()), err)
	}
	switch {
	case pr.GetMerged() || pr.MergedAt != nil:
		return StateMerged, nil
	case pr.GetState() == "closed":
		return StateClosed, nil
	}
	return StateOpen, nil
}

func isStatus(err error, code int) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == code
}
