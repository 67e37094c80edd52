package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testenv"
)

// ferryBin is the ferry binary under test, built once by TestMain.
var ferryBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ferry-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ferryBin = filepath.Join(dir, "ferry")
	build := exec.Command("go", "build", "-trimpath", "-o", ferryBin, "github.com/ferryhq/ferry/cmd/ferry")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ferry:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stress reports whether the long form runs (FERRY_STRESS=1, `make stress`).
func stress() bool {
	v, _ := strconv.ParseBool(os.Getenv("FERRY_STRESS"))
	return v
}

// iters returns short in the short form and long in the long one.
func iters(short, long int) int {
	if stress() {
		return long
	}
	return short
}

// run is one finished ferry process.
type run struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r run) String() string {
	return fmt.Sprintf("ferry %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// baseEnv is the environment every ferry process gets: nothing inherited but PATH, so that no
// token of the machine running the tests leaks in, a private HOME (no Docker or Git config) and
// cache, and Git with no system or global config.
func baseEnv(t testing.TB) []string {
	home := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"TMPDIR=" + os.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
	}
}

// command prepares a ferry process with baseEnv plus env ("KEY=value").
func command(t testing.TB, ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, ferryBin, args...)
	cmd.Env = append(baseEnv(t), env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// ferry runs the binary to completion (2 minutes at most).
func ferry(t testing.TB, env []string, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := command(t, ctx, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := run{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running ferry %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("ferry %s did not finish in time\n%s", strings.Join(args, " "), r)
	}
	return r
}

// git runs the git CLI in dir with no user config and returns its output, failing t on error.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitErr(dir, args...)
	if err != nil {
		t.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return out
}

func gitErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=seed", "GIT_AUTHOR_EMAIL=seed@example.test",
		"GIT_COMMITTER_NAME=seed", "GIT_COMMITTER_EMAIL=seed@example.test")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fsck checks dir with git fsck --strict and fails t on any complaint.
func fsck(t testing.TB, dir string) {
	t.Helper()
	out, err := gitErr(dir, "fsck", "--strict", "--no-progress", "--no-dangling")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("git fsck --strict in %s: %v\n%s", dir, err, out)
	}
}

// lockFiles lists *.lock files under dir (a bare repo or a .git directory): git refuses to
// work while a stale one stays.
func lockFiles(t testing.TB, dir string) []string {
	t.Helper()
	var locks []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while we walked (git's own temporary object directories)
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".lock") {
			rel, _ := filepath.Rel(dir, p)
			locks = append(locks, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return locks
}

// testenvGit fails t when git is missing (never skips).
func testenvGit(t testing.TB) { testenv.Git(t) }
