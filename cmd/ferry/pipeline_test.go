package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/promotetest"
)

func TestPipelineCommands(t *testing.T) {
	const sentinel = "ferry-sentinel-token-5f1c9a"
	t.Setenv("GITHUB_TOKEN", sentinel)
	t.Setenv("FERRY_GIT_TOKEN", sentinel)
	w := promotetest.New(t, nil)
	common := []string{"--repo", w.Bare, "--cache-dir", t.TempDir()}
	var outputs []string
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		outputs = append(outputs, out, errOut)
		return code, out, errOut
	}

	// A dry run prints the diff and the plan and writes nothing.
	head := w.Head("main")
	code, out, errOut := cli(append([]string{"--log-level", "debug", "watch", "--dry-run", "--output", "json"}, common...)...)
	if code != 0 {
		t.Fatalf("watch --dry-run: exit %d\n%s", code, errOut)
	}
	var res promote.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("watch --dry-run output is not one JSON object: %v\n%s", err, out)
	}
	if res.Diff == "" || len(res.Plan) == 0 || len(res.Commits) != 1 || res.Commits[0].SHA != "" || w.Head("main") != head {
		t.Fatalf("dry run: %+v", res)
	}

	// watch: JSON with the changes, the commit, and the unsigned tags it passed over.
	code, out, errOut = cli(append([]string{"watch", "--once", "-o", "json"}, common...)...)
	if code != 0 {
		t.Fatalf("watch: exit %d\n%s", code, errOut)
	}
	res = promote.Result{}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("watch output: %v\n%s", err, out)
	}
	if len(res.Commits) != 1 || len(res.Changes) == 0 || res.PullRequests == nil {
		t.Errorf("watch result: %s", out)
	}
	for _, c := range res.Changes {
		if c.Environment != "dev" || c.File == "" || c.Line == 0 || !strings.Contains(c.To, "@sha256:") {
			t.Errorf("change %+v", c)
		}
	}
	if !strings.Contains(out, `"reason": "unsigned"`) {
		t.Errorf("watch output does not list the unsigned 1.2.0 tags:\n%s", out)
	}

	// Text output of a second run: nothing new.
	code, out, _ = cli(append([]string{"watch"}, common...)...)
	if code != 0 || !strings.Contains(out, "nothing to change") {
		t.Errorf("second watch: exit %d\n%s", code, out)
	}

	// bump of an unsigned image: exit 3, nothing written.
	head = w.Head("main")
	code, _, errOut = cli(append([]string{"bump", w.Reg.Ref("acme/worker:1.2.0")}, common...)...)
	if code != exitRefused || w.Head("main") != head {
		t.Errorf("bump unsigned: exit %d (want %d)\n%s", code, exitRefused, errOut)
	}
	if !strings.Contains(errOut, "unsigned") || !strings.Contains(errOut, "acme/worker") {
		t.Errorf("bump refusal does not name the image and why:\n%s", errOut)
	}

	// promote: a commit to staging.
	code, out, errOut = cli(append([]string{"promote", "dev", "staging"}, common...)...)
	if code != 0 || !strings.Contains(out, "staging: committed") {
		t.Errorf("promote dev staging: exit %d\n%s%s", code, out, errOut)
	}

	// status: markdown and JSON.
	code, out, errOut = cli(append([]string{"status", "--output", "markdown"}, common...)...)
	if code != 0 || !strings.Contains(out, "| dev | api | 1.1.0 |") {
		t.Errorf("status markdown: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = cli(append([]string{"status", "--output", "json"}, common...)...)
	var st promote.StatusReport
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || len(st.Environments) != 3 {
		t.Errorf("status json: exit %d, %v\n%s", code, err, out)
	}

	for _, o := range outputs {
		if strings.Contains(o, sentinel) {
			t.Fatalf("the token appeared in output:\n%s", o)
		}
	}
}

func TestPipelineUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bump"},
		{"promote", "dev"},
		{"watch", "--once", "--interval", "1m"},
		{"watch", "--shard", "4/4"},
		{"status", "--output", "yaml"},
	} {
		if code, _, errOut := runCLI(t, args...); code != exitUsage {
			t.Errorf("ferry %s: exit %d, want %d\n%s", strings.Join(args, " "), code, exitUsage, errOut)
		}
	}
}

func TestVerifyWithConfig(t *testing.T) {
	w := promotetest.New(t, nil)
	checkout := t.TempDir()
	promotetest.Git(t, "", "clone", "-q", w.Bare, checkout)
	code, out, errOut := runCLI(t, "verify", w.Reg.Ref("acme/api:1.1.0"), "--config", "ferry.yaml", "--repo", checkout)
	if code != 0 || !strings.Contains(out, w.Digest["api:1.1.0"]) {
		t.Errorf("verify --config signed: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "verify", w.Reg.Ref("acme/api:1.2.0"), "--config", "ferry.yaml", "--repo", checkout)
	if code != exitRefused {
		t.Errorf("verify --config unsigned: exit %d, want %d\n%s", code, exitRefused, errOut)
	}
	code, _, errOut = runCLI(t, "verify", w.Reg.Ref("acme/other:1.0.0"), "--config", "ferry.yaml", "--repo", checkout)
	if code != exitError || !strings.Contains(errOut, "no image") {
		t.Errorf("verify --config unknown repository: exit %d\n%s", code, errOut)
	}
}

func TestWatchIntervalStopsBetweenCycles(t *testing.T) {
	w := promotetest.New(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"ferry", "watch", "--interval", "1h", "--repo", w.Bare, "--cache-dir", t.TempDir()}, &out, &errb)
	}()
	// The first cycle commits to dev; then the watcher sleeps until it is told to stop.
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(w.Show("main", "envs/dev/kustomization.yaml"), w.Digest["api:1.1.0"]) {
		select {
		case <-deadline:
			t.Fatalf("no first cycle\n%s", errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d after a stop between cycles\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "stopping between cycles") {
		t.Errorf("no word of stopping:\n%s", errb.String())
	}
}

func TestGitHubAppFromEnv(t *testing.T) {
	t.Setenv("FERRY_GITHUB_APP_ID", "7")
	t.Setenv("FERRY_GITHUB_APP_INSTALLATION_ID", "99")
	t.Setenv("FERRY_GITHUB_APP_PRIVATE_KEY_FILE", "/keys/app.pem")
	app, err := githubAppFromEnv()
	if err != nil || app != (promote.GitHubApp{AppID: 7, InstallationID: 99, PrivateKeyPath: "/keys/app.pem"}) {
		t.Errorf("githubAppFromEnv = %+v, %v", app, err)
	}
	t.Setenv("FERRY_GITHUB_APP_INSTALLATION_ID", "")
	if code, _, errOut := runCLI(t, "watch", "--repo", t.TempDir()); code != exitUsage || !strings.Contains(errOut, "FERRY_GITHUB_APP_INSTALLATION_ID") {
		t.Errorf("a partial GitHub App: exit %d\n%s", code, errOut)
	}
}
