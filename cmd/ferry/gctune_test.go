package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
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

// maxInitBytes bounds what one of ferry's own packages may allocate while it is initialised:
// regexps, templates and tables are built when first needed, not on every start (the
// manifests package's tag regexp alone allocated 141 KB; see docs/benchmarks.md, Start-up).
const maxInitBytes = 32 << 10

// ferry's own packages leave heavy setup off the start path (GODEBUG=inittrace=1 reports
// each initialiser's allocations).
func TestOwnPackagesInitLight(t *testing.T) {
	cmd := exec.Command(os.Args[0], "version")
	cmd.Env = append(os.Environ(), "FERRY_TEST_RUN_MAIN=1", "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ferry version: %v\n%s", err, stderr.String())
	}
	seen := 0
	for line := range strings.Lines(stderr.String()) {
		// init github.com/ferryhq/ferry/manifests @15 ms, 0.001 ms clock, 288 bytes, 8 allocs
		f := strings.Fields(line)
		if len(f) < 10 || f[0] != "init" || !strings.HasPrefix(f[1], "github.com/ferryhq/ferry/") || f[8] != "bytes," {
			continue
		}
		seen++
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", line, err)
		}
		if n > maxInitBytes {
			t.Errorf("%s allocates %d bytes while it is initialised, more than %d: build it when first needed", f[1], n, maxInitBytes)
		}
	}
	if seen == 0 {
		t.Fatalf("no initialiser of ferry's packages in the trace:\n%s", stderr.String())
	}
}
