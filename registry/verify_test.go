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
	// gets counts GETs of manifests and blobs by digest.
	gets atomic.Int64
}

func newTestRegistry(t testing.TB, referrersAPI bool) *testRegistry {
	t.Helper()
	reg := ggcrregistry.New(ggcrregistry.Logger(nilLogger()), ggcrregistry.WithReferrersSupport(referrersAPI))
	tr := &testRegistry{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := tr.fail.Load(); f != nil && (*f)(r) {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/sha256:") {
			tr.gets.Add(1)
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
func (tr *testRegistry) push(t testing.TB, repoTag string) name.Digest {
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

func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func newKey(t testing.TB) (*sigtest.KeyPair, string) {
	t.Helper()
	k, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return k, writeFile(t, "cosign.pub", k.PublicPEM)
}

func newCA(t testing.TB) (*sigtest.CA, string) {
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

// verifyCached verifies ref as a new run with the cache in dir would: a Client of its own,
// whose cache the verifier shares.
func verifyCached(t testing.TB, ctx context.Context, entry VerifyEntry, ref name.Digest, dir string) (*Verification, error) {
	t.Helper()
	c, err := New(WithCacheDir(dir), WithRetry(Retry{Attempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier([]VerifyEntry{entry}, noPublicGood(), fastRetries(), WithCache(c),
		WithRemoteOptions(c.RemoteOptions(ctx)...), WithRemoteOptionsFor(c.RemoteOptionsFor))
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(ctx, ref)
}

func mustVerifier(t testing.TB, entries ...VerifyEntry) *Verifier {
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
		name: "key with tlog entry, cosign 3 bundle",
		sign: func(ref name.Digest) error {
			return sigtest.SignBundle(ctx, ref, sigtest.Signer{Key: key}, sigtest.WithTlog(ca))
		},
		entry:      VerifyEntry{Key: keyPath, RequireTlog: true, TrustedRoot: rootPath},
		wantSigner: "key " + keyPath,
	}, {
		name:       "keyless, cosign 2 tag",
		sign:       func(ref name.Digest) error { return sigtest.SignKeyless(ctx, ref, ca, testIdentity, testIssuer) },
		entry:      keyless,
		wantSigner: testIdentity + " (issuer " + testIssuer + ")",
	}, {
		name:      "keyless, cosign 3 bundle via referrers API",
		referrers: true,
		sign: func(ref name.Digest) error {
			return sigtest.SignBundle(ctx, ref, sigtest.Signer{CA: ca, Identity: testIdentity, Issuer: testIssuer})
		},
		entry:      keyless,
		wantSigner: testIdentity + " (issuer " + testIssuer + ")",
	}, {
		name: "keyless, cosign 3 bundle via tag fallback, identity and issuer regexps",
		sign: func(ref name.Digest) error {
			return sigtest.SignBundle(ctx, ref, sigtest.Signer{CA: ca, Identity: testIdentity, Issuer: testIssuer})
		},
		entry:      VerifyEntry{Keyless: &Keyless{IdentityRegexp: "^https://github.com/acme/", IssuerRegexp: `^https://token\.actions\.`, TrustedRoot: rootPath, InsecureIgnoreSCT: true}},
		wantSigner: testIdentity + " (issuer " + testIssuer + ")",
	}, {
		name: "keyless without tlog, insecureIgnoreTlog",
		sign: func(ref name.Digest) error {
			return sigtest.SignKeyless(ctx, ref, ca, testIdentity, testIssuer, sigtest.WithoutTlog())
		},
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
			// With a cache, twice: the second run reads a cosign 2 signature from the cache
			// (no GET by digest) and verifies it to the same result.
			dir := t.TempDir()
			for run := range 2 {
				reg.gets.Store(0)
				got, err := verifyCached(t, ctx, tc.entry, ref, dir)
				if err != nil {
					t.Fatalf("Verify with a cache, run %d: %v", run+1, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Verify with a cache, run %d (-want +got):\n%s", run+1, diff)
				}
			}
			if strings.Contains(tc.name, "cosign 3") {
				return
			}
			if n := reg.gets.Load(); n != 0 {
				t.Errorf("second run with a cache: %d GETs by digest, want 0", n)
			}
			// And it read it without the registry client: the cache alone gives the signature.
			desc, err := remote.Head(ref.Context().Tag(dashed(ref) + ".sig"))
			if err != nil {
				t.Fatal(err)
			}
			sigs, ok := (&diskCache{dir: dir}).cachedSignatures(packKey(ref.Context()), desc.Digest)
			if !ok || len(sigs) != 1 {
				t.Errorf("cachedSignatures = %d signatures, %v; want the one signature", len(sigs), ok)
			}
		})
	}
}

func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// copyManifest copies the manifest at from to the tag to, as a registry user could.
func copyManifest(t *testing.T, from, to string) {
	t.Helper()
	src, err := name.ParseReference(from)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := name.NewTag(to)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(dst, desc); err != nil {
		t.Fatal(err)
	}
}

func dashed(d name.Digest) string { return strings.Replace(d.DigestStr(), ":", "-", 1) }

func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	key, keyPath := newKey(t)
	other, _ := newKey(t)
	ca, rootPath := newCA(t)
	otherCA, _ := newCA(t)
	keyEntry := VerifyEntry{Key: keyPath}
	keyless := VerifyEntry{Keyless: &Keyless{Identity: testIdentity, Issuer: testIssuer, TrustedRoot: rootPath, InsecureIgnoreSCT: true}}
	signerFor := func(identity, issuer string) sigtest.Signer {
		return sigtest.Signer{CA: ca, Identity: identity, Issuer: issuer}
	}

	type setup struct {
		reg *testRegistry
		ref name.Digest // the digest verified
	}
	tests := []struct {
		name       string
		referrers  bool
		prepare    func(t *testing.T, s *setup)
		entry      VerifyEntry
		wantReason string
		wantDetail string
	}{{
		name:       "unsigned",
		prepare:    func(t *testing.T, s *setup) {},
		entry:      keyEntry,
		wantReason: ReasonUnsigned,
		wantDetail: "no cosign signatures",
	}, {
		name: "signed by another key, cosign 2",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignWithKey(ctx, s.ref, other))
		},
		entry:      keyEntry,
		wantReason: ReasonWrongSigner,
		wantDetail: "no matching key",
	}, {
		name:      "signed by another key, cosign 3 bundle",
		referrers: true,
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, sigtest.Signer{Key: other}))
		},
		entry:      keyEntry,
		wantReason: ReasonWrongSigner,
		wantDetail: "no matching key",
	}, {
		name: "cosign 2 signature made for another digest",
		prepare: func(t *testing.T, s *setup) {
			b := s.reg.push(t, "acme/api:2.0.0")
			check(t, sigtest.SignWithKey(ctx, b, key))
			copyManifest(t, b.Context().Tag(dashed(b)+".sig").String(), s.ref.Context().Tag(dashed(s.ref)+".sig").String())
		},
		entry:      keyEntry,
		wantReason: ReasonWrongSigner,
		wantDetail: "digest mismatch",
	}, {
		name: "cosign 3 bundle made for another digest",
		prepare: func(t *testing.T, s *setup) {
			b := s.reg.push(t, "acme/api:2.0.0")
			check(t, sigtest.SignBundle(ctx, b, sigtest.Signer{Key: key}))
			copyManifest(t, b.Context().Tag(dashed(b)).String(), s.ref.Context().Tag(dashed(s.ref)).String())
		},
		entry:      keyEntry,
		wantReason: ReasonWrongSigner,
		wantDetail: "digest mismatch",
	}, {
		name: "tag moved after signing",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignWithKey(ctx, s.ref, key))
			s.reg.push(t, "acme/api:1.0.0") // the tag now names an unsigned image
			tag, err := name.NewTag(s.ref.Context().String() + ":1.0.0")
			check(t, err)
			desc, err := remote.Head(tag)
			check(t, err)
			if desc.Digest.String() == s.ref.DigestStr() {
				t.Fatal("tag did not move")
			}
			s.ref = s.ref.Context().Digest(desc.Digest.String())
		},
		entry:      keyEntry,
		wantReason: ReasonUnsigned,
		wantDetail: "no cosign signatures",
	}, {
		name: "wrong identity, cosign 2",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignKeyless(ctx, s.ref, ca, "https://github.com/evil/api/.github/workflows/x.yml@refs/heads/main", testIssuer))
		},
		entry:      keyless,
		wantReason: ReasonWrongSigner,
		wantDetail: "identity mismatch",
	}, {
		name: "wrong issuer, cosign 2",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignKeyless(ctx, s.ref, ca, testIdentity, "https://accounts.example.com"))
		},
		entry:      keyless,
		wantReason: ReasonWrongSigner,
		wantDetail: "issuer mismatch",
	}, {
		name: "wrong identity, cosign 3 bundle",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, signerFor("mallory@example.com", testIssuer)))
		},
		entry:      keyless,
		wantReason: ReasonWrongSigner,
		wantDetail: "identity mismatch",
	}, {
		name: "wrong issuer, cosign 3 bundle",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, signerFor(testIdentity, "https://accounts.example.com")))
		},
		entry:      keyless,
		wantReason: ReasonWrongSigner,
		wantDetail: "issuer mismatch",
	}, {
		name: "certificate from an untrusted CA",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignKeyless(ctx, s.ref, otherCA, testIdentity, testIssuer))
		},
		entry:      keyless,
		wantReason: ReasonWrongSigner,
		wantDetail: "certificate check failed",
	}, {
		name: "certificate from an untrusted CA, no tlog to fail first",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignKeyless(ctx, s.ref, otherCA, testIdentity, testIssuer, sigtest.WithoutTlog()))
		},
		entry:      VerifyEntry{Keyless: &Keyless{Identity: testIdentity, Issuer: testIssuer, TrustedRoot: rootPath, InsecureIgnoreSCT: true, InsecureIgnoreTlog: true}},
		wantReason: ReasonWrongSigner,
		wantDetail: "certificate check failed",
	}, {
		name: "bundle certificate from an untrusted CA, no tlog to fail first",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, sigtest.Signer{CA: otherCA, Identity: testIdentity, Issuer: testIssuer}, sigtest.WithoutTlog()))
		},
		entry:      VerifyEntry{Keyless: &Keyless{Identity: testIdentity, Issuer: testIssuer, TrustedRoot: rootPath, InsecureIgnoreSCT: true, InsecureIgnoreTlog: true}},
		wantReason: ReasonWrongSigner,
		wantDetail: "certificate check failed",
	}, {
		name: "bundle certificate from an untrusted CA",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, sigtest.Signer{CA: otherCA, Identity: testIdentity, Issuer: testIssuer}))
		},
		entry:      keyless,
		wantReason: ReasonWrongSigner,
		wantDetail: "check failed",
	}, {
		name: "corrupted signature payload",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignWithKey(ctx, s.ref, key, sigtest.WithTamperedPayload()))
		},
		entry:      keyEntry,
		wantReason: ReasonWrongSigner,
		wantDetail: "no matching key",
	}, {
		name: "payload that is not a cosign payload",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignWithKey(ctx, s.ref, key, sigtest.WithPayload([]byte("not json"))))
		},
		entry:      keyEntry,
		wantReason: ReasonWrongSigner,
		wantDetail: "bad payload",
	}, {
		name: "registry fails on the signature tag",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignWithKey(ctx, s.ref, key))
			s.reg.failWhen(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ".sig") })
		},
		entry:      keyEntry,
		wantReason: ReasonRegistryError,
		wantDetail: "fetching cosign signatures",
	}, {
		name: "registry fails on the signature blob",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignWithKey(ctx, s.ref, key))
			s.reg.failWhen(func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/") })
		},
		entry:      keyEntry,
		wantReason: ReasonRegistryError,
		wantDetail: "fetching cosign signatures",
	}, {
		name:      "registry fails on the referrers API",
		referrers: true,
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, sigtest.Signer{Key: key}))
			s.reg.failWhen(func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/referrers/") })
		},
		entry:      keyEntry,
		wantReason: ReasonRegistryError,
		wantDetail: "fetching Sigstore bundles",
	}, {
		name: "registry fails on the bundle manifest",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, sigtest.Signer{Key: key}))
			idx := s.ref.Context().Tag(dashed(s.ref))
			s.reg.failWhen(func(r *http.Request) bool {
				return strings.Contains(r.URL.Path, "/manifests/sha256:") && !strings.HasSuffix(r.URL.Path, s.ref.DigestStr()) && !strings.HasSuffix(r.URL.Path, idx.TagStr())
			})
		},
		entry:      keyEntry,
		wantReason: ReasonRegistryError,
		wantDetail: "fetching Sigstore bundles",
	}, {
		name: "tlog required but absent, cosign 2",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignWithKey(ctx, s.ref, key))
		},
		entry:      VerifyEntry{Key: keyPath, RequireTlog: true, TrustedRoot: rootPath},
		wantReason: ReasonWrongSigner,
		wantDetail: "no transparency-log entry",
	}, {
		name: "tlog required but absent, cosign 3 bundle",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, sigtest.Signer{Key: key}))
		},
		entry:      VerifyEntry{Key: keyPath, RequireTlog: true, TrustedRoot: rootPath},
		wantReason: ReasonWrongSigner,
		wantDetail: "no transparency-log entry",
	}, {
		name: "key signature whose tlog entry is from an untrusted log",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignWithKey(ctx, s.ref, key, sigtest.WithTlog(otherCA)))
		},
		entry:      VerifyEntry{Key: keyPath, TrustedRoot: rootPath},
		wantReason: ReasonWrongSigner,
		wantDetail: "transparency-log entry check failed",
	}, {
		name: "key bundle whose tlog entry is from an untrusted log",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, sigtest.Signer{Key: key}, sigtest.WithTlog(otherCA)))
		},
		entry:      VerifyEntry{Key: keyPath, TrustedRoot: rootPath},
		wantReason: ReasonWrongSigner,
		wantDetail: "transparency-log entry check failed",
	}, {
		name: "keyless without tlog or timestamp, cosign 2",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignKeyless(ctx, s.ref, ca, testIdentity, testIssuer, sigtest.WithoutTlog()))
		},
		entry:      keyless,
		wantReason: ReasonWrongSigner,
		wantDetail: "no transparency-log entry or signed timestamp",
	}, {
		name: "keyless without tlog or timestamp, cosign 3 bundle",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, signerFor(testIdentity, testIssuer), sigtest.WithoutTlog()))
		},
		entry:      keyless,
		wantReason: ReasonWrongSigner,
		wantDetail: "no transparency-log entry or signed timestamp",
	}, {
		name: "keyless certificate without SCT when SCTs are checked, cosign 2",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignKeyless(ctx, s.ref, ca, testIdentity, testIssuer))
		},
		entry:      VerifyEntry{Keyless: &Keyless{Identity: testIdentity, Issuer: testIssuer, TrustedRoot: rootPath}},
		wantReason: ReasonWrongSigner,
		wantDetail: "SCT",
	}, {
		name: "keyless certificate without SCT when SCTs are checked, cosign 3 bundle",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignBundle(ctx, s.ref, signerFor(testIdentity, testIssuer)))
		},
		entry:      VerifyEntry{Keyless: &Keyless{Identity: testIdentity, Issuer: testIssuer, TrustedRoot: rootPath}},
		wantReason: ReasonWrongSigner,
		wantDetail: "SCT",
	}, {
		name: "key-signed image checked against a keyless entry",
		prepare: func(t *testing.T, s *setup) {
			check(t, sigtest.SignWithKey(ctx, s.ref, key))
		},
		entry:      keyless,
		wantReason: ReasonWrongSigner,
		wantDetail: "no certificate",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newTestRegistry(t, tc.referrers)
			s := &setup{reg: reg, ref: reg.push(t, "acme/api:1.0.0")}
			tc.prepare(t, s)
			got, err := mustVerifier(t, tc.entry).Verify(ctx, s.ref)
			if err == nil {
				t.Fatalf("Verify accepted %s: %+v", s.ref, got)
			}
			t.Log(err)
			var re *RefusalError
			if !errors.As(err, &re) {
				t.Fatalf("Verify error %T %v, want *RefusalError", err, err)
			}
			want := RefusalError{Image: s.ref.Context().Name(), Digest: s.ref.DigestStr(), Reason: tc.wantReason}
			gotShort := RefusalError{Image: re.Image, Digest: re.Digest, Reason: re.Reason}
			if diff := cmp.Diff(want, gotShort); diff != "" {
				t.Errorf("refusal (-want +got):\n%s\nerror: %v", diff, err)
			}
			if !strings.Contains(re.Detail, tc.wantDetail) {
				t.Errorf("detail %q does not say %q", re.Detail, tc.wantDetail)
			}
			if !strings.Contains(err.Error(), s.ref.DigestStr()) || !strings.Contains(err.Error(), s.ref.Context().Name()) {
				t.Errorf("error %q does not name the image and digest", err)
			}
			// With a cache, twice: the same refusal (the second run reads what the first
			// kept).
			dir := t.TempDir()
			for run := range 2 {
				got, err := verifyCached(t, ctx, tc.entry, s.ref, dir)
				var cre *RefusalError
				if !errors.As(err, &cre) || cre.Reason != tc.wantReason || !strings.Contains(cre.Detail, tc.wantDetail) {
					t.Errorf("with a cache, run %d: %+v, %v; want reason %s, detail %q", run+1, got, err, tc.wantReason, tc.wantDetail)
				}
			}
		})
	}
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
