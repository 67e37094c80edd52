package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"ferry"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "ferry ") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestHelpListsCommands(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, cmd := range newApp(nil, nil).Commands {
		if cmd.Hidden {
			continue
		}
		if !strings.Contains(out, cmd.Name) || cmd.Usage == "" {
			t.Errorf("--help does not describe %q:\n%s", cmd.Name, out)
		}
	}
	if !strings.Contains(out, "Examples:") {
		t.Errorf("--help has no examples:\n%s", out)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"version", "--no-such-flag"}, {"no-such-command"}, {"--no-such-global"}} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("ferry %v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestFlagsFirst(t *testing.T) {
	app := newApp(nil, nil)
	for _, tc := range []struct{ in, want string }{
		{"ferry bump REF --repo x --dry-run", "ferry bump --repo x --dry-run -- REF"},
		{"ferry --log-level debug tags REPO --semver ^1 -o=json", "ferry --log-level debug tags --semver ^1 -o=json -- REPO"},
		{"ferry promote dev prod --wait 5m", "ferry promote --wait 5m -- dev prod"},
		{"ferry set-image --path d -- -weird", "ferry set-image --path d -- -weird"},
		{"ferry version", "ferry version"},
		{"ferry nosuch a --b", "ferry nosuch a --b"},
	} {
		got := strings.Join(flagsFirst(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("flagsFirst(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if code, out, _ := runCLI(t, "help", "bump"); code != 0 || !strings.Contains(out, "ferry bump") {
		t.Errorf("ferry help bump: exit %d\n%s", code, out)
	}
}
