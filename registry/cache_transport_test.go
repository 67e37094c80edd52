package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// With a cache, verifying a digest whose signature was read before costs one HEAD of the
// signature tag: its manifest and layer are answered from the cache by digest. A signature
// removed from the registry is noticed at once (verification fails closed), and a signature
// replaced under the same tag is fetched and checked anew.
func TestVerifyReadsUnchangedSignatureFromCache(t *testing.T) {
	ctx := context.Background()
	s := registrytest.New(t)
	key, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	if err := key.WritePublicKey(pub); err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(s.Repo("app") + "@" + s.PushRandom(t, "app:1.0.0", registrytest.Image{}))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k *sigtest.KeyPair) {
		t.Helper()
		if err := sigtest.SignWithKey(ctx, ref, k, sigtest.WithRemoteOptions(s.RemoteOptions()...), sigtest.WithoutTlog()); err != nil {
			t.Fatal(err)
		}
	}
	sign(key)
	cacheDir := t.TempDir()
	verify := func() error {
		t.Helper()
		c, err := registry.New(registry.WithCacheDir(cacheDir)) // a new run: only the disk cache is shared
		if err != nil {
			t.Fatal(err)
		}
		v, err := registry.NewVerifier([]registry.VerifyEntry{{Key: pub}}, registry.WithCache(c),
			registry.WithRemoteOptions(c.RemoteOptions(ctx)...), registry.WithRemoteOptionsFor(c.RemoteOptionsFor))
		if err != nil {
			t.Fatal(err)
		}
		s.ResetCounts()
		_, err = v.Verify(ctx, ref)
		return err
	}
	if err := verify(); err != nil {
		t.Fatalf("first verify: %v", err)
	}
	if got := s.Count(registrytest.ManifestGet) + s.Count(registrytest.BlobGet); got != 2 {
		t.Errorf("first verify: %d manifest and blob GETs, want 2 (counts %v)", got, s.Counts())
	}
	// What it learned (the signature tag, its manifest and payload) is one file: the
	// repository's pack, not a record each.
	if files := cacheFiles(t, cacheDir); len(files) != 1 || !strings.HasPrefix(files[0], "v1/repos/") {
		t.Errorf("cache files after the first verify: %v, want one pack", files)
	}
	if err := verify(); err != nil {
		t.Fatalf("second verify: %v", err)
	}
	if got := s.Count(registrytest.ManifestHead); got != 1 {
		t.Errorf("second verify: %d manifest HEADs, want 1 (counts %v)", got, s.Counts())
	}
	if got := s.Count(registrytest.ManifestGet) + s.Count(registrytest.BlobGet); got != 0 {
		t.Errorf("second verify: %d manifest and blob GETs, want 0 (counts %v)", got, s.Counts())
	}

	// A pack whose blob is not its digest's bytes (edited, or cut short and rewritten) is a
	// miss: the manifest and payload are fetched again, and the signature still verifies.
	corruptPackBlobs(t, cacheDir)
	if err := verify(); err != nil {
		t.Fatalf("verify with a corrupt pack: %v", err)
	}
	if got := s.Count(registrytest.ManifestGet) + s.Count(registrytest.BlobGet); got != 2 {
		t.Errorf("verify with a corrupt pack: %d manifest and blob GETs, want 2 (counts %v)", got, s.Counts())
	}
	if err := verify(); err != nil {
		t.Fatalf("verify after a corrupt pack: %v", err)
	}
	if got := s.Count(registrytest.ManifestGet) + s.Count(registrytest.BlobGet); got != 0 {
		t.Errorf("verify after a corrupt pack: %d manifest and blob GETs, want 0: the pack was mended (counts %v)", got, s.Counts())
	}

	// A registry that refuses HEAD (405) is asked by tag, and the signature still verifies.
	s.FailWhere(func(r *http.Request) bool {
		return r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, ".sig")
	},
		registrytest.Fault{Status: http.StatusMethodNotAllowed})
	if err := verify(); err != nil {
		t.Fatalf("verify with HEAD refused: %v", err)
	}
	if got := s.Count(registrytest.ManifestGet); got != 1 {
		t.Errorf("verify with HEAD refused: %d manifest GETs, want 1 (counts %v)", got, s.Counts())
	}
	s.ClearFaults()

	// A registry failing the HEAD (503, retried) fails the verification, with no second try
	// by tag.
	s.FailWhere(func(r *http.Request) bool {
		return r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, ".sig")
	},
		registrytest.Fault{Status: http.StatusServiceUnavailable})
	var refusal *registry.RefusalError
	if err := verify(); !errors.As(err, &refusal) || refusal.Reason != registry.ReasonRegistryError {
		t.Fatalf("verify with HEAD failing: %v, want a registry-error refusal", err)
	}
	if got := s.Count(registrytest.ManifestGet); got != 0 {
		t.Errorf("verify with HEAD failing: %d manifest GETs, want 0 (counts %v)", got, s.Counts())
	}
	s.ClearFaults()

	// Removed: the HEAD is a 404 and there is no signature, whatever the cache holds.
	sigTag, err := name.NewTag(s.Repo("app") + ":" + "sha256-" + ref.DigestStr()[len("sha256:"):] + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(sigTag, s.RemoteOptions()...); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(sigTag, s.RemoteOptions()...); err == nil {
		t.Fatal("the signature tag is still there after its removal")
	}
	if err := verify(); !errors.As(err, &refusal) {
		t.Fatalf("verify after the signature was removed: %v, want a refusal", err)
	}

	// Replaced by another key's signature: fetched, and the old key no longer verifies.
	other, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	sign(other)
	if err := verify(); !errors.As(err, &refusal) {
		t.Fatalf("verify after the signature was replaced: %v, want a refusal", err)
	}
	if got := s.Count(registrytest.ManifestGet); got == 0 {
		t.Errorf("verify after the signature was replaced: no manifest GET, want the new manifest fetched (counts %v)", s.Counts())
	}
}

// corruptPackBlobs flips a byte of every blob kept in the packs under dir.
func corruptPackBlobs(t *testing.T, dir string) {
	t.Helper()
	n := 0
	for _, f := range cacheFiles(t, dir) {
		if !strings.HasPrefix(f, "v1/repos/") {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f))
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var pack map[string]json.RawMessage
		if err := json.Unmarshal(raw, &pack); err != nil {
			t.Fatal(err)
		}
		var blobs map[string]struct {
			Data      []byte `json:"data"`
			MediaType string `json:"mediaType,omitempty"`
		}
		if err := json.Unmarshal(pack["blobs"], &blobs); err != nil {
			t.Fatal(err)
		}
		for d, b := range blobs {
			b.Data[len(b.Data)/2] ^= 1
			blobs[d] = b
			n++
		}
		if pack["blobs"], err = json.Marshal(blobs); err != nil {
			t.Fatal(err)
		}
		if raw, err = json.Marshal(pack); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		t.Fatal("no blob in any pack to corrupt")
	}
}
