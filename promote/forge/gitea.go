package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ferryhq/ferry/internal/authguard"
)

type giteaForge struct {
	apiBase     string
	http        *http.Client
	token       string
	opts        []gitea.ClientOption
	owner, repo string
	secrets     []string
}

var _ Forge = (*giteaForge)(nil)

// newLabelColor is the colour of labels ferry creates on Gitea, which needs one.
const newLabelColor = "#0e8a16"

func newGitea(cfg Config, r remote, hc *http.Client, guard *authguard.Transport) (*giteaForge, error) {
	owner, repo, err := r.ownerRepo(Gitea)
	if err != nil {
		return nil, err
	}
	apiBase := strings.TrimSpace(cfg.BaseURL)
	if apiBase == "" {
		apiBase = r.webBase()
	}
	guard.Host = apiBase
	// The SDK adds /api/v1 itself; accept the API URL too.
	apiBase = strings.TrimSuffix(strings.TrimSuffix(apiBase, "/"), "/api/v1")
	return &giteaForge{
		apiBase: apiBase,
		opts: []gitea.ClientOption{
			gitea.SetHTTPClient(hc),
			gitea.SetToken(cfg.Token),
			gitea.SetGiteaVersion(""), // no version probe: every call used exists since Gitea 1.17
			gitea.SetUserAgent("ferry"),
		},
		http: hc, token: cfg.Token,
		owner: owner, repo: repo, secrets: []string{cfg.Token},
	}, nil
}

// client returns an SDK client bound to ctx (the SDK keeps the context on the client, so each
// call gets its own; they are cheap).
func (g *giteaForge) client(ctx context.Context) (*gitea.Client, error) {
	c, err := gitea.NewClient(g.apiBase, append(slices.Clone(g.opts), gitea.SetContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("forge: gitea API URL %s: %w", redactURL(g.apiBase), err)
	}
	return c, nil
}

func (g *giteaForge) where() string { return g.owner + "/" + g.repo }

func (g *giteaForge) fail(op string, resp *gitea.Response, err error) error {
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	msg := ""
	if hr != nil && err != nil {
		msg = err.Error()
	}
	return apiError(Gitea, op, hr, msg, err, g.secrets, giteaHint)
}

func giteaHint(resp *http.Response, msg string) string {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return "the token is invalid or expired: check GITEA_TOKEN"
	case http.StatusForbidden:
		return "the token needs the write:repository scope (write:issue too, for labels and assignees) " +
			"and write access to the repository"
	case http.StatusNotFound:
		return "the repository does not exist or the token cannot see it"
	case http.StatusConflict:
		return "an open pull request for this branch exists already"
	}
	return ""
}

func (g *giteaForge) EnsurePullRequest(ctx context.Context, s Spec) (*PullRequest, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	c, err := g.client(ctx)
	if err != nil {
		return nil, err
	}
	existing, err := g.findOpen(c, s.Head)
	if err != nil {
		return nil, err
	}
	var pr *gitea.PullRequest
	if existing == nil {
		title := s.Title
		if s.Draft && !giteaDraft(title) {
			title = "WIP: " + title
		}
		var resp *gitea.Response
		pr, resp, err = c.CreatePullRequest(g.owner, g.repo, gitea.CreatePullRequestOption{
			Head: s.Head, Base: s.Base, Title: title, Body: s.Body, Assignees: s.Assignees,
		})
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusConflict {
				// Opened meanwhile by another run: update that one instead.
				if found, ferr := g.findOpen(c, s.Head); ferr == nil && found != nil {
					existing, err = found, nil
				}
			}
			if err != nil {
				return nil, g.fail(fmt.Sprintf("opening pull request for %s into %s in %s", s.Head, s.Base, g.where()), resp, err)
			}
		}
	}
	updated := existing != nil
	if updated {
		title := s.Title
		if giteaDraft(existing.Title) && !giteaDraft(title) {
			title = "WIP: " + title // keep the draft state people left it in
		}
		edit := gitea.EditPullRequestOption{Title: title, Body: &s.Body}
		if existing.Base == nil || existing.Base.Ref != s.Base {
			edit.Base = s.Base
		}
		if len(s.Assignees) > 0 {
			var have []string
			for _, u := range existing.Assignees {
				have = append(have, u.UserName)
			}
			edit.Assignees = unionNames(have, s.Assignees)
		}
		var resp *gitea.Response
		pr, resp, err = c.EditPullRequest(g.owner, g.repo, existing.Index, edit)
		if err != nil {
			return &PullRequest{Number: int(existing.Index), URL: existing.HTMLURL, Updated: true},
				g.fail(fmt.Sprintf("updating pull request #%d in %s", existing.Index, g.where()), resp, err)
		}
	}
	out := &PullRequest{Number: int(pr.Index), URL: pr.HTMLURL, Updated: updated}
	return out, g.decorate(ctx, c, pr, s)
}

// decorate adds labels (creating missing ones: Gitea takes label IDs) and reviewers, and
// schedules the merge for when checks succeed.
func (g *giteaForge) decorate(ctx context.Context, c *gitea.Client, pr *gitea.PullRequest, s Spec) error {
	if len(s.Labels) > 0 {
		ids, err := g.labelIDs(c, s.Labels)
		if err != nil {
			return err
		}
		if _, resp, err := c.AddIssueLabels(g.owner, g.repo, pr.Index, gitea.IssueLabelsOption{Labels: ids}); err != nil {
			return g.fail(fmt.Sprintf("adding labels %s to pull request #%d in %s", strings.Join(s.Labels, ", "), pr.Index, g.where()), resp, err)
		}
	}
	if len(s.Reviewers) > 0 {
		var req gitea.PullReviewRequestOptions
		for _, r := range s.Reviewers {
			if team, ok := teamSlug(r); ok {
				req.TeamReviewers = append(req.TeamReviewers, team)
			} else {
				req.Reviewers = append(req.Reviewers, r)
			}
		}
		if resp, err := c.CreateReviewRequests(g.owner, g.repo, pr.Index, req); err != nil {
			return g.fail(fmt.Sprintf("requesting reviews from %s on pull request #%d in %s", strings.Join(s.Reviewers, ", "), pr.Index, g.where()), resp, err)
		}
	}
	if s.AutoMerge {
		opt := gitea.MergePullRequestOption{Style: gitea.MergeStyleMerge, MergeWhenChecksSucceed: true}
		if pr.Head != nil {
			opt.HeadCommitId = pr.Head.Sha
		}
		if err := g.scheduleMerge(ctx, pr.Index, opt); err != nil {
			return err
		}
	}
	return nil
}

// Gitea checks a new or updated pull request's mergeability in the background and answers
// 405 "Please try again later" until it is done; scheduleMerge waits for that, a bounded number
// of times. "Already scheduled" (409) is success: an update keeps the schedule.
const (
	mergeCheckTries = 30
	mergeCheckPause = 500 * time.Millisecond
)

func (g *giteaForge) scheduleMerge(ctx context.Context, index int64, opt gitea.MergePullRequestOption) error {
	op := fmt.Sprintf("scheduling pull request #%d in %s to merge when checks succeed", index, g.where())
	body, err := json.Marshal(opt)
	if err != nil {
		return fmt.Errorf("gitea: %s: %w", op, err)
	}
	endpoint := fmt.Sprintf("%s/api/v1/repos/%s/%s/pulls/%d/merge", g.apiBase, url.PathEscape(g.owner), url.PathEscape(g.repo), index)
	for try := 1; ; try++ {
		// The SDK's MergePullRequest drops the status and message of a refusal, so ferry makes
		// this one call itself.
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return g.fail(op, nil, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "token "+g.token)
		resp, err := g.http.Do(req)
		if err != nil {
			return g.fail(op, nil, err)
		}
		msg := giteaMessage(resp)
		lower := strings.ToLower(msg)
		switch {
		case resp.StatusCode/100 == 2:
			return nil
		case resp.StatusCode == http.StatusConflict && strings.Contains(lower, "already scheduled"):
			return nil
		case resp.StatusCode == http.StatusMethodNotAllowed && strings.Contains(lower, "try again later") && try < mergeCheckTries:
			select {
			case <-ctx.Done():
				return g.fail(op, nil, ctx.Err())
			case <-time.After(mergeCheckPause):
			}
		default:
			return apiError(Gitea, op, resp, msg, nil, g.secrets, giteaHint)
		}
	}
}

// giteaMessage reads the message of a Gitea API answer ({"message": …}) and closes the body.
func giteaMessage(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		return m.Message
	}
	return strings.TrimSpace(string(b))
}

func (g *giteaForge) labelIDs(c *gitea.Client, names []string) ([]int64, error) {
	have := map[string]int64{}
	opt := gitea.ListLabelsOptions{ListOptions: gitea.ListOptions{Page: 1, PageSize: 50}}
	for {
		labels, resp, err := c.ListRepoLabels(g.owner, g.repo, opt)
		if err != nil {
			return nil, g.fail(fmt.Sprintf("listing labels of %s", g.where()), resp, err)
		}
		for _, l := range labels {
			have[l.Name] = l.ID
		}
		if resp == nil || resp.NextPage == 0 || len(labels) == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	ids := make([]int64, 0, len(names))
	for _, name := range names {
		id, ok := have[name]
		if !ok {
			l, resp, err := c.CreateLabel(g.owner, g.repo, gitea.CreateLabelOption{Name: name, Color: newLabelColor})
			if err != nil {
				return nil, g.fail(fmt.Sprintf("creating label %s in %s", name, g.where()), resp, err)
			}
			id = l.ID
			have[name] = id
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (g *giteaForge) findOpen(c *gitea.Client, head string) (*gitea.PullRequest, error) {
	opt := gitea.ListPullRequestsOptions{State: gitea.StateOpen, ListOptions: gitea.ListOptions{Page: 1, PageSize: 50}}
	for {
		prs, resp, err := c.ListRepoPullRequests(g.owner, g.repo, opt)
		if err != nil {
			return nil, g.fail(fmt.Sprintf("listing open pull requests in %s", g.where()), resp, err)
		}
		for _, pr := range prs {
			if pr.Head != nil && pr.Head.Ref == head && (pr.Base == nil || pr.Head.RepoID == 0 || pr.Head.RepoID == pr.Base.RepoID) {
				return pr, nil
			}
		}
		if resp == nil || resp.NextPage == 0 || len(prs) == 0 {
			return nil, nil
		}
		opt.Page = resp.NextPage
	}
}

func (g *giteaForge) State(ctx context.Context, number int) (State, error) {
	c, err := g.client(ctx)
	if err != nil {
		return "", err
	}
	pr, resp, err := c.GetPullRequest(g.owner, g.repo, int64(number))
	if err != nil {
		return "", g.fail(fmt.Sprintf("reading pull request #%d in %s", number, g.where()), resp, err)
	}
	switch {
	case pr.HasMerged || pr.Merged != nil:
		return StateMerged, nil
	case pr.State == gitea.StateClosed:
		return StateClosed, nil
	}
	return StateOpen, nil
}

func giteaDraft(title string) bool {
	t := strings.ToUpper(strings.TrimSpace(title))
	return strings.HasPrefix(t, "WIP:") || strings.HasPrefix(t, "[WIP]")
}

func unionNames(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, n) }) {
			out = append(out, n)
		}
	}
	return out
}
