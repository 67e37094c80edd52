package registry

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// testRegistry is go-containerregistry's registry behind a handler that can fail chosen paths.
type testRegistry struct {
	host string
	// fail, when it returns true for a request, answers 500.
	fail atomic.Pointer[func(*http.Request) bool]
}

func newTestRegistry(t *testing.T, referrersAPI bool) *testRegistry {
	t.Helper()
	reg := ggcrregistry.New(ggcrregistry.Logger(nilLogger()), ggcrregistry.WithReferrersSupport(referrersAPI))
	tr := &testRegistry{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := tr.fail.Load(); f != nil && (*f)(r) {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		}
		if !referrersAPI && strings.Contains(r.URL.Path, "/referrers/") {
			http.NotFound(w, r)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

func (tr *testRegistry) failWhen(f func(*http.Request) bool) { tr.fail.Store(&f) }

// push writes a random image to repo:tag and returns its digest reference.
func (tr *testRegistry) push(t *testing.T, repoTag string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(tr.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag.Context().Digest(d.String())
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func newKey(t *testing.T) (*sigtest.KeyPair, string) {
	t.Helper()
	k, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return k, writeFile(t, "cosign.pub", k.PublicPEM)
}

func newCA(t *testing.T) (*sigtest.CA, string) {
	t.Helper()
	ca, err := sigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca, writeFile(t, "trusted_root.json", ca.TrustedRoot())
}

// noPublicGood fails the test's verifier if it ever reaches for the public-good root.
func noPublicGood() VerifierOption {
	return withPublicGoodRoot(func() (root.TrustedMaterial, error) {
		return nil, errors.New("public-good root is not available in tests")
	})
}

func fastRetries() VerifierOption {
	return WithRemoteOptions(remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1}))
}

func mustVerifier(t *testing.T, entries ...VerifyEntry) *Verifier {
	t.Helper()
	v, err := NewVerifier(entries, noPublicGood(), fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	testIdentity = "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main"
	testIssuer   = "https://token.actions.githubusercontent.com"
)

func TestVerifyAccepts(t *testing.T) {
	ctx := context.Background()
	key, keyPath := newKey(t)
	ca, rootPath := newCA(t)
	keyless := VerifyEntry{Keyless: &Keyless{Identity: testIdentity, Issuer: testIssuer, TrustedRoot: rootPath, InsecureIgnoreSCT: true}}

	tests := []struct {
		name       string
		referrers  bool
		sign       func(ref name.Digest) error
		entry      VerifyEntry
		wantSigner string
	}{{
		name:       "key, cosign 2 tag",
		sign:       func(ref name.Digest) error { return sigtest.SignWithKey(ctx, ref, key) },
		entry:      VerifyEntry{Key: keyPath},
		wantSigner: "key " + keyPath,
	}, {
		name:       "key with tlog entry, cosign 2 tag",
		sign:       func(ref name.Digest) error { return sigtest.SignWithKey(ctx, ref, key, sigtest.WithTlog(ca)) },
		entry:      VerifyEntry{Key: keyPath, RequireTlog: true, TrustedRoot: rootPath},
		wantSigner: "key " + keyPath,
	}, {
		name:       "key, cosign 3 bundle via referrers API",
		referrers:  true,
		sign:       func(ref name.Digest) error { return sigtest.SignBundle(ctx, ref, sigtest.Signer{Key: key}) },
		entry:      VerifyEntry{Key: keyPath},
		wantSigner: "key " + keyPath,
	}, {
		name:       "key, cosign 3 bundle via referrers tag fallback",
		sign:       func(ref name.Digest) error { return sigtest.SignBundle(ctx, ref, sigtest.Signer{Key: key}) },
		entry:      VerifyEntry{Key: keyPath},
		wantSigner: "key " + keyPath,
	}, {
		name:       "key with tlog entry, cosign 3 bundle",
		sign:       func(ref name.Digest) error { return sigtest.SignBundle(ctx, ref, sigtest.Signer{Key: key}, sigtest.WithTlog(ca)) },
		entry:      VerifyEntry{Key: keyPath, RequireTlog: true, TrustedRoot: rootPath},
		wantSigner: "key " + keyPath,
	}, {
		name:       "keyless, cosign 2 tag",
		sign:       func(ref name.Digest) error { return sigtest.SignKeyless(ctx, ref, ca, testIdentity, testIssuer) },
		entry:      keyless,
		wantSigner: testIdentity + " (issuer " + testIssuer + ")",
	}, {
		name:       "keyless, cosign 3 bundle via referrers API",
		referrers:  true,
		sign:       func(ref name.Digest) error { return sigtest.SignBundle(ctx, ref, sigtest.Signer{CA: ca, Identity: testIdentity, Issuer: testIssuer}) },
		entry:      keyless,
		wantSigner: testIdentity + " (issuer " + testIssuer + ")",
	}, {
		name:       "keyless, cosign 3 bundle via tag fallback, identity and issuer regexps",
		sign:       func(ref name.Digest) error { return sigtest.SignBundle(ctx, ref, sigtest.Signer{CA: ca, Identity: testIdentity, Issuer: testIssuer}) },
		entry:      VerifyEntry{Keyless: &Keyless{IdentityRegexp: "^https://github.com/acme/", IssuerRegexp: `^https://token\.actions\.`, TrustedRoot: rootPath, InsecureIgnoreSCT: true}},
		wantSigner: testIdentity + " (issuer " + testIssuer + ")",
	}, {
		name:       "keyless without tlog, insecureIgnoreTlog",
		sign:       func(ref name.Digest) error { return sigtest.SignKeyless(ctx, ref, ca, testIdentity, testIssuer, sigtest.WithoutTlog()) },
		entry:      VerifyEntry{Keyless: &Keyless{Identity: testIdentity, Issuer: testIssuer, TrustedRoot: rootPath, InsecureIgnoreSCT: true, InsecureIgnoreTlog: true}},
		wantSigner: testIdentity + " (issuer " + testIssuer + ")",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newTestRegistry(t, tc.referrers)
			ref := reg.push(t, "acme/api:1.0.0")
			if err := tc.sign(ref); err != nil {
				t.Fatal(err)
			}
			got, err := mustVerifier(t, tc.entry).Verify(ctx, ref)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := &Verification{Digest: ref.DigestStr(), Signer: tc.wantSigner}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Verify (-want +got):\n%s", diff)
			}
		})
	}
}

func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }
