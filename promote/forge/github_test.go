package forge

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sentinelToken must never appear in an error or a request other than its Authorization header.
const sentinelToken = "ferry-sentinel-token-7f3a9c"

// fakeGitHub serves the REST endpoints ferry uses, written from GitHub's documented schemas
// (docs.github.com/rest/pulls, /rest/issues/labels, /rest/issues/assignees,
// /rest/pulls/review-requests, /graphql). It holds pull requests in memory.
type fakeGitHub struct {
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	prs   []map[string]any // in creation order
	calls []string         // "METHOD path" of every request
	// bodies holds the JSON body of each write, keyed by "METHOD path".
	bodies map[string]any
	// fail, when set, answers a request instead of the normal handler (return false to pass).
	fail func(w http.ResponseWriter, r *http.Request, attempt int) bool
	seen map[string]int
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{t: t, bodies: map[string]any{}, seen: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) config() Config {
	return Config{
		Provider:  "github",
		BaseURL:   f.srv.URL + "/api/v3/",
		RemoteURL: "https://x-access-token:" + sentinelToken + "@ghe.example.com/acme/config.git",
		Token:     sentinelToken,
	}
}

func (f *fakeGitHub) addPR(number int, head, base, state string, merged bool) {
	f.prs = append(f.prs, f.pr(number, head, base, "old title", "old body", state, merged))
}

func (f *fakeGitHub) pr(number int, head, base, title, body, state string, merged bool) map[string]any {
	repo := map[string]any{"id": 1, "name": "config", "full_name": "acme/config"}
	return map[string]any{
		"id": 1000 + number, "node_id": fmt.Sprintf("PR_node%d", number), "number": number,
		"html_url": fmt.Sprintf("https://ghe.example.com/acme/config/pull/%d", number),
		"state":    state, "title": title, "body": body, "draft": false, "merged": merged,
		"head": map[string]any{"ref": head, "sha": "abc123", "label": "acme:" + head, "repo": repo},
		"base": map[string]any{"ref": base, "sha": "def456", "label": "acme:" + base, "repo": repo},
	}
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.Method + " " + r.URL.Path
	f.calls = append(f.calls, key)
	f.seen[key]++
	if r.URL.Path == "/api/v3/app/installations/99/access_tokens" && r.Method == http.MethodPost {
		// A GitHub App's installation token, minted with the app's JWT.
		if got := r.Header.Get("Authorization"); !strings.HasPrefix(got, "Bearer ey") {
			f.t.Errorf("%s: Authorization = %q, want the app's JWT", key, got)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token":%q,"expires_at":"2100-01-01T00:00:00Z","permissions":{"pull_requests":"write","contents":"write"}}`, sentinelToken)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+sentinelToken && got != "token "+sentinelToken {
		f.t.Errorf("%s: Authorization = %q, want the token", key, got)
	}
	if f.fail != nil && f.fail(w, r, f.seen[key]) {
		return
	}
	var raw any
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		if len(b) > 0 {
			if err := json.Unmarshal(b, &raw); err != nil {
				f.t.Errorf("%s: body is not JSON: %v", key, err)
			}
			f.bodies[key] = raw
		}
	}
	body, _ := raw.(map[string]any)
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.URL.Path == "/api/graphql" && r.Method == http.MethodPost:
		reply(200, map[string]any{"data": map[string]any{"enablePullRequestAutoMerge": map[string]any{"clientMutationId": nil}}})
	case len(parts) == 4 && parts[3] == "pulls" && r.Method == http.MethodGet:
		// GET /repos/{owner}/{repo}/pulls?state=open&head=owner:branch — two pages of 1 to
		// prove pagination: page 1 says rel="next" with a Link header.
		q := r.URL.Query()
		var match []map[string]any
		for _, pr := range f.prs {
			if q.Get("state") == "open" && pr["state"] != "open" {
				continue
			}
			match = append(match, pr)
		}
		page, _ := strconv.Atoi(q.Get("page"))
		if page == 0 {
			page = 1
		}
		const per = 1
		lo, hi := (page-1)*per, page*per
		if lo > len(match) {
			lo = len(match)
		}
		if hi > len(match) {
			hi = len(match)
		}
		if hi < len(match) {
			next := *r.URL
			nq := next.Query()
			nq.Set("page", strconv.Itoa(page+1))
			next.RawQuery = nq.Encode()
			w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, f.srv.URL, next.RequestURI()))
		}
		reply(200, append([]map[string]any{}, match[lo:hi]...))
	case len(parts) == 4 && parts[3] == "pulls" && r.Method == http.MethodPost:
		for _, pr := range f.prs {
			if pr["state"] == "open" && pr["head"].(map[string]any)["ref"] == body["head"] {
				reply(422, map[string]any{"message": "Validation Failed", "errors": []map[string]any{{
					"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for acme:" + body["head"].(string) + ".",
				}}})
				return
			}
		}
		n := 7 + len(f.prs)
		pr := f.pr(n, body["head"].(string), body["base"].(string), body["title"].(string), body["body"].(string), "open", false)
		pr["draft"] = body["draft"]
		f.prs = append(f.prs, pr)
		reply(201, pr)
	case len(parts) == 5 && parts[3] == "pulls" && (r.Method == http.MethodPatch || r.Method == http.MethodGet):
		n, _ := strconv.Atoi(parts[4])
		for _, pr := range f.prs {
			if pr["number"] == n {
				if r.Method == http.MethodPatch {
					for _, k := range []string{"title", "body"} {
						if v, ok := body[k]; ok {
							pr[k] = v
						}
					}
				}
				reply(200, pr)
				return
			}
		}
		reply(404, map[string]any{"message": "Not Found"})
	case len(parts) == 6 && parts[3] == "issues" && parts[5] == "labels" && r.Method == http.MethodPost:
		// The documented body is {"labels": [...]} or a bare array of names.
		names, ok := raw.([]any)
		if !ok {
			names, _ = body["labels"].([]any)
		}
		var labels []map[string]any
		for _, l := range names {
			labels = append(labels, map[string]any{"name": l, "color": "ededed"})
		}
		reply(200, labels)
	case len(parts) == 6 && parts[3] == "issues" && parts[5] == "assignees" && r.Method == http.MethodPost:
		n, _ := strconv.Atoi(parts[4])
		reply(201, map[string]any{"number": n, "assignees": []map[string]any{{"login": "bob"}}})
	case len(parts) == 6 && parts[3] == "pulls" && parts[5] == "requested_reviewers" && r.Method == http.MethodPost:
		n, _ := strconv.Atoi(parts[4])
		reply(201, map[string]any{"number": n})
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		reply(404, map[string]any{"message": "Not Found"})
	}
}

func (f *fakeGitHub) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func TestGitHubEnsurePullRequest(t *testing.T) {
	spec := Spec{
		Head: "ferry/prod/from-staging", Base: "main", Title: "Promote staging to prod", Body: "the table",
		Labels: []string{"promotion", "prod"}, Reviewers: []string{"alice", "acme/sre-team"}, Assignees: []string{"bob"},
	}
	const (
		list   = "GET /api/v3/repos/acme/config/pulls"
		create = "POST /api/v3/repos/acme/config/pulls"
		labels = "POST /api/v3/repos/acme/config/issues/%d/labels"
		assign = "POST /api/v3/repos/acme/config/issues/%d/assignees"
		review = "POST /api/v3/repos/acme/config/pulls/%d/requested_reviewers"
		edit   = "PATCH /api/v3/repos/acme/config/pulls/%d"
	)
	tests := []struct {
		name      string
		setup     func(f *fakeGitHub)
		want      *PullRequest
		wantCalls []string
	}{{
		name: "opens a new pull request after paging through unrelated ones",
		setup: func(f *fakeGitHub) {
			f.addPR(3, "feature/x", "main", "open", false)
			f.addPR(4, "feature/y", "main", "open", false)
		},
		want:      &PullRequest{Number: 9, URL: "https://ghe.example.com/acme/config/pull/9"},
		wantCalls: []string{list, list, create, fmt.Sprintf(labels, 9), fmt.Sprintf(assign, 9), fmt.Sprintf(review, 9)},
	}, {
		name: "updates the open pull request found on page two",
		setup: func(f *fakeGitHub) {
			f.addPR(3, "feature/x", "main", "open", false)
			f.addPR(5, "ferry/prod/from-staging", "main", "open", false)
		},
		want:      &PullRequest{Number: 5, URL: "https://ghe.example.com/acme/config/pull/5", Updated: true},
		wantCalls: []string{list, list, fmt.Sprintf(edit, 5), fmt.Sprintf(labels, 5), fmt.Sprintf(assign, 5), fmt.Sprintf(review, 5)},
	}, {
		name:      "a closed pull request for the branch is not reused",
		setup:     func(f *fakeGitHub) { f.addPR(2, "ferry/prod/from-staging", "main", "closed", false) },
		want:      &PullRequest{Number: 8, URL: "https://ghe.example.com/acme/config/pull/8"},
		wantCalls: []string{list, create, fmt.Sprintf(labels, 8), fmt.Sprintf(assign, 8), fmt.Sprintf(review, 8)},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitHub(t)
			tc.setup(f)
			fg, err := New(f.config())
			if err != nil {
				t.Fatal(err)
			}
			got, err := fg.EnsurePullRequest(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pull request (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCalls, f.takeCalls()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			n := got.Number
			wantBodies := map[string]any{
				fmt.Sprintf(labels, n): []any{"promotion", "prod"},
				fmt.Sprintf(assign, n): map[string]any{"assignees": []any{"bob"}},
				fmt.Sprintf(review, n): map[string]any{"reviewers": []any{"alice"}, "team_reviewers": []any{"sre-team"}},
			}
			if got.Updated {
				wantBodies[fmt.Sprintf(edit, n)] = map[string]any{"title": spec.Title, "body": spec.Body}
			} else {
				wantBodies[create] = map[string]any{"title": spec.Title, "head": spec.Head, "base": spec.Base, "body": spec.Body, "draft": false}
			}
			if diff := cmp.Diff(wantBodies, f.bodies); diff != "" {
				t.Errorf("request bodies (-want +got):\n%s", diff)
			}

			// A second run finds the pull request and updates it: never a duplicate.
			again, err := fg.EnsurePullRequest(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&PullRequest{Number: got.Number, URL: got.URL, Updated: true}, again); diff != "" {
				t.Errorf("second run (-want +got):\n%s", diff)
			}
			for _, c := range f.takeCalls() {
				if c == create {
					t.Errorf("second run opened another pull request")
				}
			}
		})
	}
}

func TestGitHubAutoMergeAndDraft(t *testing.T) {
	f := newFakeGitHub(t)
	fg, err := New(f.config())
	if err != nil {
		t.Fatal(err)
	}
	_, err = fg.EnsurePullRequest(context.Background(), Spec{Head: "ferry/dev/api", Base: "main", Title: "t", Draft: true, AutoMerge: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /api/v3/repos/acme/config/pulls", "POST /api/v3/repos/acme/config/pulls", "POST /api/graphql"}
	if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if got := f.bodies["POST /api/v3/repos/acme/config/pulls"].(map[string]any)["draft"]; got != true {
		t.Errorf("draft = %v, want true", got)
	}
	gql := f.bodies["POST /api/graphql"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"id": "PR_node7"}, gql["variables"]); diff != "" {
		t.Errorf("graphql variables (-want +got):\n%s", diff)
	}
	if q, _ := gql["query"].(string); !strings.Contains(q, "enablePullRequestAutoMerge") {
		t.Errorf("graphql query %q does not enable auto-merge", q)
	}
}

func TestGitHubState(t *testing.T) {
	f := newFakeGitHub(t)
	f.addPR(1, "a", "main", "open", false)
	f.addPR(2, "b", "main", "closed", true)
	f.addPR(3, "c", "main", "closed", false)
	fg, err := New(f.config())
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]State{1: StateOpen, 2: StateMerged, 3: StateClosed} {
		got, err := fg.State(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("State(#%d) = %q, want %q", n, got, want)
		}
	}
	_, err = fg.State(context.Background(), 99)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("State(#99) error = %v, want ErrNotFound", err)
	}
}

func TestGitHubErrors(t *testing.T) {
	spec := Spec{Head: "ferry/prod/api", Base: "main", Title: "Promote"}
	tests := []struct {
		name       string
		fail       func(w http.ResponseWriter, r *http.Request, attempt int) bool
		maxRetries int
		wantIs     error
		wantIn     []string
		wantPosts  int
	}{{
		name: "403 from an Actions token names the permission",
		fail: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			if r.Method != http.MethodPost {
				return false
			}
			w.Header().Set("X-Accepted-GitHub-Permissions", "pull_requests=write")
			w.Header().Set("X-RateLimit-Remaining", "4999")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","status":"403"}`)
			return true
		},
		wantIs:    ErrForbidden,
		wantIn:    []string{"403 Forbidden", "Resource not accessible by integration", "pull-requests: write", "pull_requests=write", "opening pull request for ferry/prod/api into main in acme/config"},
		wantPosts: 1,
	}, {
		name: "Actions not allowed to create pull requests",
		fail: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			if r.Method != http.MethodPost {
				return false
			}
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"GitHub Actions is not permitted to create or approve pull requests.","documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}`)
			return true
		},
		wantIs:    ErrForbidden,
		wantIn:    []string{"Allow GitHub Actions to create and approve pull requests"},
		wantPosts: 1,
	}, {
		name: "401 bad credentials",
		fail: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
			return true
		},
		wantIs: ErrUnauthorized,
		wantIn: []string{"Bad credentials", "GITHUB_TOKEN"},
	}, {
		name: "secondary rate limit with Retry-After, then success",
		fail: func(w http.ResponseWriter, r *http.Request, attempt int) bool {
			if r.Method != http.MethodPost || attempt > 1 {
				return false
			}
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`)
			return true
		},
		wantPosts: 2,
	}, {
		name: "primary rate limit that does not clear in time",
		fail: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			w.Header().Set("X-RateLimit-Limit", "5000")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "4102444800") // 2100-01-01: far past MaxRetryWait
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"API rate limit exceeded for installation ID 1.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}`)
			return true
		},
		wantIs: ErrRateLimited,
		wantIn: []string{"rate limit", "2100-01-01T00:00:00Z"},
	}, {
		name: "429 until the retries run out",
		fail: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			if r.Method != http.MethodPost {
				return false
			}
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"message":"You have exceeded a secondary rate limit."}`)
			return true
		},
		maxRetries: 2,
		wantIs:     ErrRateLimited,
		wantIn:     []string{"429", "retries"},
		wantPosts:  3,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitHub(t)
			f.fail = tc.fail
			cfg := f.config()
			cfg.MaxRetries = tc.maxRetries
			fg, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = fg.EnsurePullRequest(context.Background(), spec)
			if tc.wantIs == nil {
				if err != nil {
					t.Fatalf("EnsurePullRequest: %v", err)
				}
			} else {
				if !errors.Is(err, tc.wantIs) {
					t.Fatalf("error %v does not match %v", err, tc.wantIs)
				}
				var fe *Error
				if !errors.As(err, &fe) || fe.Provider != GitHub {
					t.Errorf("error %T is not a github *Error", err)
				}
				checkNoToken(t, err)
				t.Logf("error: %v", err)
				for _, s := range tc.wantIn {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
			}
			if tc.wantPosts != 0 {
				if got := f.seen["POST /api/v3/repos/acme/config/pulls"]; got != tc.wantPosts {
					t.Errorf("create requests = %d, want %d", got, tc.wantPosts)
				}
			}
		})
	}
}

// checkNoToken fails when the sentinel token shows in any rendering of err or its chain.
func checkNoToken(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; {
		for _, s := range []string{e.Error(), fmt.Sprintf("%v", e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
			if strings.Contains(s, sentinelToken) {
				t.Errorf("the token appears in an error: %s", s)
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				checkNoToken(t, x)
			}
			return
		case interface{ Unwrap() error }:
			e = u.Unwrap()
		default:
			return
		}
	}
}

func TestGitHubApp(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemPath := filepath.Join(t.TempDir(), "app.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(pemPath, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFakeGitHub(t)
	cfg := f.config()
	cfg.Token, cfg.AppID, cfg.InstallationID, cfg.PrivateKeyPath = "", 7, 99, pemPath
	fg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fg.EnsurePullRequest(context.Background(), Spec{Head: "ferry/dev/api", Base: "main", Title: "Bump api"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 7 {
		t.Errorf("pull request %+v, want #7", got)
	}
	want := []string{
		"POST /api/v3/app/installations/99/access_tokens",
		"GET /api/v3/repos/acme/config/pulls",
		"POST /api/v3/repos/acme/config/pulls",
	}
	if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
