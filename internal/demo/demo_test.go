package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeepDir(t *testing.T) {
	base := t.TempDir()
	full := filepath.Join(base, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(base, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, err string
	}{
		{"new", filepath.Join(base, "new", "repo"), ""},
		{"empty", empty, ""},
		{"not empty", full, "is not empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keepDir(tc.dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("keepDir(%s): err = %v, want %q", tc.dir, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(got); err != nil || !fi.IsDir() {
				t.Errorf("keepDir(%s) = %s, not a directory (%v)", tc.dir, got, err)
			}
		})
	}
}

func TestRunNeedsFerry(t *testing.T) {
	if _, err := Run(context.Background(), Options{}); err == nil || !strings.Contains(err.Error(), "Ferry is required") {
		t.Errorf("Run without Ferry: err = %v", err)
	}
}
