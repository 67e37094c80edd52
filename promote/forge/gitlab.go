package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/ferryhq/ferry/internal/authguard"
)

type gitLab struct {
	client  *gitlab.Client
	project string // group/subgroup/project
	secrets []string
}

var _ Forge = (*gitLab)(nil)

func newGitLab(cfg Config, r remote, hc *http.Client, guard *authguard.Transport) (*gitLab, error) {
	apiBase := strings.TrimSpace(cfg.BaseURL)
	if apiBase == "" {
		apiBase = r.webBase() + "/api/v4"
	}
	guard.Host = apiBase
	project := r.Path
	// A GitLab served under a relative URL (https://host/gitlab) has it in the remote's path.
	if u, err := url.Parse(apiBase); err == nil {
		prefix := strings.Trim(strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v4"), "/")
		if prefix != "" && strings.HasPrefix(project, prefix+"/") {
			project = strings.TrimPrefix(project, prefix+"/")
		}
	}
	client, err := gitlab.NewClient(cfg.Token,
		gitlab.WithBaseURL(apiBase),
		gitlab.WithHTTPClient(hc),
		gitlab.WithoutRetries(), // retryTransport handles rate limits, the same way for every forge
	)
	if err != nil {
		return nil, fmt.Errorf("forge: gitlab API URL %s: %w", redactURL(apiBase), err)
	}
	return &gitLab{client: client, project: project, secrets: []string{cfg.Token}}, nil
}

func (g *gitLab) fail(op string, err error) error {
	var (
		resp *http.Response
		msg  string
	)
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) {
		resp, msg = er.Response, gitLabMessage(er)
	}
	return apiError(GitLab, op, resp, msg, err, g.secrets, gitLabHint)
}

// gitLabMessage reads GitLab's {"message": …} or OAuth-style {"error", "error_description",
// "scope"} error bodies.
func gitLabMessage(er *gitlab.ErrorResponse) string {
	var body struct {
		Message          any    `json:"message"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		Scope            string `json:"scope"`
	}
	if json.Unmarshal(er.Body, &body) != nil {
		return er.Message
	}
	var parts []string
	switch m := body.Message.(type) {
	case string:
		parts = append(parts, m)
	case nil:
	default:
		b, _ := json.Marshal(m)
		parts = append(parts, string(b))
	}
	if body.Error != "" {
		parts = append(parts, body.Error)
	}
	if body.ErrorDescription != "" {
		parts = append(parts, body.ErrorDescription)
	}
	if body.Scope != "" {
		parts = append(parts, "required scope: "+body.Scope)
	}
	if len(parts) == 0 {
		return er.Message
	}
	return strings.Join(parts, "; ")
}

func gitLabHint(resp *http.Response, msg string) string {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return "the token is invalid, expired or revoked: check GITLAB_TOKEN"
	case http.StatusForbidden:
		return "the token needs the api scope and at least the Developer role in the project " +
			"(a project or group access token works; CI_JOB_TOKEN cannot open merge requests)"
	case http.StatusNotFound:
		return "the project does not exist or the token cannot see it"
	case http.StatusConflict:
		return "another open merge request exists for this source branch"
	}
	return ""
}

func (g *gitLab) EnsurePullRequest(ctx context.Context, s Spec) (*PullRequest, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	reviewers, err := g.userIDs(ctx, s.Reviewers)
	if err != nil {
		return nil, err
	}
	assignees, err := g.userIDs(ctx, s.Assignees)
	if err != nil {
		return nil, err
	}
	existing, err := g.findOpen(ctx, s.Head)
	if err != nil {
		return nil, err
	}
	var mr *gitlab.MergeRequest
	if existing == nil {
		title := s.Title
		if s.Draft && !gitLabDraft(title) {
			title = "Draft: " + title
		}
		opts := &gitlab.CreateMergeRequestOptions{
			Title: gitlab.Ptr(title), Description: gitlab.Ptr(s.Body),
			SourceBranch: gitlab.Ptr(s.Head), TargetBranch: gitlab.Ptr(s.Base),
		}
		if len(s.Labels) > 0 {
			opts.Labels = gitlab.Ptr(gitlab.LabelOptions(s.Labels))
		}
		if len(assignees) > 0 {
			opts.AssigneeIDs = gitlab.Ptr(assignees)
		}
		if len(reviewers) > 0 {
			opts.ReviewerIDs = gitlab.Ptr(reviewers)
		}
		mr, _, err = g.client.MergeRequests.CreateMergeRequest(g.project, opts, gitlab.WithContext(ctx))
		if err != nil {
			var er *gitlab.ErrorResponse
			if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusConflict {
				// Opened meanwhile by another run: update that one instead.
				if found, ferr := g.findOpen(ctx, s.Head); ferr == nil && found != nil {
					existing, err = found, nil
				}
			}
			if err != nil {
				return nil, g.fail(fmt.Sprintf("opening merge request for %s into %s in %s", s.Head, s.Base, g.project), err)
			}
		}
	}
	updated := existing != nil
	if updated {
		title := s.Title
		if gitLabDraft(existing.Title) && !gitLabDraft(title) {
			title = "Draft: " + title // keep the draft state people left it in
		}
		opts := &gitlab.UpdateMergeRequestOptions{
			Title: gitlab.Ptr(title), Description: gitlab.Ptr(s.Body), TargetBranch: gitlab.Ptr(s.Base),
		}
		if len(s.Labels) > 0 {
			opts.AddLabels = gitlab.Ptr(gitlab.LabelOptions(s.Labels))
		}
		if ids := union(userIDsOf(existing.Assignees), assignees); len(assignees) > 0 {
			opts.AssigneeIDs = gitlab.Ptr(ids)
		}
		if ids := union(userIDsOf(existing.Reviewers), reviewers); len(reviewers) > 0 {
			opts.ReviewerIDs = gitlab.Ptr(ids)
		}
		mr, _, err = g.client.MergeRequests.UpdateMergeRequest(g.project, existing.IID, opts, gitlab.WithContext(ctx))
		if err != nil {
			return &PullRequest{Number: int(existing.IID), URL: existing.WebURL, Updated: true},
				g.fail(fmt.Sprintf("updating merge request !%d in %s", existing.IID, g.project), err)
		}
	}
	out := &PullRequest{Number: int(mr.IID), URL: mr.WebURL, Updated: updated}
	if s.AutoMerge {
		_, _, err := g.client.MergeRequests.AcceptMergeRequest(g.project, mr.IID, &gitlab.AcceptMergeRequestOptions{
			AutoMerge: gitlab.Ptr(true),
			//lint:ignore SA1019 GitLab before 17.11 knows only this name; newer ones accept both.
			MergeWhenPipelineSucceeds: gitlab.Ptr(true),
			SHA:                       gitlab.Ptr(mr.SHA),
		}, gitlab.WithContext(ctx))
		if err != nil {
			return out, g.fail(fmt.Sprintf("setting merge request !%d in %s to merge when its pipeline succeeds", mr.IID, g.project), err)
		}
	}
	return out, nil
}

func gitLabDraft(title string) bool {
	t := strings.ToLower(strings.TrimSpace(title))
	for _, p := range []string{"draft:", "[draft]", "(draft)"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

func userIDsOf(users []*gitlab.BasicUser) []int64 {
	ids := make([]int64, 0, len(users))
	for _, u := range users {
		if u != nil {
			ids = append(ids, u.ID)
		}
	}
	return ids
}

func union(a, b []int64) []int64 {
	out := slices.Clone(a)
	for _, id := range b {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// userIDs looks user names up: GitLab takes reviewers and assignees by ID.
func (g *gitLab) userIDs(ctx context.Context, names []string) ([]int64, error) {
	var ids []int64
	for _, name := range names {
		name = strings.TrimPrefix(name, "@")
		users, _, err := g.client.Users.ListUsers(&gitlab.ListUsersOptions{Username: gitlab.Ptr(name)}, gitlab.WithContext(ctx))
		if err != nil {
			return nil, g.fail(fmt.Sprintf("looking up user %s", name), err)
		}
		found := false
		for _, u := range users {
			if strings.EqualFold(u.Username, name) {
				ids = append(ids, u.ID)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("gitlab: no user %q (git.pullRequest reviewers/assignees take GitLab user names)", name)
		}
	}
	return ids, nil
}

func (g *gitLab) findOpen(ctx context.Context, head string) (*gitlab.MergeRequest, error) {
	opts := &gitlab.ListProjectMergeRequestsOptions{
		State: gitlab.Ptr("opened"), SourceBranch: gitlab.Ptr(head),
		ListOptions: gitlab.ListOptions{PerPage: 100, Page: 1},
	}
	for {
		mrs, resp, err := g.client.MergeRequests.ListProjectMergeRequests(g.project, opts, gitlab.WithContext(ctx))
		if err != nil {
			return nil, g.fail(fmt.Sprintf("listing open merge requests for %s in %s", head, g.project), err)
		}
		for _, mr := range mrs {
			if mr.SourceBranch == head && mr.SourceProjectID == mr.ProjectID {
				return &gitlab.MergeRequest{BasicMergeRequest: *mr}, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}

func (g *gitLab) State(ctx context.Context, number int) (State, error) {
	mr, _, err := g.client.MergeRequests.GetMergeRequest(g.project, int64(number), nil, gitlab.WithContext(ctx))
	if err != nil {
		return "", g.fail(fmt.Sprintf("reading merge request !%d in %s", number, g.project), err)
	}
	switch mr.State {
	case "merged":
		return StateMerged, nil
	case "closed":
		return StateClosed, nil
	}
	return StateOpen, nil // opened, locked
}
