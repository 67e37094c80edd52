// Package testenv gives tests the pinned tools that `make tools` installs into .tools/bin, and
// loopback servers on chosen addresses.
package testenv

import (
	"net"
	"net/http"
	"net/http/httptest"
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

// ServeOn starts an httptest server for h on the loopback address ip (127.0.0.2, 127.0.0.3,
// …: on Linux all of 127/8 reaches lo), so a test can stand several hosts side by side that
// Go's HTTP client and ferry's credential rules see as different hosts. It stops when the test
// ends.
func ServeOn(t testing.TB, ip string, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listening on %s: %v", ip, err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}
