package ferry_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// releaseHost stands in for the release download host: it serves files by path and records
// the paths asked for.
type releaseHost struct {
	url string
	mu  sync.Mutex
	got []string
}

func newReleaseHost(t *testing.T, files map[string][]byte) *releaseHost {
	t.Helper()
	h := &releaseHost{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.mu.Lock()
		h.got = append(h.got, req.URL.Path)
		h.mu.Unlock()
		data, ok := files[req.URL.Path]
		if !ok {
			http.NotFound(w, req)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *releaseHost) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// releaseArchive is a release archive as GoReleaser lays it out: the binary and README.md at
// the top.
func releaseArchive(t *testing.T, ferry string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		mode int64
		data string
	}{{"README.md", 0o644, "# ferry\n"}, {"ferry", 0o755, ferry}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// TestActionRelease runs the action with version: set against a local release host: the
// archive for the runner's OS and arch is downloaded, checked against checksums.txt, and run;
// a second run takes it from the cache. A mismatch, a missing checksum line, a release that
// does not exist and an unsupported runner each fail the download step with a message, and
// ferry never runs.
func TestActionRelease(t *testing.T) {
	realFerry := buildFerry(t)
	archive := releaseArchive(t, fakeFerry)
	const dir = "/v1.2.3/"
	checksums := func(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }
	line := func(data []byte, name string) string { return sha256Hex(data) + "  " + name }
	tests := []struct {
		name      string
		os, arch  string
		files     map[string][]byte
		wantFetch []string // the paths asked for
		wantError string   // "": the run succeeds
	}{
		{
			name: "linux amd64 archive matches checksums.txt",
			os:   "Linux", arch: "X64",
			files: map[string][]byte{
				dir + "checksums.txt": checksums(
					line([]byte("other"), "ferry_1.2.3_darwin_arm64.tar.gz"),
					line(archive, "ferry_1.2.3_linux_amd64.tar.gz"),
					line([]byte("sbom"), "ferry_1.2.3_linux_amd64.tar.gz.cdx.json")),
				dir + "ferry_1.2.3_linux_amd64.tar.gz": archive,
			},
			wantFetch: []string{dir + "checksums.txt", dir + "ferry_1.2.3_linux_amd64.tar.gz"},
		},
		{
			name: "macOS arm64 gets the darwin arm64 archive",
			os:   "macOS", arch: "ARM64",
			files: map[string][]byte{
				dir + "checksums.txt":                   checksums(line(archive, "ferry_1.2.3_darwin_arm64.tar.gz")),
				dir + "ferry_1.2.3_darwin_arm64.tar.gz": archive,
			},
			wantFetch: []string{dir + "checksums.txt", dir + "ferry_1.2.3_darwin_arm64.tar.gz"},
		},
		{
			name: "checksum mismatch",
			os:   "Linux", arch: "X64",
			files: map[string][]byte{
				dir + "checksums.txt":                  checksums(line([]byte("the archive that was released"), "ferry_1.2.3_linux_amd64.tar.gz")),
				dir + "ferry_1.2.3_linux_amd64.tar.gz": archive,
			},
			wantFetch: []string{dir + "checksums.txt", dir + "ferry_1.2.3_linux_amd64.tar.gz"},
			wantError: "::error title=ferry::checksum mismatch for ferry_1.2.3_linux_amd64.tar.gz: checksums.txt says sha256 " +
				sha256Hex([]byte("the archive that was released")) + ", the download has " + sha256Hex(archive) + "; refusing to run it",
		},
		{
			name: "archive not in checksums.txt",
			os:   "Linux", arch: "X64",
			files: map[string][]byte{
				dir + "checksums.txt":                  checksums(line(archive, "ferry_1.2.3_darwin_amd64.tar.gz")),
				dir + "ferry_1.2.3_linux_amd64.tar.gz": archive,
			},
			wantFetch: []string{dir + "checksums.txt", dir + "ferry_1.2.3_linux_amd64.tar.gz"},
			wantError: "::error title=ferry::ferry_1.2.3_linux_amd64.tar.gz is not listed in ",
		},
		{
			name: "no such release",
			os:   "Linux", arch: "X64",
			files:     map[string][]byte{},
			wantFetch: []string{dir + "checksums.txt"},
			wantError: "/v1.2.3/checksums.txt: is v1.2.3 a ferry release?",
		},
		{
			name: "windows runner",
			os:   "Windows", arch: "X64",
			files:     map[string][]byte{},
			wantError: "::error title=ferry::ferry releases are built for Linux and macOS, not Windows",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := newReleaseHost(t, tc.files)
			r := newRunner(t)
			r.os, r.arch = tc.os, tc.arch
			logDir := t.TempDir()
			resultFile := filepath.Join(logDir, "result.json")
			if err := os.WriteFile(resultFile, []byte(`{"changes": [], "commits": [], "pullRequests": [], "skipped": []}`+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			r.extraEnv = []string{"REAL_FERRY=" + realFerry, "FAKE_LOG=" + logDir, "FAKE_RESULT=" + resultFile, "FAKE_EXIT=0"}
			inputs := map[string]string{"command": "watch", "args": "--once", "version": "v1.2.3", "release-url": host.url + "/"}

			res := r.run(inputs)
			if !res.step(t, "Build ferry").skipped {
				t.Errorf("ferry was built from source although version: is set")
			}
			download := res.step(t, "Download ferry")
			if diff := cmp.Diff(tc.wantFetch, host.requests()); diff != "" {
				t.Errorf("requests to the release host (-want +got):\n%s", diff)
			}
			_, statErr := os.Stat(filepath.Join(logDir, "args"))
			if tc.wantError != "" {
				if !res.failed || download.code == 0 || !strings.Contains(download.stdout, tc.wantError) {
					t.Errorf("download: exit %d, stdout:\n%s\nwant a failure with %q", download.code, download.stdout, tc.wantError)
				}
				if !res.step(t, "Run ferry").skipped || statErr == nil {
					t.Errorf("ferry ran although the download failed")
				}
				return
			}
			if res.failed {
				t.Fatalf("the action failed:\n%s", res)
			}
			if !strings.Contains(download.stdout, "matches checksums.txt") || !strings.Contains(download.stdout, "ferry fake") {
				t.Errorf("the download step did not check the archive and run ferry version:\n%s", download.stdout)
			}
			args, err := os.ReadFile(filepath.Join(logDir, "args"))
			if err != nil {
				t.Fatalf("the downloaded ferry did not run: %v\n%s", err, res)
			}
			if diff := cmp.Diff("watch\n--output\njson\n--once\n", string(args)); diff != "" {
				t.Errorf("ferry's arguments (-want +got):\n%s", diff)
			}

			// The second run in the job takes the release from the cache.
			before := len(host.requests())
			res = r.run(inputs)
			if res.failed || !res.step(t, "Download ferry").skipped {
				t.Errorf("second run: failed %v, downloaded again %v\n%s", res.failed, !res.step(t, "Download ferry").skipped, res)
			}
			if after := len(host.requests()); after != before {
				t.Errorf("the second run asked the release host %d more times", after-before)
			}
		})
	}
}
