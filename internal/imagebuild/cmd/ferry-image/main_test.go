package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/internal/testenv"
)

const testVersion = "9.9.9-imagetest"

// buildFerry cross-compiles the real ferry the way `make image` does: static, trimmed, the
// version injected.
func buildFerry(t *testing.T, root, goos, goarch, out string) {
	t.Helper()
	start := time.Now()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid= -X main.version="+testVersion, "-o", out, "./cmd/ferry")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ferry for %s/%s: %v\n%s", goos, goarch, err, b)
	}
	t.Logf("built ferry for %s/%s in %s", goos, goarch, time.Since(start).Round(time.Millisecond))
}

// writeTestCA writes a self-signed CA certificate in PEM, standing in for the system bundle.
func writeTestCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ferry image test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newKey makes a cosign key pair and writes its public key to path.
func newKey(t *testing.T, path string) (*sigtest.KeyPair, string) {
	t.Helper()
	key, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if err := key.WritePublicKey(path); err != nil {
		t.Fatal(err)
	}
	return key, path
}

// imageFiles returns the regular files in img's layers by path (a later layer's wins),
// decompressing each layer once.
func imageFiles(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				if files[h.Name], err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
			}
		}
		rc.Close()
	}
	return files
}

// TestImageEndToEnd builds ferry for linux/amd64 and linux/arm64, builds the image with this
// command (an OCI layout and a push to a loopback registry), signs the pushed index with a key
// made here, checks both platforms' configs as pulled, then runs the binary taken from the
// layer for this machine's architecture: `ferry version` and `ferry verify` of its own image.
func TestImageEndToEnd(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		// It runs the binary taken from the image's layer, so it needs a machine that can: every
		// machine of this project (the developers' and CI's) is linux/amd64. A failure, not a
		// skip, so that the test is never silently left out.
		t.Fatalf("runs the linux/amd64 or linux/arm64 binary from the image's layer, which this %s/%s machine cannot", runtime.GOOS, runtime.GOARCH)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	platforms := []string{"linux/amd64", "linux/arm64"}
	built := map[string]string{}
	args := []string{"--version", testVersion, "--revision", strings.Repeat("ab", 20), "--created", "1763632800", "--source", "https://github.com/ferryhq/ferry"}
	for _, p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		built[p] = filepath.Join(work, goos+"_"+goarch, "ferry")
		buildFerry(t, root, goos, goarch, built[p])
		args = append(args, "--binary", p+"="+built[p])
	}
	caFile := filepath.Join(work, "ca.pem")
	writeTestCA(t, caFile)

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/ferryhq/ferry"
	ref := repo + ":" + testVersion
	out := filepath.Join(work, "oci")
	var stdout bytes.Buffer
	ctx := context.Background()
	// --fast: the best gzip level takes minutes for two 40 MB binaries under -race.
	if err := run(ctx, append(args, "--fast", "--ca-certs", caFile, "--out", out, "--push", ref), &stdout); err != nil {
		t.Fatalf("ferry-image: %v\n%s", err, stdout.String())
	}
	t.Logf("ferry-image:\n%s", stdout.String())

	// The layout names the index by version, and the registry holds the same index.
	lp, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	topManifest, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(topManifest.Manifests) != 1 || topManifest.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != testVersion {
		t.Fatalf("layout index.json: %+v, want one index named %s", topManifest.Manifests, testVersion)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := remote.Index(tag)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	digest, err := pushed.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if want := topManifest.Manifests[0].Digest; digest != want {
		t.Errorf("pushed index %s, layout index %s", digest, want)
	}
	if !strings.Contains(stdout.String(), "index "+digest.String()) {
		t.Errorf("ferry-image did not print the index digest %s:\n%s", digest, stdout.String())
	}

	// Both platforms' configs, as a runtime pulling by platform sees them.
	wantLabels := map[string]string{
		"org.opencontainers.image.title":    "ferry",
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": strings.Repeat("ab", 20),
		"org.opencontainers.image.source":   "https://github.com/ferryhq/ferry",
		"org.opencontainers.image.created":  "2025-11-20T10:00:00Z",
	}
	files := map[string]map[string][]byte{} // platform → path → content
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			plat, err := v1.ParsePlatform(p)
			if err != nil {
				t.Fatal(err)
			}
			img, err := remote.Image(tag, remote.WithPlatform(*plat))
			if err != nil {
				t.Fatalf("pulling %s for %s: %v", ref, p, err)
			}
			files[p] = imageFiles(t, img)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS+"/"+cf.Architecture != p {
				t.Errorf("config platform %s/%s, want %s", cf.OS, cf.Architecture, p)
			}
			if cf.Config.User != "65532:65532" || !cmp.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/ferry"}) {
				t.Errorf("user %q, entrypoint %q; want 65532:65532 and /usr/local/bin/ferry", cf.Config.User, cf.Config.Entrypoint)
			}
			if diff := cmp.Diff(wantLabels, cf.Config.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			want, err := os.ReadFile(built[p])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(files[p]["usr/local/bin/ferry"], want) {
				t.Errorf("the layer's usr/local/bin/ferry is not the %s binary built", p)
			}
			if passwd := string(files[p]["etc/passwd"]); !strings.Contains(passwd, "nonroot:x:65532:65532:") {
				t.Errorf("etc/passwd has no nonroot user:\n%s", passwd)
			}
		})
	}

	// Sign the index as a release would, then let the image's own binary check it.
	key, pub := newKey(t, filepath.Join(work, "cosign.pub"))
	if err := sigtest.SignWithKey(ctx, tag.Context().Digest(digest.String()), key); err != nil {
		t.Fatalf("signing %s: %v", ref, err)
	}
	_, otherPub := newKey(t, filepath.Join(work, "other.pub"))

	host := "linux/" + runtime.GOARCH
	bin := files[host]["usr/local/bin/ferry"]
	if bin == nil {
		t.Fatalf("no ferry binary in the %s image", host)
	}
	ferry := filepath.Join(work, "from-layer", "ferry")
	if err := os.MkdirAll(filepath.Dir(ferry), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ferry, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	runFerry := func(args ...string) (string, int) {
		cmd := exec.Command(ferry, args...)
		cmd.Env = []string{"HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, "docker"), "FERRY_CACHE_DIR=" + filepath.Join(work, "cache")}
		b, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(b), ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
		}
		return string(b), 0
	}
	if out, code := runFerry("version"); code != 0 || !strings.Contains(out, testVersion) {
		t.Errorf("ferry version from the %s layer: exit %d, output %q; want %s", host, code, out, testVersion)
	}
	if out, code := runFerry("verify", "--key", pub, ref); code != 0 {
		t.Errorf("ferry verify --key cosign.pub %s: exit %d\n%s", ref, code, out)
	} else if !strings.Contains(out, digest.String()) {
		t.Errorf("ferry verify does not name the index digest %s:\n%s", digest, out)
	}
	if out, code := runFerry("verify", "--key", otherPub, ref); code != 3 {
		t.Errorf("ferry verify with another key: exit %d, want 3 (refused)\n%s", code, out)
	}
}

// TestRunRejects covers the flag errors a user of `make image` can hit.
func TestRunRejects(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "ferry")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	writeTestCA(t, ca)
	base := []string{"--version", "1.0.0", "--created", "1763632800", "--ca-certs", ca, "--out", filepath.Join(dir, "oci")}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no output", []string{"--version", "1.0.0", "--created", "1"}, "nothing to do"},
		{"no created", []string{"--version", "1.0.0", "--out", dir}, "no --created"},
		{"bad created", []string{"--version", "1.0.0", "--created", "yesterday", "--out", dir}, `--created "yesterday"`},
		{"bad binary flag", append(base, "--binary", bin), "want OS/ARCH=PATH"},
		{"missing binary", append(base, "--binary", "linux/amd64="+filepath.Join(dir, "nope")), "reading the linux/amd64 binary"},
		{"missing CA bundle", []string{"--version", "1.0.0", "--created", "1", "--out", dir, "--binary", "linux/amd64=" + bin, "--ca-certs", filepath.Join(dir, "none.pem")}, "install ca-certificates, or pass --ca-certs FILE"},
		{"bad push ref", append(base, "--push", "Not A Ref"), "parsing --push"},
		{"no binaries", base, "no binaries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
