package gitrepo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestClearStaleIndexLock(t *testing.T) {
	// A pid that no longer exists: a finished child's.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(cmd.Process.Pid)
	for _, tc := range []struct {
		name      string
		owner     string // "" for no owner file
		wantClear bool
	}{
		{"ferry's lock, ferry gone", dead, true},
		{"ferry's lock, ferry running", strconv.Itoa(os.Getpid()), false},
		{"another git command's lock", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			lock, owner := filepath.Join(dir, "index.lock"), filepath.Join(dir, indexLockOwner)
			if err := os.WriteFile(lock, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.owner != "" {
				if err := os.WriteFile(owner, []byte(tc.owner), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			clearStaleIndexLock(lock, owner)
			_, err := os.Stat(lock)
			if cleared := os.IsNotExist(err); cleared != tc.wantClear {
				t.Errorf("lock cleared = %v, want %v", cleared, tc.wantClear)
			}
		})
	}
}
