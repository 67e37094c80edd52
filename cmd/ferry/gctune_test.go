package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// ferry's GC defaults (internal/gctune) apply while the packages are initialised: start-up
// runs no collection, which it did with Go's default GOGC (the initialisers allocate about
// 3.5 MB against a first heap goal of 4 MB). Run as this test binary standing in for ferry.
func TestStartRunsNoCollection(t *testing.T) {
	for _, tc := range []struct {
		name, gogc string
		wantGC     bool
	}{
		{"ferry's default", "", false},
		{"a user's GOGC wins", "GOGC=5", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "version")
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GODEBUG=") {
					env = append(env, kv)
				}
			}
			cmd.Env = append(env, "FERRY_TEST_RUN_MAIN=1", "GODEBUG=gctrace=1")
			if tc.gogc != "" {
				cmd.Env = append(cmd.Env, tc.gogc)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("ferry version: %v\n%s", err, stderr.String())
			}
			if got := strings.Contains(stderr.String(), "gc 1 @"); got != tc.wantGC {
				t.Errorf("collected during ferry version: %v, want %v; gctrace:\n%s", got, tc.wantGC, stderr.String())
			}
		})
	}
}
