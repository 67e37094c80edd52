package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeGitLab serves the REST endpoints ferry uses, written from GitLab's documented schemas
// (docs.gitlab.com/api/merge_requests, /api/users): pagination with X-Page, X-Next-Page and
// X-Total-Pages, merge requests addressed by URL-encoded project path and iid.
type fakeGitLab struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	mrs    []map[string]any
	calls  []string
	bodies map[string]any
	fail   func(w http.ResponseWriter, r *http.Request, attempt int) bool
	seen   map[string]int
}

const glProject = "/api/v4/projects/platform%2Fdeploy%2Fconfig"

func newFakeGitLab(t *testing.T) *fakeGitLab {
	f := &fakeGitLab{t: t, bodies: map[string]any{}, seen: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitLab) config() Config {
	return Config{
		BaseURL:   f.srv.URL + "/api/v4",
		RemoteURL: "git@gitlab.example.com:platform/deploy/config.git", // provider inferred from the host
		Token:     sentinelToken,
	}
}

func (f *fakeGitLab) mr(iid int, source, target, title, state string) map[string]any {
	return map[string]any{
		"id": 5000 + iid, "iid": iid, "project_id": 42, "source_project_id": 42, "target_project_id": 42,
		"title": title, "description": "old", "state": state, "source_branch": source, "target_branch": target,
		"web_url": fmt.Sprintf("https://gitlab.example.com/platform/deploy/config/-/merge_requests/%d", iid),
		"sha":     fmt.Sprintf("sha%d", iid), "draft": strings.HasPrefix(title, "Draft:"),
		"assignees": []any{}, "reviewers": []any{map[string]any{"id": 99, "username": "carol"}}, "labels": []any{},
	}
}

func (f *fakeGitLab) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.EscapedPath()
	key := r.Method + " " + path
	f.calls = append(f.calls, key)
	f.seen[key]++
	if got := r.Header.Get("Private-Token"); got != sentinelToken {
		f.t.Errorf("%s: PRIVATE-TOKEN = %q, want the token", key, got)
	}
	if f.fail != nil && f.fail(w, r, f.seen[key]) {
		return
	}
	var body map[string]any
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			f.t.Errorf("%s: body is not JSON: %v", key, err)
		}
		f.bodies[key] = body
	}
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	rest, ok := strings.CutPrefix(path, glProject)
	switch {
	case path == "/api/v4/users" && r.Method == http.MethodGet:
		ids := map[string]int{"alice": 11, "bob": 12}
		name := r.URL.Query().Get("username")
		if id, ok := ids[name]; ok {
			reply(200, []any{map[string]any{"id": id, "username": name, "state": "active"}})
		} else {
			reply(200, []any{})
		}
	case ok && rest == "/merge_requests" && r.Method == http.MethodGet:
		q := r.URL.Query()
		var match []map[string]any
		for _, mr := range f.mrs {
			if (q.Get("state") == "" || mr["state"] == q.Get("state")) &&
				(q.Get("source_branch") == "" || mr["source_branch"] == q.Get("source_branch")) {
				match = append(match, mr)
			}
		}
		page, _ := strconv.Atoi(q.Get("page"))
		if page == 0 {
			page = 1
		}
		const per = 1 // force pagination: the server caps per_page
		total := (len(match) + per - 1) / per
		lo, hi := min((page-1)*per, len(match)), min(page*per, len(match))
		w.Header().Set("X-Page", strconv.Itoa(page))
		w.Header().Set("X-Per-Page", strconv.Itoa(per))
		w.Header().Set("X-Total", strconv.Itoa(len(match)))
		w.Header().Set("X-Total-Pages", strconv.Itoa(total))
		if page < total {
			w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
		} else {
			w.Header().Set("X-Next-Page", "")
		}
		reply(200, append([]map[string]any{}, match[lo:hi]...))
	case ok && rest == "/merge_requests" && r.Method == http.MethodPost:
		for _, mr := range f.mrs {
			if mr["state"] == "opened" && mr["source_branch"] == body["source_branch"] {
				reply(409, map[string]any{"message": []any{"Another open merge request already exists for this source branch: !" + fmt.Sprint(mr["iid"])}})
				return
			}
		}
		mr := f.mr(20+len(f.mrs), body["source_branch"].(string), body["target_branch"].(string), body["title"].(string), "opened")
		mr["description"] = body["description"]
		f.mrs = append(f.mrs, mr)
		reply(201, mr)
	case ok && strings.HasPrefix(rest, "/merge_requests/"):
		tail := strings.TrimPrefix(rest, "/merge_requests/")
		iidStr, action, _ := strings.Cut(tail, "/")
		iid, _ := strconv.Atoi(iidStr)
		for _, mr := range f.mrs {
			if mr["iid"] != iid {
				continue
			}
			switch {
			case action == "" && r.Method == http.MethodGet:
				reply(200, mr)
			case action == "" && r.Method == http.MethodPut:
				for _, k := range []string{"title", "description"} {
					if v, ok := body[k]; ok {
						mr[k] = v
					}
				}
				reply(200, mr)
			case action == "merge" && r.Method == http.MethodPut:
				reply(200, mr)
			default:
				f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
			}
			return
		}
		reply(404, map[string]any{"message": "404 Not found"})
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		reply(404, map[string]any{"message": "404 Not found"})
	}
}

func (f *fakeGitLab) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func TestGitLabEnsurePullRequest(t *testing.T) {
	spec := Spec{
		Head: "ferry/prod/from-staging", Base: "main", Title: "Promote staging to prod", Body: "the table",
		Labels: []string{"promotion"}, Reviewers: []string{"alice"}, Assignees: []string{"@bob"},
	}
	const (
		users = "GET /api/v4/users"
		list  = "GET " + glProject + "/merge_requests"
		cr    = "POST " + glProject + "/merge_requests"
		upd   = "PUT " + glProject + "/merge_requests/"
	)
	tests := []struct {
		name      string
		setup     func(f *fakeGitLab)
		want      *PullRequest
		wantCalls []string
		wantBody  map[string]any
	}{{
		name: "opens a merge request",
		setup: func(f *fakeGitLab) {
			f.mrs = append(f.mrs, f.mr(3, "ferry/prod/from-staging", "main", "old", "merged"))
		},
		want:      &PullRequest{Number: 21, URL: "https://gitlab.example.com/platform/deploy/config/-/merge_requests/21"},
		wantCalls: []string{users, users, list, cr},
		wantBody: map[string]any{
			"title": spec.Title, "description": spec.Body, "source_branch": spec.Head, "target_branch": "main",
			"labels": "promotion", "assignee_ids": []any{12.0}, "reviewer_ids": []any{11.0},
		},
	}, {
		name: "updates the open merge request, keeping its draft state and reviewers",
		setup: func(f *fakeGitLab) {
			f.mrs = append(f.mrs, f.mr(3, "ferry/prod/from-staging", "main", "old", "merged"),
				f.mr(4, "ferry/prod/from-staging", "main", "Draft: old", "opened"))
		},
		want:      &PullRequest{Number: 4, URL: "https://gitlab.example.com/platform/deploy/config/-/merge_requests/4", Updated: true},
		wantCalls: []string{users, users, list, upd + "4"},
		wantBody: map[string]any{
			"title": "Draft: " + spec.Title, "description": spec.Body, "target_branch": "main",
			"add_labels": "promotion", "assignee_ids": []any{12.0}, "reviewer_ids": []any{99.0, 11.0},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitLab(t)
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
				t.Errorf("merge request (-want +got):\n%s", diff)
			}
			calls := f.takeCalls()
			if diff := cmp.Diff(tc.wantCalls, calls); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			write := cr
			if got.Updated {
				write = upd + strconv.Itoa(got.Number)
			}
			if diff := cmp.Diff(tc.wantBody, f.bodies[write]); diff != "" {
				t.Errorf("%s body (-want +got):\n%s", write, diff)
			}
			again, err := fg.EnsurePullRequest(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Updated || again.Number != got.Number {
				t.Errorf("second run = %+v, want an update of !%d", again, got.Number)
			}
		})
	}
}

func TestGitLabAutoMerge(t *testing.T) {
	f := newFakeGitLab(t)
	for i := 1; i <= 3; i++ {
		f.mrs = append(f.mrs, f.mr(i, "ferry/prod/from-staging", "main", "old", "merged"))
	}
	f.mrs = append(f.mrs, f.mr(9, "ferry/prod/from-staging", "main", "old", "opened"))
	fg, err := New(f.config())
	if err != nil {
		t.Fatal(err)
	}
	got, err := fg.EnsurePullRequest(context.Background(), Spec{Head: "ferry/prod/from-staging", Base: "main", Title: "t", AutoMerge: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 9 || !got.Updated {
		t.Errorf("got %+v, want an update of !9", got)
	}
	want := []string{
		"GET " + glProject + "/merge_requests",
		"PUT " + glProject + "/merge_requests/9",
		"PUT " + glProject + "/merge_requests/9/merge",
	}
	if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	wantMerge := map[string]any{"auto_merge": true, "merge_when_pipeline_succeeds": true, "sha": "sha9"}
	if diff := cmp.Diff(wantMerge, f.bodies["PUT "+glProject+"/merge_requests/9/merge"]); diff != "" {
		t.Errorf("merge body (-want +got):\n%s", diff)
	}
}

func TestGitLabPaginationFollowsNextPage(t *testing.T) {
	f := newFakeGitLab(t)
	f.mrs = append(f.mrs, f.mr(1, "feature/a", "main", "a", "opened"), f.mr(2, "feature/b", "main", "b", "opened"),
		f.mr(3, "ferry/dev/api", "main", "old", "opened"))
	// Ignore the branch filter so that the client must walk all three pages itself.
	f.fail = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/merge_requests") {
			q := r.URL.Query()
			q.Del("source_branch")
			r.URL.RawQuery = q.Encode()
		}
		return false
	}
	fg, err := New(f.config())
	if err != nil {
		t.Fatal(err)
	}
	got, err := fg.EnsurePullRequest(context.Background(), Spec{Head: "ferry/dev/api", Base: "main", Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&PullRequest{Number: 3, URL: "https://gitlab.example.com/platform/deploy/config/-/merge_requests/3", Updated: true}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := f.seen["GET "+glProject+"/merge_requests"]; n != 3 {
		t.Errorf("list requests = %d, want 3 (one per page)", n)
	}
}

func TestGitLabState(t *testing.T) {
	f := newFakeGitLab(t)
	f.mrs = append(f.mrs, f.mr(1, "a", "main", "a", "opened"), f.mr(2, "b", "main", "b", "merged"),
		f.mr(3, "c", "main", "c", "closed"), f.mr(4, "d", "main", "d", "locked"))
	fg, err := New(f.config())
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]State{1: StateOpen, 2: StateMerged, 3: StateClosed, 4: StateOpen} {
		got, err := fg.State(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("State(!%d) = %q, want %q", n, got, want)
		}
	}
}

func TestGitLabErrors(t *testing.T) {
	spec := Spec{Head: "ferry/prod/api", Base: "main", Title: "Promote"}
	tests := []struct {
		name      string
		fail      func(w http.ResponseWriter, r *http.Request, attempt int) bool
		wantIs    error
		wantIn    []string
		wantPosts int
	}{{
		name: "403 insufficient scope names the api scope",
		fail: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api"}`)
			return true
		},
		wantIs: ErrForbidden,
		wantIn: []string{"403 Forbidden", "insufficient_scope", "required scope: api", "needs the api scope"},
	}, {
		name: "401 invalid token",
		fail: func(w http.ResponseWriter, r *http.Request, _ int) bool {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"401 Unauthorized"}`)
			return true
		},
		wantIs: ErrUnauthorized,
		wantIn: []string{"GITLAB_TOKEN"},
	}, {
		name: "429 with Retry-After, then success",
		fail: func(w http.ResponseWriter, r *http.Request, attempt int) bool {
			if r.Method != http.MethodPost || attempt > 1 {
				return false
			}
			w.Header().Set("Retry-After", "1")
			w.Header().Set("RateLimit-Remaining", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `Retry later`)
			return true
		},
		wantPosts: 2,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGitLab(t)
			f.fail = tc.fail
			fg, err := New(f.config())
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
				checkNoToken(t, err)
				t.Logf("error: %v", err)
				for _, s := range tc.wantIn {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
			}
			if tc.wantPosts != 0 {
				if got := f.seen["POST "+glProject+"/merge_requests"]; got != tc.wantPosts {
					t.Errorf("create requests = %d, want %d", got, tc.wantPosts)
				}
			}
		})
	}
}
