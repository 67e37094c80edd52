package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMain lets a test run this test binary as the ferry command (FERRY_TEST_RUN_MAIN=1), so
// the shell completion scripts can be exercised against a real process.

func TestCompletionScripts(t *testing.T) {
	for _, tc := range []struct {
		shell string
		want  []string
	}{
		{"bash", []string{"complete -o bashdefault -o default -F _ferry_complete ferry", "--generate-bash-completion"}},
		{"zsh", []string{"#compdef ferry", "compdef _ferry ferry", "--generate-bash-completion"}},
		{"fish", []string{"complete -c ferry", "-a 'watch'", "-a 'promote'", "-a 'completion'", "-l shard"}},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			code, out, errOut := runCLI(t, "completion", tc.shell)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s script lacks %q:\n%s", tc.shell, w, out)
				}
			}
			if tc.shell == "fish" && (strings.Contains(out, "'docs'") || strings.Contains(out, "github-report")) {
				t.Errorf("fish script completes hidden commands:\n%s", out)
			}
			if tc.shell == "bash" {
				script := filepath.Join(t.TempDir(), "ferry.bash")
				if err := os.WriteFile(script, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				if b, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
					t.Errorf("bash -n: %v\n%s", err, b)
				}
			}
		})
	}
}

func TestCompletionUsage(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "powershell"}, {"completion", "bash", "zsh"}} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("ferry %s: exit %d, want %d", strings.Join(args, " "), code, exitUsage)
		}
	}
}

// TestBashCompletion sources the bash script and completes command lines against this test
// binary installed as ferry on PATH.
func TestBashCompletion(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(bin, "ferry")); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "ferry.bash")
	if err := os.WriteFile(script, []byte(bashCompletion), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"ferry wa", []string{"watch"}},
		{"ferry st", []string{"status"}},
		{"ferry comp", []string{"completion"}},
		{"ferry watch --on", []string{"--once"}},
		{"ferry promote --dry", []string{"--dry-run"}},
	} {
		t.Run(tc.line, func(t *testing.T) {
			words := strings.Fields(tc.line)
			prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ferry_complete; printf '%s\n' "${COMPREPLY[@]}"`
			cmd := exec.Command("bash", append([]string{"-c", prog, "bash", script}, words...)...)
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "FERRY_TEST_RUN_MAIN=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			if diff := cmp.Diff(tc.want, strings.Fields(string(out))); diff != "" {
				t.Errorf("completions of %q (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

// TestHelpHasExamples checks that every visible command's --help shows examples.
func TestHelpHasExamples(t *testing.T) {
	for _, cmd := range newApp(nil, nil).VisibleCommands() {
		t.Run(cmd.Name, func(t *testing.T) {
			code, out, errOut := runCLI(t, cmd.Name, "--help")
			if code != 0 {
				t.Fatalf("ferry %s --help: exit %d: %s", cmd.Name, code, errOut)
			}
			if !strings.Contains(out, "Example") {
				t.Errorf("ferry %s --help shows no examples:\n%s", cmd.Name, out)
			}
		})
	}
}
