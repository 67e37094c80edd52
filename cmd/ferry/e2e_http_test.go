package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/testenv"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/gitrepo"
	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
	"github.com/ferryhq/ferry/promote/promotetest"
)

// TestPipelineOverSmartHTTP runs watch → promote dev staging → promote staging prod → status
// through the CLI against the config repo served by git http-backend behind basic auth, with
// the token in FERRY_GIT_TOKEN. The token must never show in stdout, stderr (debug logs
// included) or commit messages; a wrong token is a clear error and writes nothing.
func TestPipelineOverSmartHTTP(t *testing.T) {
	const sentinel = "ferry-http-sentinel-3e8d41b7"
	for _, v := range []string{"GITHUB_TOKEN", "GITLAB_TOKEN", "GITEA_TOKEN", "FERRY_FORGE_TOKEN"} {
		t.Setenv(v, "")
	}
	t.Setenv("FERRY_GIT_TOKEN", sentinel)
	kustomize := testenv.Tool(t, "kustomize")
	w := promotetest.New(t, nil)
	url, srv := gittest.RepoURL(t, w.Bare, gitrepo.DefaultUsername, sentinel)
	cache := t.TempDir()

	var outputs []string
	cli := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		args = append([]string{"--log-level", "debug"}, args...)
		args = append(args, "--repo", url, "--cache-dir", cache)
		code, out, errOut := runCLI(t, args...)
		outputs = append(outputs, out, errOut)
		return code, out, errOut
	}
	jsonResult := func(t *testing.T, out string) promote.Result {
		t.Helper()
		var res promote.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("output is not one JSON object: %v\n%s", err, out)
		}
		return res
	}

	steps := []struct {
		name   string
		args   []string
		commit string // the environment committed to main, if any
		check  func(t *testing.T, res promote.Result)
	}{
		{
			name: "watch", args: []string{"watch", "--once", "-o", "json"}, commit: "dev",
			check: func(t *testing.T, res promote.Result) {
				built := build(t, kustomize, w.Checkout("main"), "envs/dev")
				for _, img := range []string{"api", "worker"} {
					if !strings.Contains(built, w.Ref(img, "1.1.0")) {
						t.Errorf("kustomize build envs/dev does not run %s:\n%s", w.Ref(img, "1.1.0"), built)
					}
				}
			},
		},
		{
			name: "promote dev staging", args: []string{"promote", "dev", "staging", "-o", "json"}, commit: "staging",
			check: func(t *testing.T, res promote.Result) {
				if v := w.Show("main", "envs/staging/values.yaml"); !strings.Contains(v, "digest: "+w.Digest["api:1.1.0"]) {
					t.Errorf("staging values:\n%s", v)
				}
			},
		},
		{
			// The soak gate (24h) is not met: a skip, exit 0, nothing pushed.
			name: "promote staging prod", args: []string{"promote", "staging", "prod", "-o", "json"},
			check: func(t *testing.T, res promote.Result) {
				if len(res.Skipped) != 2 || res.Skipped[0].Reason != "gate" || len(res.PullRequests) != 0 {
					t.Errorf("want two gate skips and no pull request: %+v", res)
				}
			},
		},
		{
			name: "status", args: []string{"status", "-o", "json"},
			check: func(t *testing.T, _ promote.Result) {},
		},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			served := srv.Served()
			before := w.Heads()
			code, out, errOut := cli(t, step.args...)
			if code != 0 {
				t.Fatalf("ferry %s: exit %d\n%s", step.name, code, errOut)
			}
			if srv.Served() == served {
				t.Fatal("no request reached git http-backend")
			}
			var res promote.Result
			if step.name == "status" {
				var st promote.StatusReport
				if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Environments) != 3 {
					t.Fatalf("status: %v\n%s", err, out)
				}
			} else {
				res = jsonResult(t, out)
				var got []string
				for _, c := range res.Commits {
					got = append(got, c.Environment)
					if c.SHA != w.Head("main") {
						t.Errorf("commit %s is not main's tip %s: not pushed over HTTP?", c.SHA, w.Head("main"))
					}
				}
				var want []string
				if step.commit != "" {
					want = []string{step.commit}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("commits (-want +got):\n%s", diff)
				}
			}
			step.check(t, res)
			gittest.Fsck(t, w.Bare)
			if step.commit == "" {
				if diff := cmp.Diff(before, w.Heads()); diff != "" {
					t.Errorf("refs moved (-want +got):\n%s", diff)
				}
			}

			// Again: nothing changes.
			after := w.Heads()
			if code, _, errOut := cli(t, step.args...); code != 0 {
				t.Fatalf("ferry %s again: exit %d\n%s", step.name, code, errOut)
			}
			if diff := cmp.Diff(after, w.Heads()); diff != "" {
				t.Errorf("second run moved refs (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("wrong token", func(t *testing.T) {
		t.Setenv("FERRY_GIT_TOKEN", "wrong-"+sentinel)
		before, refused := w.Heads(), srv.Refused()
		code, out, errOut := cli(t, "bump", w.Reg.Ref("acme/api:1.0.0"), "--allow-downgrade")
		if code != exitError {
			t.Errorf("exit %d, want %d\n%s%s", code, exitError, out, errOut)
		}
		if srv.Refused() == refused {
			t.Error("the server refused nothing: the wrong token was never sent")
		}
		if !strings.Contains(strings.ToLower(errOut), "authentication") || !strings.Contains(errOut, "127.0.0.1") || !strings.Contains(errOut, "set FERRY_GIT_TOKEN") {
			t.Errorf("the error does not say authentication to the remote failed:\n%s", errOut)
		}
		if diff := cmp.Diff(before, w.Heads()); diff != "" {
			t.Errorf("a refused login wrote (-want +got):\n%s", diff)
		}
	})

	t.Run("no token", func(t *testing.T) {
		t.Setenv("FERRY_GIT_TOKEN", "")
		before := w.Heads()
		if code, _, errOut := cli(t, "watch"); code != exitError {
			t.Errorf("exit %d, want %d\n%s", code, exitError, errOut)
		}
		if diff := cmp.Diff(before, w.Heads()); diff != "" {
			t.Errorf("an anonymous run wrote (-want +got):\n%s", diff)
		}
	})

	for i, o := range outputs {
		if strings.Contains(o, sentinel) {
			t.Errorf("the token appeared in output %d:\n%s", i, o)
		}
	}
	if !strings.Contains(strings.Join(outputs, ""), "level=DEBUG") {
		t.Error("no debug logs at all: the leak check proves nothing")
	}
	if log := promotetest.Git(t, w.Bare, "log", "--all", "--format=%H%n%an %ae%n%cn %ce%n%B"); strings.Contains(log, sentinel) {
		t.Errorf("the token is in a commit:\n%s", log)
	}
	if cfg := promotetest.Git(t, w.Bare, "config", "--list"); strings.Contains(cfg, sentinel) {
		t.Errorf("the token is in the remote's config:\n%s", cfg)
	}
	gittest.AssertNoForcePush(t, w.Bare, "main")
}

// build runs `kustomize build dir/path` and returns its output.
func build(t *testing.T, kustomize, dir, path string) string {
	t.Helper()
	out, err := exec.Command(kustomize, "build", filepath.Join(dir, path)).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("kustomize build %s: %v\n%s", path, err, stderr)
	}
	return string(out)
}
