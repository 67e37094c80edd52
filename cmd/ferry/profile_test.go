package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestProfilesWritten: FERRY_CPUPROFILE and FERRY_MEMPROFILE each leave a gzip'd pprof profile
// once the run stops, and nothing is printed.
func TestProfilesWritten(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.out"), filepath.Join(dir, "mem.out")
	t.Setenv(profileEnv, cpu)
	t.Setenv(memProfileEnv, mem)
	var stderr bytes.Buffer
	stop := startProfile(&stderr)
	sink := make([][]byte, 0, 64)
	for i := 0; i < 64; i++ {
		sink = append(sink, make([]byte, 64<<10))
	}
	_ = sink
	stop()
	if stderr.Len() > 0 {
		t.Fatalf("stderr: %s", stderr.String())
	}
	for _, p := range []string{cpu, mem} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: not a gzip'd profile: %v", p, err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %d bytes, %v", p, len(b), err)
		}
	}
}

// TestProfileUnwritable: a profile path that cannot be created is reported, and the run goes on.
func TestProfileUnwritable(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "missing", "mem.out")
	t.Setenv(profileEnv, "")
	t.Setenv(memProfileEnv, bad)
	var stderr bytes.Buffer
	startProfile(&stderr)()
	if !bytes.Contains(stderr.Bytes(), []byte(memProfileEnv)) {
		t.Fatalf("stderr %q does not name %s", stderr.String(), memProfileEnv)
	}
}
