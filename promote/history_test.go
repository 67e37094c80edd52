package promote_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/history"
	"github.com/ferryhq/ferry/promote/promotetest"
)

// hand is a clone of a world's config repo where a person edits, commits and pushes with the
// git CLI.
type hand struct {
	t   *testing.T
	w   *promotetest.World
	dir string
}

func newHand(t *testing.T, w *promotetest.World) *hand {
	dir := filepath.Join(t.TempDir(), "work")
	promotetest.Git(t, "", "clone", "-q", w.Bare, dir)
	promotetest.Git(t, dir, "config", "user.name", "Dana Operator")
	promotetest.Git(t, dir, "config", "user.email", "dana@example.test")
	return &hand{t: t, w: w, dir: dir}
}

func (h *hand) git(args ...string) string { h.t.Helper(); return promotetest.Git(h.t, h.dir, args...) }

func (h *hand) pull() { h.t.Helper(); h.git("pull", "-q", "--ff-only", "origin", "main") }

// edit replaces old with new in a file, failing when old is absent.
func (h *hand) edit(path, old, new string) {
	h.t.Helper()
	p := filepath.Join(h.dir, path)
	b, err := os.ReadFile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		h.t.Fatalf("%s lacks %q:\n%s", path, old, b)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hand) commit(msg string) {
	h.t.Helper()
	h.git("commit", "-q", "-a", "--allow-empty", "-m", msg)
	h.git("push", "-q", "origin", "HEAD:main")
}

// projection is the part of an event a test states exactly.
type projection struct{ Env, Image, How, From, To, Source string }

func project(ev []history.Event) []projection {
	var out []projection
	for _, e := range ev {
		out = append(out, projection{e.Environment, e.Image, e.How, history.ShortRef(e.From), history.ShortRef(e.To), e.Source})
	}
	return out
}

func TestHistoryEvents(t *testing.T) {
	w := promotetest.New(t, nil)
	ctx := context.Background()
	ref := func(img, tag string) string { return history.ShortRef(w.Ref(img, tag)) }
	tagOnly := func(img, tag string) string { return w.Repository(img) + ":" + tag }
	h := newHand(t, w)

	// 1. watch writes dev (api and worker 1.0.0 → 1.1.0).
	if _, err := promote.Watch(ctx, w.Options(), promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	watchSHA := w.Head("main")
	// 2. a person reverts it with git revert: manual, with the right from → to.
	h.pull()
	h.git("revert", "--no-edit", watchSHA)
	h.git("push", "-q", "origin", "HEAD:main")
	// 3. forged trailers on a commit that changes no environment: no event.
	h.edit("README.md", "config repo", "config repo, forged")
	h.commit("docs\n\nFerry-Image: api=" + w.Ref("api", "1.1.0") + "\nFerry-Source: registry\nFerry-Environment: dev")
	// 4. watch again; promote dev → staging (a commit).
	if _, err := promote.Watch(ctx, w.Options(), promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := promote.Promote(ctx, w.Options(), "dev", "staging"); err != nil {
		t.Fatal(err)
	}
	beforeHotfix := w.Head("main")
	// 5. one hand commit changes two environments, and claims (falsely) to be ferry's for one.
	h.pull()
	h.edit("envs/staging/values.yaml", `tag: "1.1.0"`+"\n    digest: "+w.Digest["api:1.1.0"], `tag: "1.0.0"`+"\n    digest: "+w.Digest["api:1.0.0"])
	h.edit("envs/prod/deployment.yaml", w.Ref("api", "1.0.0"), w.Ref("api", "1.1.0"))
	h.commit("hotfix by hand\n\nFerry-Image: api=" + w.Ref("api", "1.2.0") + "\nFerry-Environment: staging")
	// 6. promote staging → prod opens a branch (no forge on a path remote); a person merges it
	// with a merge commit.
	later := w.Options()
	later.Now = func() time.Time { return time.Now().Add(48 * time.Hour) } // past prod's soak gate
	if res, err := promote.Promote(ctx, later, "staging", "prod"); err != nil || len(res.PullRequests) != 1 {
		t.Fatalf("promote staging prod: %+v, %v", res, err)
	}
	h.git("fetch", "-q", "origin")
	h.pull()
	h.git("merge", "--no-ff", "-q", "-m", "Merge pull request #7 from ferry/prod/from-staging", "origin/ferry/prod/from-staging")
	h.git("push", "-q", "origin", "HEAD:main")

	rep, err := promote.History(ctx, w.Options(), promote.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seed := func(img, env string) projection {
		r := ref(img, "1.0.0")
		if env == "dev" {
			r = tagOnly(img, "1.0.0")
		}
		return projection{env, img, "manual", "", r, ""}
	}
	want := []projection{
		// 6. the merged pull request: how and source from the merged head's trailers
		{"prod", "api", "promote", ref("api", "1.1.0"), ref("api", "1.0.0"), "staging"},
		{"prod", "worker", "promote", ref("worker", "1.0.0"), ref("worker", "1.1.0"), "staging"},
		// 5. one hand commit, two environments; its false claim makes it no less manual
		{"prod", "api", "manual", ref("api", "1.0.0"), ref("api", "1.1.0"), ""},
		{"staging", "api", "manual", ref("api", "1.1.0"), ref("api", "1.0.0"), ""},
		// 4.
		{"staging", "api", "promote", ref("api", "1.0.0"), ref("api", "1.1.0"), "dev"},
		{"staging", "worker", "promote", ref("worker", "1.0.0"), ref("worker", "1.1.0"), "dev"},
		{"dev", "api", "watch", tagOnly("api", "1.0.0"), ref("api", "1.1.0"), "registry"},
		{"dev", "worker", "watch", tagOnly("worker", "1.0.0"), ref("worker", "1.1.0"), "registry"},
		// 3. nothing; 2. the revert
		{"dev", "api", "manual", ref("api", "1.1.0"), tagOnly("api", "1.0.0"), ""},
		{"dev", "worker", "manual", ref("worker", "1.1.0"), tagOnly("worker", "1.0.0"), ""},
		// 1.
		{"dev", "api", "watch", tagOnly("api", "1.0.0"), ref("api", "1.1.0"), "registry"},
		{"dev", "worker", "watch", tagOnly("worker", "1.0.0"), ref("worker", "1.1.0"), "registry"},
		// the seed commit adds every image to every environment
		seed("api", "dev"), seed("worker", "dev"), seed("api", "prod"), seed("worker", "prod"),
		seed("api", "staging"), seed("worker", "staging"),
	}
	if diff := cmp.Diff(want, project(rep.Events)); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	merge := w.Head("main")
	for i, e := range rep.Events {
		switch {
		case i < 2: // the merged promotion: the merge commit's time and SHA, ferry's authorship
			if e.Commit != merge || e.Author != "ferry-test" || e.Signer != "key keys/api.pub" {
				t.Errorf("event %d: commit %s author %q signer %q, want the merge %s by ferry-test signed by key keys/api.pub", i, e.Commit, e.Author, e.Signer, merge)
			}
		case e.How == history.HowManual:
			if e.Author != "Dana Operator" && e.Author != "seed" {
				t.Errorf("event %d: manual change by %q", i, e.Author)
			}
			if e.Signer != "" || e.Source != "" {
				t.Errorf("event %d: a manual change has signer %q, source %q", i, e.Signer, e.Source)
			}
		}
		// dev received 1.0.0 by tag alone (the seed), so only 1.1.0's arrival is known
		if e.How == history.HowPromote && strings.Contains(e.To, ":1.1.0@") && e.LeadTime == nil {
			t.Errorf("event %d (%s %s): a promotion of a digest dev received in the window has no lead time", i, e.Environment, e.Image)
		}
	}
	deployments := map[string]int{}
	for _, s := range rep.Summary {
		deployments[s.Environment] = s.Deployments
	}
	if diff := cmp.Diff(map[string]int{"dev": 8, "staging": 5, "prod": 5}, deployments); diff != "" {
		t.Errorf("deployments (-want +got):\n%s", diff)
	}
	if !rep.Complete {
		t.Error("the whole history was read, but the report says it is incomplete")
	}

	t.Run("filters", func(t *testing.T) {
		rep, err := promote.History(ctx, w.Options(), promote.HistoryOptions{Env: "staging", Images: []string{"api"}})
		if err != nil {
			t.Fatal(err)
		}
		want := []projection{want[3], want[4], seed("api", "staging")}
		if diff := cmp.Diff(want, project(rep.Events)); diff != "" {
			t.Errorf("staging api events (-want +got):\n%s", diff)
		}
		if len(rep.Summary) != 1 || rep.Summary[0].Environment != "staging" || rep.Summary[0].Deployments != 3 {
			t.Errorf("summary = %+v, want staging's alone with 3 deployments", rep.Summary)
		}
		// lead times still come from dev's arrivals, which the filter hides
		if rep.Events[1].LeadTime == nil {
			t.Error("a filtered promotion lost its lead time")
		}
		for _, bad := range []promote.HistoryOptions{{Env: "qa"}, {Images: []string{"db"}}} {
			if _, err := promote.History(ctx, w.Options(), bad); err == nil {
				t.Errorf("History(%+v) = nil error", bad)
			}
		}
	})

	t.Run("a force-pushed branch", func(t *testing.T) {
		// main is rewritten to before the hotfix, and a new hand commit lands on it: the report
		// follows the branch as it is, and the dropped commits leave no event.
		promotetest.Git(t, w.Bare, "update-ref", "refs/heads/main", beforeHotfix)
		h2 := newHand(t, w)
		h2.edit("envs/staging/values.yaml", `tag: "1.1.0"`+"\n    digest: "+w.Digest["worker:1.1.0"], `tag: "1.0.0"`+"\n    digest: "+w.Digest["worker:1.0.0"])
		h2.commit("staging: worker back by hand")
		rep, err := promote.History(ctx, w.Options(), promote.HistoryOptions{Env: "staging"})
		if err != nil {
			t.Fatal(err)
		}
		want := []projection{
			{"staging", "worker", "manual", ref("worker", "1.1.0"), ref("worker", "1.0.0"), ""},
			want[4], want[5], seed("api", "staging"), seed("worker", "staging"),
		}
		if diff := cmp.Diff(want, project(rep.Events)); diff != "" {
			t.Errorf("staging events after the rewrite (-want +got):\n%s", diff)
		}
	})

	t.Run("an empty window", func(t *testing.T) {
		rep, err := promote.History(ctx, w.Options(), promote.HistoryOptions{Since: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Events) != 0 {
			t.Errorf("events in an empty window: %+v", rep.Events)
		}
		var b strings.Builder
		if err := rep.WriteText(&b); err != nil || !strings.Contains(b.String(), "no changes to the environments' images since") {
			t.Errorf("text of an empty history = %q, %v", b.String(), err)
		}
	})
}
