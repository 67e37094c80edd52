package promote_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/testenv"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
	"github.com/ferryhq/ferry/promote/promotetest"
)

// TestEndToEnd runs the whole pipeline on the promotetest world (dev a kustomize overlay over a
// shared base, staging Helm values, prod plain manifests with $ferry and Flux markers):
// watch → promote dev staging → promote staging prod (soak gate first refused, then met) →
// the pull request merged → status. After every step the bare repo passes git fsck --strict,
// dev still builds with kustomize, the shared base is untouched, and running the step again
// changes nothing.
func TestEndToEnd(t *testing.T) {
	w := promotetest.New(t, nil)
	kustomize := testenv.Tool(t, "kustomize")
	ctx := context.Background()
	seed := w.Head("main")
	later := time.Now().Add(25 * time.Hour)
	opts := func(now time.Time) promote.Options {
		o := w.Options()
		if !now.IsZero() {
			o.Now = func() time.Time { return now }
		}
		return o
	}
	const prBranch = "ferry/prod/from-staging"

	// trailers checks the Ferry-* trailers of the newest commit on ref.
	trailers := func(t *testing.T, ref string, source, env string) {
		t.Helper()
		got := strings.Split(strings.TrimSpace(promotetest.Git(t, w.Bare, "log", "-1", "--format=%(trailers:only,unfold)", ref)), "\n")
		command := "promote"
		if source == "registry" {
			command = "watch"
		}
		want := []string{
			"Ferry-Image: api=" + w.Ref("api", "1.1.0"),
			"Ferry-Image: worker=" + w.Ref("worker", "1.1.0"),
			"Ferry-Signer: api=key keys/api.pub",
			"Ferry-Signer: worker=key keys/api.pub",
			"Ferry-Source: " + source,
			"Ferry-Environment: " + env,
			"Ferry-Command: " + command,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("trailers of %s (-want +got):\n%s", ref, diff)
		}
	}
	// onlyUnder checks that the newest commit on ref changed files under dir alone.
	onlyUnder := func(t *testing.T, ref, dir string) {
		t.Helper()
		for _, f := range strings.Fields(promotetest.Git(t, w.Bare, "diff-tree", "--no-commit-id", "--name-only", "-r", ref)) {
			if !strings.HasPrefix(f, dir+"/") {
				t.Errorf("commit %s wrote %s, outside %s", ref, f, dir)
			}
		}
	}

	steps := []struct {
		name string
		run  func(t *testing.T) (*promote.Result, error)
		// devTag is the version dev's kustomize build must show afterwards.
		devTag string
		check  func(t *testing.T, res *promote.Result)
	}{
		{
			name: "watch",
			run: func(*testing.T) (*promote.Result, error) {
				return promote.Watch(ctx, opts(time.Time{}), promote.WatchOptions{})
			},
			devTag: "1.1.0",
			check: func(t *testing.T, res *promote.Result) {
				wantCommits(t, res, "dev")
				var skipped []string
				for _, s := range res.Skipped {
					skipped = append(skipped, s.Environment+" "+s.Image+":"+s.Tag+" "+s.Reason)
				}
				if diff := cmp.Diff([]string{"dev api:1.2.0 unsigned", "dev worker:1.2.0 unsigned"}, skipped); diff != "" {
					t.Errorf("skipped (-want +got):\n%s", diff)
				}
				trailers(t, "main", "registry", "dev")
				onlyUnder(t, "main", "envs/dev")
				kust := w.Show("main", "envs/dev/kustomization.yaml")
				for _, want := range []string{
					"newTag: 1.1.0 # bumped by ferry\n    digest: " + w.Digest["api:1.1.0"],
					"- name: " + w.Repository("worker") + "\n    newTag: 1.1.0\n    digest: " + w.Digest["worker:1.1.0"],
				} {
					if !strings.Contains(kust, want) {
						t.Errorf("dev overlay lacks %q:\n%s", want, kust)
					}
				}
			},
		},
		{
			name: "promote dev staging",
			run: func(*testing.T) (*promote.Result, error) {
				return promote.Promote(ctx, opts(time.Time{}), "dev", "staging")
			},
			devTag: "1.1.0",
			check: func(t *testing.T, res *promote.Result) {
				wantCommits(t, res, "staging")
				trailers(t, "main", "dev", "staging")
				onlyUnder(t, "main", "envs/staging")
				values := w.Show("main", "envs/staging/values.yaml")
				for _, img := range []string{"api", "worker"} {
					want := "repository: " + w.Repository(img) + "\n    tag: \"1.1.0\"\n    digest: " + w.Digest[img+":1.1.0"] + "\n"
					if !strings.Contains(values, want) {
						t.Errorf("staging values lack %q:\n%s", want, values)
					}
				}
				if tpl := w.Show("main", "envs/staging/templates/deployment.yaml"); !strings.Contains(tpl, "{{ .Values.api.image.digest }}") {
					t.Errorf("the chart's template was rewritten:\n%s", tpl)
				}
			},
		},
		{
			name: "promote staging prod before the soak time",
			run: func(*testing.T) (*promote.Result, error) {
				return promote.Promote(ctx, opts(time.Time{}), "staging", "prod")
			},
			devTag: "1.1.0",
			check: func(t *testing.T, res *promote.Result) {
				var got []string
				for _, s := range res.Skipped {
					got = append(got, s.Environment+" "+s.Image+" "+s.Reason)
				}
				if diff := cmp.Diff([]string{"prod api gate", "prod worker gate"}, got); diff != "" {
					t.Errorf("skipped (-want +got):\n%s", diff)
				}
				if len(res.Commits)+len(res.PullRequests) != 0 {
					t.Errorf("a gate not met still wrote: %+v", res)
				}
				if _, ok := w.Heads()["refs/heads/"+prBranch]; ok {
					t.Errorf("branch %s pushed before the soak time", prBranch)
				}
			},
		},
		{
			name:   "promote staging prod",
			run:    func(*testing.T) (*promote.Result, error) { return promote.Promote(ctx, opts(later), "staging", "prod") },
			devTag: "1.1.0",
			check: func(t *testing.T, res *promote.Result) {
				want := []promote.PullRequest{{Environment: "prod", Branch: prBranch}}
				if diff := cmp.Diff(want, res.PullRequests); diff != "" {
					t.Errorf("pull requests (-want +got):\n%s", diff)
				}
				if len(res.Commits) != 0 || len(res.Skipped) != 0 {
					t.Errorf("commits %+v, skipped %+v: want neither", res.Commits, res.Skipped)
				}
				trailers(t, prBranch, "staging", "prod")
				onlyUnder(t, prBranch, "envs/prod")
				if parent := strings.TrimSpace(promotetest.Git(t, w.Bare, "rev-parse", prBranch+"^")); parent != w.Head("main") {
					t.Errorf("%s is built on %s, not on main's tip %s", prBranch, parent, w.Head("main"))
				}
				prod := w.Show(prBranch, "envs/prod/deployment.yaml")
				for _, want := range []string{
					"image: " + w.Ref("api", "1.1.0") + ` # {"$ferry": "api"}`,
					`value: "1.1.0" # {"$ferry": "api:tag"}`,
					"image: " + w.Ref("worker", "1.1.0") + ` # {"$imagepolicy": "flux-system:worker"}`,
					`value: "1.1.0" # {"$imagepolicy": "flux-system:worker:tag"}`,
				} {
					if !strings.Contains(prod, want) {
						t.Errorf("prod branch lacks %q:\n%s", want, prod)
					}
				}
				if strings.Contains(w.Show("main", "envs/prod/deployment.yaml"), "1.1.0") {
					t.Error("a pull-request environment was written on main")
				}
			},
		},
		{
			// The reviewer merges the pull request (a fast-forward, as the branch is built on
			// main's tip); promoting again finds prod already there.
			name: "promote staging prod after the merge",
			run: func(t *testing.T) (*promote.Result, error) {
				work := t.TempDir()
				promotetest.Git(t, "", "clone", "-q", "-b", prBranch, w.Bare, work)
				promotetest.Git(t, work, "push", "-q", "origin", "HEAD:main")
				return promote.Promote(ctx, opts(later), "staging", "prod")
			},
			devTag: "1.1.0",
			check: func(t *testing.T, res *promote.Result) {
				if len(res.Commits)+len(res.PullRequests)+len(res.Changes)+len(res.Skipped) != 0 {
					t.Errorf("promotion after the merge did something: %+v", res)
				}
			},
		},
	}

	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			res, err := step.run(t)
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			step.check(t, res)
			gittest.Fsck(t, w.Bare)
			if got := promotetest.Git(t, w.Bare, "log", "--all", "--format=%H", "--", "base"); strings.TrimSpace(got) != seed {
				t.Errorf("the shared base was written by %s", got)
			}
			built := kustomizeBuild(t, kustomize, w.Checkout("main"), "envs/dev")
			for _, img := range []string{"api", "worker"} {
				if want := w.Digest[img+":"+step.devTag]; !strings.Contains(built, w.Repository(img)+":"+step.devTag+"@"+want) {
					t.Errorf("kustomize build envs/dev does not run %s %s@%s:\n%s", img, step.devTag, want, built)
				}
			}
			if t.Failed() {
				return
			}

			// A second run changes nothing: no commit, no branch moved.
			after := w.Heads()
			res, err = step.run(t)
			if err != nil {
				t.Fatalf("%s again: %v", step.name, err)
			}
			if len(res.Commits) != 0 {
				t.Errorf("%s again committed: %+v", step.name, res.Commits)
			}
			if diff := cmp.Diff(after, w.Heads()); diff != "" {
				t.Errorf("%s again moved refs (-first run +second run):\n%s", step.name, diff)
			}
		})
	}

	t.Run("status", func(t *testing.T) {
		before := w.Heads()
		rep, err := promote.Status(ctx, opts(later))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range rep.Environments {
			for _, im := range e.Images {
				got = append(got, strings.Join([]string{e.Name, im.Image, im.Tag, short(im.Digest), yes(im.Verified, "verified"), yes(im.Pinned, "pinned"), strconv.Itoa(im.Behind)}, " "))
			}
		}
		sort.Strings(got)
		var want []string
		for _, env := range []string{"dev", "prod", "staging"} {
			for _, img := range []string{"api", "worker"} {
				want = append(want, strings.Join([]string{env, img, "1.1.0", short(w.Digest[img+":1.1.0"]), "verified", "pinned", "1"}, " "))
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(before, w.Heads()); diff != "" {
			t.Errorf("status moved refs (-want +got):\n%s", diff)
		}
	})

	gittest.AssertNoForcePush(t, w.Bare, "main")
}

// wantCommits checks that a run made exactly one commit per named environment, on main.
func wantCommits(t *testing.T, res *promote.Result, envs ...string) {
	t.Helper()
	var got []string
	for _, c := range res.Commits {
		got = append(got, c.Environment+" "+c.Branch)
		if len(c.SHA) != 40 {
			t.Errorf("commit %+v has no SHA", c)
		}
	}
	var want []string
	for _, e := range envs {
		want = append(want, e+" main")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commits (-want +got):\n%s", diff)
	}
}

// kustomizeBuild runs `kustomize build dir/path` and returns its output.
func kustomizeBuild(t *testing.T, kustomize, dir, path string) string {
	t.Helper()
	cmd := exec.Command(kustomize, "build", filepath.Join(dir, path))
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("kustomize build %s: %v\n%s", path, err, stderr)
	}
	return string(out)
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func yes(b bool, word string) string {
	if b {
		return word
	}
	return "not-" + word
}
