// Package testenv gives tests the pinned tools that `make tools` installs into .tools/bin.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool returns the path of a pinned test tool. It fails the test (never skips it) when the tool
// is missing, naming the command that installs it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("FERRY_TOOLS_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".tools", "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("test tool %s not found in .tools/bin: run `make tools`", name)
	return ""
}

// RepoRoot returns the module root, found by walking up from the working directory to go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// Git returns the path of the git binary, failing the test if there is none.
func Git(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git not found on PATH: %v", err)
	}
	return p
}
