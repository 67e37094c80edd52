package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseGitHubOutput reads a $GITHUB_OUTPUT file the way the runner does: `name=value` lines
// and `name<<DELIM` … `DELIM` blocks.
func parseGitHubOutput(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if name, delim, ok := strings.Cut(line, "<<"); ok {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				t.Fatalf("output %s: delimiter %s never closes", name, delim)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("bad $GITHUB_OUTPUT line %q", line)
		}
		out[name] = val
	}
	return out
}

const bumpResult = `{
  "changes": [{"environment": "dev", "image": "api", "file": "envs/dev/kustomization.yaml", "line": 7,
               "field": "images[0].newTag", "from": "ghcr.io/acme/api:1.2.0",
               "to": "ghcr.io/acme/api:1.3.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}],
  "commits": [{"environment": "dev", "sha": "3f2a9c1", "branch": "main"}],
  "pullRequests": [{"environment": "staging", "url": "https://github.com/acme/config/pull/12", "number": 12, "updated": true, "branch": "ferry/staging/api"},
                   {"environment": "prod", "updated": false, "branch": "ferry/prod/api"}],
  "skipped": [{"environment": "dev", "image": "worker", "tag": "7", "reason": "unsigned", "detail": "no signatures | none"}]
}`

func TestGitHubReport(t *testing.T) {
	tests := []struct {
		name        string
		result      string
		args        []string
		wantOutputs map[string]string
		wantSummary string
	}{
		{
			name:   "bump with commits, pull requests and a skip",
			result: bumpResult,
			args:   []string{"--command", "bump"},
			wantOutputs: map[string]string{
				"changed":       "true",
				"changes":       `[{"environment":"dev","image":"api","file":"envs/dev/kustomization.yaml","line":7,"field":"images[0].newTag","from":"ghcr.io/acme/api:1.2.0","to":"ghcr.io/acme/api:1.3.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}]`,
				"commits":       `[{"environment":"dev","sha":"3f2a9c1","branch":"main"}]`,
				"pull-requests": `[{"environment":"staging","url":"https://github.com/acme/config/pull/12","number":12,"updated":true,"branch":"ferry/staging/api"},{"environment":"prod","updated":false,"branch":"ferry/prod/api"}]`,
				"skipped":       `[{"environment":"dev","image":"worker","tag":"7","reason":"unsigned","detail":"no signatures | none"}]`,
			},
			wantSummary: "### ferry bump\n\n" +
				"| environment | image | file | from | to |\n| --- | --- | --- | --- | --- |\n" +
				"| dev | api | envs/dev/kustomization.yaml:7 | `ghcr.io/acme/api:1.2.0` | `ghcr.io/acme/api:1.3.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef` |\n\n" +
				"| environment | commit | branch |\n| --- | --- | --- |\n" +
				"| dev | `3f2a9c1` | `main` |\n\n" +
				"| environment | pull request | branch |  |\n| --- | --- | --- | --- |\n" +
				"| staging | [#12](https://github.com/acme/config/pull/12) | `ferry/staging/api` | updated |\n" +
				"| prod | (no forge: open it by hand) | `ferry/prod/api` | pushed |\n\n" +
				"| environment | image | tag | skipped because |\n| --- | --- | --- | --- |\n" +
				"| dev | worker | `7` | unsigned: no signatures \\| none |\n\n",
		},
		{
			name:   "nothing new",
			result: `{"changes": [], "commits": [], "pullRequests": [], "skipped": []}`,
			args:   []string{"--command", "watch"},
			wantOutputs: map[string]string{
				"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]", "skipped": "[]",
			},
			wantSummary: "### ferry watch\n\nNothing to change.\n\n",
		},
		{
			name:   "refused, with nothing printed",
			result: "",
			args:   []string{"--command", "bump", "--exit-code", "3"},
			wantOutputs: map[string]string{
				"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]", "skipped": "[]",
			},
			wantSummary: "### ferry bump\n\n**Verification refused an image** (exit code 3): nothing unverified was written.\n\n",
		},
		{
			name:   "failed",
			result: "",
			args:   []string{"--exit-code", "1"},
			wantOutputs: map[string]string{
				"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]", "skipped": "[]",
			},
			wantSummary: "### ferry\n\n**ferry failed** (exit code 1): see the step's log.\n\n",
		},
		{
			name: "status matrix",
			result: `{"environments": [{"name": "dev", "images": [
				{"image": "api", "tag": "1.3.0", "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "verified": true, "behind": 0},
				{"image": "worker", "tag": "7", "digest": "", "verified": false, "behind": -1, "note": "pinned by tag only"}]}]}`,
			args: []string{"--command", "status"},
			wantOutputs: map[string]string{
				"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]", "skipped": "[]",
			},
			wantSummary: "### ferry status\n\n" +
				"| environment | image | tag | digest | verified | behind |\n| --- | --- | --- | --- | --- | --- |\n" +
				"| dev | api | `1.3.0` | `sha256:0123456789ab` | yes | 0 |\n" +
				"| dev | worker | `7` |  | no (pinned by tag only) | ? |\n\n",
		},
		{
			name:   "verify refused",
			result: `{"ref": "ghcr.io/acme/api:1.4.0", "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "verified": false, "reason": "unsigned"}`,
			args:   []string{"--command", "verify", "--exit-code", "3"},
			wantOutputs: map[string]string{
				"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]", "skipped": "[]",
			},
			wantSummary: "### ferry verify\n\n**Verification refused an image** (exit code 3): nothing unverified was written.\n\n" +
				"| image | digest | verified | signer or reason |\n| --- | --- | --- | --- |\n" +
				"| `ghcr.io/acme/api:1.4.0` | `sha256:0123456789ab` | no | unsigned |\n\n",
		},
		{
			name: "tags decision",
			result: `{"chosen": {"tag": "1.2.0", "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "signer": "keys/api.pub"},
			          "candidates": [{"tag": "1.3.0", "verdict": "refused", "reason": "unsigned"}, {"tag": "1.2.0", "verdict": "chosen", "reason": ""}]}`,
			args: []string{"--command", "tags"},
			wantOutputs: map[string]string{
				"changed": "false", "changes": "[]", "commits": "[]", "pull-requests": "[]", "skipped": "[]",
			},
			wantSummary: "### ferry tags\n\nChosen: `1.2.0` `sha256:0123456789ab` signed by keys/api.pub\n\n" +
				"| tag | verdict | reason |\n| --- | --- | --- |\n" +
				"| `1.3.0` | refused | unsigned |\n| `1.2.0` | chosen |  |\n\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			resultFile := filepath.Join(dir, "result.json")
			if err := os.WriteFile(resultFile, []byte(tc.result), 0o644); err != nil {
				t.Fatal(err)
			}
			outFile := filepath.Join(dir, "output")
			summaryFile := filepath.Join(dir, "summary")
			// A previous step's output stays: the files are appended to.
			if err := os.WriteFile(outFile, []byte("earlier=1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv("GITHUB_OUTPUT", outFile)
			t.Setenv("GITHUB_STEP_SUMMARY", summaryFile)

			code, stdout, stderr := runCLI(t, append([]string{"github-report", "--result", resultFile}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if stdout != "" {
				t.Errorf("github-report printed %q; it should write only the files", stdout)
			}
			out, err := os.ReadFile(outFile)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"earlier": "1"}
			for k, v := range tc.wantOutputs {
				want[k] = v
			}
			if diff := cmp.Diff(want, parseGitHubOutput(t, string(out))); diff != "" {
				t.Errorf("$GITHUB_OUTPUT (-want +got):\n%s", diff)
			}
			summary, err := os.ReadFile(summaryFile)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantSummary, string(summary)); diff != "" {
				t.Errorf("$GITHUB_STEP_SUMMARY (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGitHubReportErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"missing --result", nil, exitUsage, "Required flag"},
		{"no such file", []string{"--result", filepath.Join(dir, "none.json")}, exitError, "reading the result"},
		{"not JSON", []string{"--result", bad}, exitError, "bad.json: decoding ferry's JSON output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GITHUB_OUTPUT", filepath.Join(dir, "out"))
			t.Setenv("GITHUB_STEP_SUMMARY", filepath.Join(dir, "summary"))
			code, _, stderr := runCLI(t, append([]string{"github-report"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}

func TestGitHubOutputDelimiter(t *testing.T) {
	rep, err := parseReport([]byte(`{"commits": [{"environment": "EOF", "sha": "x", "branch": "main"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := rep.writeOutputs(&b, func() (string, error) { return "EOF", nil }); err == nil {
		t.Fatalf("a value containing the delimiter was written:\n%s", b.String())
	}
	d1, err := randomDelimiter()
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := randomDelimiter()
	if d1 == d2 || len(d1) < 32 {
		t.Errorf("delimiters %q and %q are not random enough", d1, d2)
	}
}

func TestGitHubReportHidden(t *testing.T) {
	_, out, _ := runCLI(t, "--help")
	if strings.Contains(out, "github-report") {
		t.Errorf("--help lists the hidden github-report command:\n%s", out)
	}
}

// Example_githubOutputs shows the form the runner reads from $GITHUB_OUTPUT (the delimiter is
// random in real runs).
func Example_githubOutputs() {
	rep, _ := parseReport([]byte(`{"commits": [{"environment": "dev", "sha": "3f2a9c1", "branch": "main"}]}`))
	var b strings.Builder
	_ = rep.writeOutputs(&b, func() (string, error) { return "DELIM", nil })
	lines := strings.SplitAfter(b.String(), "\n")
	fmt.Print(strings.Join(lines[:3], "") + strings.Join(lines[6:9], ""))
	// Output:
	// changed<<DELIM
	// true
	// DELIM
	// commits<<DELIM
	// [{"environment":"dev","sha":"3f2a9c1","branch":"main"}]
	// DELIM
}
