package promote_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
	"github.com/ferryhq/ferry/promote/promotetest"
)

// devAPI is the version dev's overlay names for api: "tag@digest" (newTag and digest, or a
// newTag holding both) or the tag alone.
func devAPI(t *testing.T, w *promotetest.World) string {
	t.Helper()
	k := w.Show("main", "envs/dev/kustomization.yaml")
	var tag, digest string
	in := false
	for _, line := range strings.Split(k, "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "- "))
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "name:":
			in = f[1] == w.Repository("api")
		case "newTag:":
			if in {
				tag = f[1]
			}
		case "digest:":
			if in {
				digest = f[1]
			}
		}
	}
	if tag == "" {
		t.Fatalf("no api newTag in dev's overlay:\n%s", k)
	}
	if digest != "" {
		return tag + "@" + digest
	}
	return tag
}

func skipped(res *promote.Result, reason string) []string {
	var out []string
	if res == nil {
		return nil
	}
	for _, s := range res.Skipped {
		if s.Reason == reason {
			out = append(out, s.Environment+"/"+s.Image+":"+s.Tag)
		}
	}
	return out
}

func TestRollbackAndHolds(t *testing.T) {
	w := promotetest.New(t, nil)
	w.Sign("api", w.Digest["api:1.2.0"]) // api 1.0.0, 1.1.0 and 1.2.0 are signed; worker's 1.2.0 is not
	ctx := context.Background()
	opts := w.Options()
	opts.Env = "dev"
	bump := func(ref string) *promote.Result {
		t.Helper()
		res, err := promote.Bump(ctx, opts, []string{ref})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	rollback := func(ro promote.RollbackOptions) (*promote.Result, error) {
		return promote.Rollback(ctx, w.Options(), "dev", ro)
	}
	pinned := func(tag string) string { return tag + "@" + w.Digest["api:"+tag] }

	bump(w.Repository("api") + ":1.1.0")
	bump(w.Repository("api") + ":1.2.0")

	// A bare rollback goes back one change, re-verified, with the trailers holds are read from.
	res, err := rollback(promote.RollbackOptions{Images: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := devAPI(t, w); got != pinned("1.1.0") {
		t.Fatalf("after the first rollback dev runs api %s, want %s", got, pinned("1.1.0"))
	}
	if len(res.Commits) != 1 {
		t.Fatalf("commits = %+v, want one", res.Commits)
	}
	msg := promotetest.Git(t, w.Bare, "log", "-1", "--format=%(trailers:only,unfold)", "main")
	for _, want := range []string{
		"Ferry-Image: api=" + w.Ref("api", "1.1.0"),
		"Ferry-Rollback: api=" + w.Ref("api", "1.2.0"),
		"Ferry-Signer: api=key keys/api.pub",
		"Ferry-Command: rollback",
		"Ferry-Environment: dev",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("rollback commit lacks %q:\n%s", want, msg)
		}
	}
	// A second bare rollback steps back once more, passing over 1.2.0 (rolled back from).
	if _, err := rollback(promote.RollbackOptions{Images: []string{"api"}}); err != nil {
		t.Fatal(err)
	}
	if got := devAPI(t, w); got != pinned("1.0.0") {
		t.Fatalf("after the second rollback dev runs api %s, want %s", got, pinned("1.0.0"))
	}

	// Holds: watch and bump do not bring back 1.2.0, nor 1.1.0 (not newer than it).
	wres, err := promote.Watch(ctx, w.Options(), promote.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	head := w.Head("main") // watch wrote worker, which no rollback holds
	if got := skipped(wres, promote.ReasonRolledBack); !cmp.Equal(got, []string{"dev/api:1.2.0"}) {
		t.Errorf("watch skipped as rolled-back %v, want dev/api:1.2.0", got)
	}
	if strings.Contains(w.Show("main", "envs/dev/kustomization.yaml"), pinned("1.2.0")) {
		t.Error("watch brought the rolled-back 1.2.0 back into dev")
	}
	bres := bump(w.Repository("api") + ":1.1.0")
	if got := skipped(bres, promote.ReasonRolledBack); !cmp.Equal(got, []string{"dev/api:1.1.0"}) {
		t.Errorf("bump 1.1.0 skipped as rolled-back %v, want dev/api:1.1.0 (not newer than 1.2.0)", got)
	}
	if got := devAPI(t, w); got != pinned("1.0.0") {
		t.Errorf("a held bump changed dev's api to %s", got)
	}
	// status shows the hold
	st, err := promote.Status(ctx, w.Options())
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, e := range st.Environments {
		for _, im := range e.Images {
			if im.Held {
				held = append(held, e.Name+"/"+im.Image+" from "+im.HeldFrom)
			}
		}
	}
	if diff := cmp.Diff([]string{"dev/api from " + w.Ref("api", "1.2.0")}, held); diff != "" {
		t.Errorf("held images in status (-want +got):\n%s", diff)
	}

	// --to a version never run, and more steps than history holds: exit 1, nothing written.
	for _, ro := range []promote.RollbackOptions{{To: "9.9.9"}, {Images: []string{"api"}, Steps: 9}} {
		_, err := rollback(ro)
		if err == nil || errors.Is(err, promote.ErrRefused) {
			t.Errorf("rollback %+v: err = %v, want an error that is not a refusal", ro, err)
		} else if ro.To != "" && !strings.Contains(err.Error(), "9.9.9") {
			t.Errorf("rollback --to 9.9.9: %v does not name the version", err)
		} else if ro.Steps > 0 && !strings.Contains(err.Error(), "no earlier version of api in dev within 90 days") {
			t.Errorf("rollback --steps 9: %v", err)
		}
	}
	// Already at the target: no change.
	if res, err := rollback(promote.RollbackOptions{Images: []string{"api"}, To: "1.0.0"}); err != nil || len(res.Commits) != 0 {
		t.Errorf("rollback to what dev runs: %+v, %v; want no commit", res, err)
	}
	if w.Head("main") != head {
		t.Fatal("a refused, failed or empty rollback moved main")
	}

	// --to a version by digest; the dry run writes nothing.
	dry := w.Options()
	dry.DryRun = true
	if res, err := promote.Rollback(ctx, dry, "dev", promote.RollbackOptions{Images: []string{"api"}, To: w.Digest["api:1.1.0"]}); err != nil || !strings.Contains(res.Diff, "+    digest: "+w.Digest["api:1.1.0"]) {
		t.Errorf("dry-run rollback --to digest: diff %q, %v", res.Diff, err)
	}
	if w.Head("main") != head {
		t.Fatal("a dry run moved main")
	}

	// bump --allow-rolled-back ends the hold; after it, watch may write again.
	allow := opts
	allow.AllowRolledBack = true
	if res, err := promote.Bump(ctx, allow, []string{w.Repository("api") + ":1.2.0"}); err != nil || len(res.Commits) != 1 {
		t.Fatalf("bump --allow-rolled-back: %+v, %v", res, err)
	}
	if st, err := promote.Status(ctx, w.Options()); err != nil {
		t.Fatal(err)
	} else {
		for _, e := range st.Environments {
			for _, im := range e.Images {
				if im.Held {
					t.Errorf("%s/%s still held after --allow-rolled-back wrote it", e.Name, im.Image)
				}
			}
		}
	}
	gittest.AssertNoForcePush(t, w.Bare, "main")
}

func TestPromoteHonoursHolds(t *testing.T) {
	w := promotetest.New(t, nil)
	ctx := context.Background()
	if _, err := promote.Watch(ctx, w.Options(), promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := promote.Promote(ctx, w.Options(), "dev", "staging"); err != nil {
		t.Fatal(err)
	}
	if _, err := promote.Rollback(ctx, w.Options(), "staging", promote.RollbackOptions{Images: []string{"api"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.Show("main", "envs/staging/values.yaml"), w.Digest["api:1.0.0"]) {
		t.Fatal("staging's api was not rolled back to 1.0.0")
	}
	res, err := promote.Promote(ctx, w.Options(), "dev", "staging")
	if err != nil {
		t.Fatal(err)
	}
	if got := skipped(res, promote.ReasonRolledBack); !cmp.Equal(got, []string{"staging/api:1.1.0"}) {
		t.Errorf("promote skipped as rolled-back %v, want staging/api:1.1.0", got)
	}
	if len(res.Commits) != 0 {
		t.Errorf("promote committed %+v over a hold", res.Commits)
	}
}

func TestRollbackRefusedByVerification(t *testing.T) {
	w := promotetest.New(t, nil)
	ctx := context.Background()
	if _, err := promote.Watch(ctx, w.Options(), promote.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	// Today's verify entries trust another key: 1.0.0's signature no longer verifies.
	h := newHand(t, w)
	other := promotetest.New(t, nil) // a world with a key of its own
	if err := other.Key.WritePublicKey(h.dir + "/keys/api.pub"); err != nil {
		t.Fatal(err)
	}
	h.commit("rotate the signing key")
	head := w.Head("main")
	res, err := promote.Rollback(ctx, w.Options(), "dev", promote.RollbackOptions{})
	if !errors.Is(err, promote.ErrRefused) {
		t.Fatalf("rollback to a version that no longer verifies: err = %v, want a refusal", err)
	}
	if w.Head("main") != head || len(res.Commits) != 0 {
		t.Fatal("a refused rollback wrote")
	}
	if got := skipped(res, "wrong-signer"); len(got) != 2 {
		t.Errorf("skipped = %+v, want api and worker refused as wrong-signer", res.Skipped)
	}
}

// TestConcurrentRollbackAndBump races a rollback of dev against bumps of dev. No commit is
// lost, main is never force-pushed, and a rollback that lost the race to a bump of the same
// image refuses to land over the new version rather than silently undoing it.
func TestConcurrentRollbackAndBump(t *testing.T) {
	w := promotetest.New(t, nil)
	w.Sign("api", w.Digest["api:1.2.0"])
	ctx := context.Background()
	opts := w.Options()
	opts.Env = "dev"
	if _, err := promote.Bump(ctx, opts, []string{w.Repository("api") + ":1.1.0"}); err != nil {
		t.Fatal(err)
	}
	for round := range 4 {
		var wg sync.WaitGroup
		var rbErr, bumpErr error
		var rb, bp *promote.Result
		wg.Add(2)
		go func() {
			defer wg.Done()
			rb, rbErr = promote.Rollback(ctx, w.Options(), "dev", promote.RollbackOptions{Images: []string{"api"}})
		}()
		go func() {
			defer wg.Done()
			bp, bumpErr = promote.Bump(ctx, opts, []string{w.Repository("worker") + ":1.1.0", w.Repository("api") + ":1.2.0"})
		}()
		wg.Wait()
		if bumpErr != nil {
			t.Fatalf("round %d: bump: %v", round, bumpErr)
		}
		if rbErr != nil && !errors.Is(rbErr, promote.ErrMovedDuringRollback) {
			t.Fatalf("round %d: rollback: %v", round, rbErr)
		}
		// every commit either reported lands on main
		for _, res := range []*promote.Result{rb, bp} {
			if res == nil {
				continue
			}
			for _, c := range res.Commits {
				promotetest.Git(t, w.Bare, "merge-base", "--is-ancestor", c.SHA, "main")
			}
		}
		gittest.AssertNoForcePush(t, w.Bare, "main")
		// back to a known state for the next round
		allow := opts
		allow.AllowRolledBack = true
		if _, err := promote.Bump(ctx, allow, []string{w.Repository("api") + ":1.1.0"}); err != nil {
			t.Fatalf("round %d: reset: %v", round, err)
		}
	}
}
