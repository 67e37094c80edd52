package ferry_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestActionShape checks action.yml's interface and the rules its steps keep: inputs reach
// scripts only through env (no script injection), third-party actions are pinned by commit,
// and the token is handed to nothing but ferry's environment.
func TestActionShape(t *testing.T) {
	a, raw := loadAction(t)
	if a.Runs.Using != "composite" {
		t.Errorf("runs.using = %q, want composite", a.Runs.Using)
	}
	var inputs, outputs []string
	for k := range a.Inputs {
		inputs = append(inputs, k)
	}
	for k := range a.Outputs {
		outputs = append(outputs, k)
	}
	slices.Sort(inputs)
	slices.Sort(outputs)
	if diff := cmp.Diff([]string{"args", "command", "config", "release-url", "repo", "token", "version", "working-directory"}, inputs); diff != "" {
		t.Errorf("inputs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"changed", "changes", "commits", "pull-requests", "skipped"}, outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	if !a.Inputs["command"].Required {
		t.Errorf("input command is not required")
	}
	if got := a.Inputs["token"].Default; got != "${{ github.token }}" {
		t.Errorf("token default = %q, want the workflow's token", got)
	}
	for name, in := range a.Inputs {
		if in.Description == "" {
			t.Errorf("input %s has no description", name)
		}
	}
	for name, out := range a.Outputs {
		if out.Description == "" || !strings.HasPrefix(out.Value, "${{ steps.run.outputs.") {
			t.Errorf("output %s: %+v, want a description and a value from the run step", name, out)
		}
	}

	pinned := regexp.MustCompile(`^[\w.-]+/[\w.-]+@[0-9a-f]{40}$`)
	var uses []string
	for _, st := range a.Runs.Steps {
		if st.Name == "" {
			t.Errorf("a step has no name: %+v", st)
		}
		if st.Uses != "" {
			uses = append(uses, strings.SplitN(st.Uses, "@", 2)[0])
			if !pinned.MatchString(st.Uses) {
				t.Errorf("step %q: uses %q is not pinned by full commit SHA", st.Name, st.Uses)
			}
			continue
		}
		if st.Shell != "bash" {
			t.Errorf("step %q: shell %q, want bash", st.Name, st.Shell)
		}
		if strings.Contains(st.Run, "${{") {
			t.Errorf("step %q: its script holds an expression; pass values through env", st.Name)
		}
		for k, v := range st.Env {
			if strings.Contains(v, "inputs.token") && (st.ID != "run" || k != "FERRY_TOKEN_INPUT") {
				t.Errorf("step %q: the token goes to %s; only the run step's FERRY_TOKEN_INPUT may hold it", st.Name, k)
			}
		}
	}
	if diff := cmp.Diff([]string{"actions/setup-go", "actions/cache"}, uses); diff != "" {
		t.Errorf("actions used (-want +got):\n%s", diff)
	}
	// A version comment follows every pin, for readers and for update bots.
	for _, m := range regexp.MustCompile(`uses: (\S+)(.*)`).FindAllStringSubmatch(string(raw), -1) {
		if !regexp.MustCompile(`^ # v\d+\.\d+\.\d+$`).MatchString(m[2]) {
			t.Errorf("uses: %s has no `# vX.Y.Z` comment", m[1])
		}
	}
}

// TestActionLooksForGo runs the first step with and without Go on PATH: setup-go runs only
// when Go is missing.
func TestActionLooksForGo(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bashBin, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	noGo := t.TempDir()
	for _, tool := range []string{"bash"} {
		if err := os.Symlink(bashBin, filepath.Join(noGo, tool)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"go on PATH", filepath.Dir(goBin) + string(os.PathListSeparator) + noGo, "true"},
		{"no go", noGo, "false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunner(t)
			r.path = tc.path
			st := r.action.Runs.Steps[0]
			if st.ID != "go" {
				t.Fatalf("first step is %q, want the Go check", st.Name)
			}
			sr := r.runStep(st, map[string]string{}, t.TempDir())
			if sr.code != 0 {
				t.Fatalf("exit %d: %s", sr.code, sr.stderr)
			}
			if got := sr.outputs["found"]; got != tc.want {
				t.Errorf("found = %q, want %q", got, tc.want)
			}
			setup := r.action.Runs.Steps[1]
			if !strings.HasPrefix(setup.Uses, "actions/setup-go@") {
				t.Fatalf("second step is %q, want setup-go", setup.Name)
			}
			ctx := map[string]string{"steps.go.outputs.found": sr.outputs["found"]}
			if got, want := evalIf(t, setup.If, ctx, false), tc.want == "false"; got != want {
				t.Errorf("setup-go runs: %v, want %v", got, want)
			}
		})
	}
}

// buildFerry builds the real ferry once per test.
func buildFerry(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ferry")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/ferry").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/ferry: %v\n%s", err, out)
	}
	return bin
}

// fakeFerry is a ferry that records its arguments and environment and prints a fixed result;
// github-report is the real one.
const fakeFerry = `#!/usr/bin/env bash
if [ "$1" = github-report ]; then exec "$REAL_FERRY" "$@"; fi
if [ "$1" = version ]; then echo "ferry fake"; exit 0; fi
printf '%s\n' "$@" > "$FAKE_LOG/args"
env > "$FAKE_LOG/env"
echo "ferry: logs go to stderr" >&2
cat "$FAKE_RESULT"
exit "$FAKE_EXIT"
`

// TestActionRunStep runs the whole action with a fake ferry in the cache, to check how inputs
// become ferry's arguments and environment and how the result becomes outputs and a summary.
func TestActionRunStep(t *testing.T) {
	realFerry := buildFerry(t)
	const okResult = `{"changes": [{"environment": "dev", "image": "api", "file": "envs/dev/kustomization.yaml", "line": 7, "field": "newTag", "from": "ghcr.io/acme/api:1.2.0", "to": "ghcr.io/acme/api:1.3.0"}],
  "commits": [{"environment": "dev", "sha": "3f2a9c1", "branch": "main"}], "pullRequests": [], "skipped": []}`
	const refusedResult = `{"changes": [], "commits": [], "pullRequests": [],
  "skipped": [{"environment": "dev", "image": "api", "tag": "1.4.0", "reason": "unsigned", "detail": "no signatures\n::warning::injected"}]}`
	tests := []struct {
		name        string
		inputs      map[string]string
		result      string
		exit        string
		wantCode    int
		wantArgs    []string // nil: ferry must not run
		wantOutputs map[string]string
		wantSummary []string
	}{
		{
			name:     "bump with config and repo",
			inputs:   map[string]string{"command": "bump", "args": "ghcr.io/acme/api:1.3.0", "config": "deploy/ferry.yaml", "repo": "https://github.com/acme/config"},
			result:   okResult,
			exit:     "0",
			wantArgs: []string{"bump", "--output", "json", "--config", "deploy/ferry.yaml", "--repo", "https://github.com/acme/config", "ghcr.io/acme/api:1.3.0"},
			wantOutputs: map[string]string{
				"changed": "true",
				"commits": `[{"environment":"dev","sha":"3f2a9c1","branch":"main"}]`, "pull-requests": "[]", "skipped": "[]",
				"changes": `[{"environment":"dev","image":"api","file":"envs/dev/kustomization.yaml","line":7,"field":"newTag","from":"ghcr.io/acme/api:1.2.0","to":"ghcr.io/acme/api:1.3.0"}]`,
			},
			wantSummary: []string{"### ferry bump", "| dev | `3f2a9c1` | `main` |"},
		},
		{
			name:     "promote with one argument per line",
			inputs:   map[string]string{"command": "promote", "args": "  dev\n\n  staging  \n--dry-run\n"},
			result:   `{"changes": [], "commits": [], "pullRequests": [], "skipped": []}`,
			exit:     "0",
			wantArgs: []string{"promote", "--output", "json", "dev", "staging", "--dry-run"},
			wantOutputs: map[string]string{
				"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]", "skipped": "[]",
			},
			wantSummary: []string{"### ferry promote", "Nothing to change."},
		},
		{
			name:     "tags takes neither config nor repo, and globs stay literal",
			inputs:   map[string]string{"command": "tags", "args": "ghcr.io/acme/api --ignore * --allow ^v", "config": "ferry.yaml", "repo": "."},
			result:   `{"chosen": {"tag": "1.2.0", "digest": "sha256:00"}, "candidates": []}`,
			exit:     "0",
			wantArgs: []string{"tags", "--output", "json", "ghcr.io/acme/api", "--ignore", "*", "--allow", "^v"},
			wantOutputs: map[string]string{
				"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]", "skipped": "[]",
			},
			wantSummary: []string{"### ferry tags", "Chosen: `1.2.0`"},
		},
		{
			name:     "refused: outputs are written and the step still fails with 3",
			inputs:   map[string]string{"command": "bump", "args": "ghcr.io/acme/api:1.4.0"},
			result:   refusedResult,
			exit:     "3",
			wantCode: 3,
			wantArgs: []string{"bump", "--output", "json", "ghcr.io/acme/api:1.4.0"},
			wantOutputs: map[string]string{
				"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]",
				"skipped": `[{"environment":"dev","image":"api","tag":"1.4.0","reason":"unsigned","detail":"no signatures\n::warning::injected"}]`,
			},
			wantSummary: []string{"**Verification refused an image** (exit code 3)", "| dev | api | `1.4.0` | unsigned: no signatures ::warning::injected |"},
		},
		{
			name:     "ferry fails without printing",
			inputs:   map[string]string{"command": "watch", "args": "--once"},
			result:   "",
			exit:     "1",
			wantCode: 1,
			wantArgs: []string{"watch", "--output", "json", "--once"},
			wantOutputs: map[string]string{
				"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]", "skipped": "[]",
			},
			wantSummary: []string{"**ferry failed** (exit code 1)"},
		},
		{
			name:     "unknown command",
			inputs:   map[string]string{"command": "deploy"},
			wantCode: 2,
			wantOutputs: map[string]string{
				"changed": "", "changes": "", "commits": "", "pull-requests": "", "skipped": "",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunner(t)
			logDir := t.TempDir()
			resultFile := filepath.Join(logDir, "result.json")
			if err := os.WriteFile(resultFile, []byte(tc.result+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			r.extraEnv = []string{"REAL_FERRY=" + realFerry, "FAKE_LOG=" + logDir, "FAKE_RESULT=" + resultFile, "FAKE_EXIT=" + tc.exit}
			r.seedCacheWithFake(t)

			res := r.run(tc.inputs)
			if res.code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s", res.code, tc.wantCode, res)
			}
			if build := res.step(t, "Build ferry"); !build.skipped {
				t.Errorf("ferry was built although the cache had it")
			}
			run := res.step(t, "Run ferry")
			if tc.wantArgs == nil {
				if _, err := os.Stat(filepath.Join(logDir, "args")); err == nil {
					t.Errorf("ferry ran for an invalid command")
				}
				if !strings.Contains(run.stdout, "::error title=ferry::command \"deploy\" is not one of") {
					t.Errorf("no error annotation for the bad command:\n%s", run.stdout)
				}
				return
			}
			argsData, err := os.ReadFile(filepath.Join(logDir, "args"))
			if err != nil {
				t.Fatalf("ferry did not run: %v\n%s", err, res)
			}
			if diff := cmp.Diff(tc.wantArgs, strings.Split(strings.TrimSuffix(string(argsData), "\n"), "\n")); diff != "" {
				t.Errorf("ferry's arguments (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantOutputs, res.outputs); diff != "" {
				t.Errorf("action outputs (-want +got):\n%s", diff)
			}
			for _, want := range tc.wantSummary {
				if !strings.Contains(res.summary, want) {
					t.Errorf("summary lacks %q:\n%s", want, res.summary)
				}
			}

			// The token is in ferry's environment under the two names ferry reads, and nowhere
			// else: not in the arguments, not under the input's own name, not in any output.
			envData, err := os.ReadFile(filepath.Join(logDir, "env"))
			if err != nil {
				t.Fatal(err)
			}
			env := strings.Split(string(envData), "\n")
			for _, want := range []string{"GITHUB_TOKEN=" + r.token, "FERRY_GIT_TOKEN=" + r.token} {
				if !slices.Contains(env, want) {
					t.Errorf("ferry's environment lacks %s", strings.SplitN(want, "=", 2)[0])
				}
			}
			for _, line := range env {
				if strings.HasPrefix(line, "FERRY_TOKEN_INPUT=") {
					t.Errorf("the token input's variable reached ferry")
				}
			}
			if strings.Contains(string(argsData), r.token) || strings.Contains(res.summary, r.token) {
				t.Errorf("the token is in ferry's arguments or the summary")
			}
			for k, v := range res.outputs {
				if strings.Contains(v, r.token) {
					t.Errorf("the token is in output %s", k)
				}
			}
			var masked bool
			for _, line := range strings.Split(run.stdout, "\n") {
				if line == "::add-mask::"+r.token {
					masked = true
				} else if strings.Contains(line, r.token) {
					t.Errorf("the token is printed: %q", line)
				}
			}
			if !masked {
				t.Errorf("the token is not masked:\n%s", run.stdout)
			}
			if strings.Contains(run.stderr, r.token) {
				t.Errorf("the token is in the step's stderr")
			}

			// ferry's output is printed with workflow commands stopped.
			m := regexp.MustCompile(`(?s)::stop-commands::(ferry-[0-9a-f]{32})\n(.*)\n::(ferry-[0-9a-f]{32})::\n`).FindStringSubmatch(run.stdout)
			if m == nil || m[1] != m[3] || !strings.Contains(m[2], strings.TrimSpace(tc.result)) {
				t.Errorf("ferry's output is not printed between stop-commands markers:\n%s", run.stdout)
			}
			if !strings.Contains(run.path, "ferry-bin") {
				t.Errorf("ferry's directory is not added to $GITHUB_PATH: %q", run.path)
			}
		})
	}
}

// seedCacheWithFake stores the fake ferry under the cache key the action will compute, by
// running its version step first.
func (r *runner) seedCacheWithFake(t *testing.T) {
	t.Helper()
	ctx := map[string]string{"inputs.version": "", "github.action_ref": r.actionRef}
	sr := r.runStep(r.stepByID(t, "ref"), ctx, t.TempDir())
	if sr.code != 0 || sr.outputs["key"] == "" {
		t.Fatalf("version step: exit %d, outputs %v, stderr %s", sr.code, sr.outputs, sr.stderr)
	}
	dir := filepath.Join(r.cacheDir, "ferry-Linux-X64-"+sr.outputs["key"])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ferry"), []byte(fakeFerry), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestActionVersionKey checks the cache key: the action's ref plus its sources by default, the
// release tag for an explicit version; a version that is not a release fails with a message.
func TestActionVersionKey(t *testing.T) {
	tests := []struct {
		version   string
		wantKey   *regexp.Regexp // nil: the step must fail
		wantLabel string
	}{
		{"", regexp.MustCompile(`^v0.0.0-test-[0-9a-f]{16}$`), "v0.0.0-test"},
		{"v1.2.3", regexp.MustCompile(`^v1\.2\.3$`), "1.2.3"},
		{"1.2.3", regexp.MustCompile(`^v1\.2\.3$`), "1.2.3"},
		{"v1.3.0-rc.1", regexp.MustCompile(`^v1\.3\.0-rc\.1$`), "1.3.0-rc.1"},
		{"main", nil, ""},
		{"0123456789abcdef0123456789abcdef01234567", nil, ""},
		{"v1.2", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			r := newRunner(t)
			temp := t.TempDir()
			sr := r.runStep(r.stepByID(t, "ref"), map[string]string{"inputs.version": tc.version, "github.action_ref": r.actionRef}, temp)
			if tc.wantKey == nil {
				want := "::error title=ferry::version \"" + tc.version + "\" is not a release such as v1.2.0"
				if sr.code == 0 || !strings.Contains(sr.stdout, want) {
					t.Errorf("exit %d, stdout %q; want a failure with %q", sr.code, sr.stdout, want)
				}
				return
			}
			if sr.code != 0 {
				t.Fatalf("exit %d: %s", sr.code, sr.stderr)
			}
			if !tc.wantKey.MatchString(sr.outputs["key"]) || sr.outputs["label"] != tc.wantLabel {
				t.Errorf("outputs %v, want key matching %s and label %q", sr.outputs, tc.wantKey, tc.wantLabel)
			}
			if want := filepath.Join(temp, "ferry-bin", sr.outputs["key"]); sr.outputs["bin-dir"] != want {
				t.Errorf("bin-dir %q, want %q", sr.outputs["bin-dir"], want)
			}
		})
	}
}
