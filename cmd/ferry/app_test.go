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

func TestUnknownFlagIsUsageError(t *testing.T) {
	code, _, _ := runCLI(t, "version", "--no-such-flag")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
}
