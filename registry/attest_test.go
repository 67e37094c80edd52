package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/google/go-containerregistry/pkg/name"
)

// Predicates as the tools write them.
const (
	// SLSA v1 from actions/attest-build-provenance.
	slsaV1Main = `{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1","externalParameters":{"workflow":{"ref":"refs/heads/main","repository":"https://github.com/acme/api","path":".github/workflows/release.yml"}},"resolvedDependencies":[{"uri":"git+https://github.com/acme/api@refs/heads/main","digest":{"gitCommit":"6f1c2a7"}}]},"runDetails":{"builder":{"id":"https://github.com/actions/runner/github-hosted"},"metadata":{"invocationId":"https://github.com/acme/api/actions/runs/42/attempts/1"}}}`
	// SLSA v0.2 from the slsa-github-generator.
	slsaV02Main     = `{"builder":{"id":"https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"},"buildType":"https://github.com/slsa-framework/slsa-github-generator/container@v1","invocation":{"configSource":{"uri":"git+https://github.com/acme/api@refs/heads/main","digest":{"sha1":"6f1c2a7"},"entryPoint":".github/workflows/release.yml"}},"materials":[{"uri":"git+https://github.com/acme/api@refs/heads/main"}]}`
	customPredicate = `{"tests":{"passed":true,"count":118},"reviewer":"alice"}`
)

// vulnPredicate is cosign's vuln predicate wrapping a Trivy report with the given severities,
// scanned at finished.
func vulnPredicate(finished time.Time, severities ...string) string {
	var vulns []map[string]string
	for i, s := range severities {
		vulns = append(vulns, map[string]string{"VulnerabilityID": fmt.Sprintf("CVE-2026-%04d", i+1), "Severity": s})
	}
	b, _ := json.Marshal(map[string]any{
		"invocation": map[string]any{"uri": "https://github.com/acme/api/actions/runs/42"},
		"scanner": map[string]any{
			"uri": "pkg:github/aquasecurity/trivy@0.58.1", "version": "0.58.1",
			"result": map[string]any{"SchemaVersion": 2, "Results": []any{map[string]any{"Target": "app", "Vulnerabilities": vulns}}},
		},
		"metadata": map[string]any{"scanStartedOn": finished.Add(-time.Minute).Format(time.RFC3339), "scanFinishedOn": finished.Format(time.RFC3339)},
	})
	return string(b)
}

var provenanceMain = Attestation{
	PredicateType: "slsaprovenance1",
	Match: []FieldMatch{
		{Path: "buildDefinition.externalParameters.workflow.repository", Want: "https://github.com/acme/api"},
		{Path: "buildDefinition.externalParameters.workflow.ref", Want: "/^refs/(heads/main|tags/v.*)$/"},
	},
}

func TestAttestationsAccept(t *testing.T) {
	ctx := context.Background()
	key, keyPath := newKey(t)
	ca, rootPath := newCA(t)
	now := time.Now()
	keyless := &Keyless{Identity: testIdentity, Issuer: testIssuer, TrustedRoot: rootPath, InsecureIgnoreSCT: true}
	tests := []struct {
		name       string
		referrers  bool
		prepare    func(t *testing.T, ref name.Digest)
		entry      VerifyEntry
		wantSource string
		wantSaid   string
	}{{
		name: "SLSA v1 provenance, cosign 2 .att, key",
		prepare: func(t *testing.T, ref name.Digest) {
			check(t, sigtest.SignWithKey(ctx, ref, key))
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(slsaV1Main)))
		},
		entry:      VerifyEntry{Key: keyPath, Attestations: []Attestation{provenanceMain}},
		wantSource: "https://github.com/acme/api@refs/heads/main",
		wantSaid:   `built from https://github.com/acme/api@refs/heads/main; buildDefinition.externalParameters.workflow.ref="refs/heads/main"`,
	}, {
		name: "SLSA v1 provenance, cosign 2 .att in the log, key that requires the log",
		prepare: func(t *testing.T, ref name.Digest) {
			check(t, sigtest.SignWithKey(ctx, ref, key, sigtest.WithTlog(ca)))
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(slsaV1Main), sigtest.WithTlog(ca)))
		},
		entry:      VerifyEntry{Key: keyPath, RequireTlog: true, TrustedRoot: rootPath, Attestations: []Attestation{provenanceMain}},
		wantSource: "https://github.com/acme/api@refs/heads/main",
	}, {
		name: "SLSA v0.2 provenance, cosign 2 .att, keyless with the log",
		prepare: func(t *testing.T, ref name.Digest) {
			check(t, sigtest.SignKeyless(ctx, ref, ca, testIdentity, testIssuer))
			check(t, sigtest.AttestKeyless(ctx, ref, ca, testIdentity, testIssuer, PredicateSLSAProvenance02, []byte(slsaV02Main)))
		},
		entry: VerifyEntry{Keyless: keyless, Attestations: []Attestation{{
			PredicateType: "slsaprovenance",
			Match:         []FieldMatch{{Path: "invocation.configSource.uri", Want: "/^git\\+https://github.com/acme/api@refs/heads/main$/"}, {Path: "materials.0.uri", Want: "git+https://github.com/acme/api@refs/heads/main"}},
		}}},
		wantSource: "https://github.com/acme/api@refs/heads/main",
	}, {
		name:      "SLSA v1 provenance and a vulnerability scan as bundle referrers, keyless",
		referrers: true,
		prepare: func(t *testing.T, ref name.Digest) {
			s := sigtest.Signer{CA: ca, Identity: testIdentity, Issuer: testIssuer}
			check(t, sigtest.SignBundle(ctx, ref, s))
			check(t, sigtest.AttestBundle(ctx, ref, s, PredicateSLSAProvenance1, []byte(slsaV1Main)))
			check(t, sigtest.AttestBundle(ctx, ref, s, PredicateVuln, []byte(vulnPredicate(now.Add(-time.Hour), "LOW", "MEDIUM"))))
		},
		entry: VerifyEntry{Keyless: keyless, Attestations: []Attestation{provenanceMain, {
			PredicateType: "vuln", MaxSeverity: "medium", MaxAge: 24 * time.Hour,
		}}},
		wantSource: "https://github.com/acme/api@refs/heads/main",
		wantSaid:   "findings: 1 medium, 1 low; scanned ",
	}, {
		name: "bundle referrers through the tag fallback, key; signature on .sig",
		prepare: func(t *testing.T, ref name.Digest) {
			check(t, sigtest.SignWithKey(ctx, ref, key))
			check(t, sigtest.AttestBundle(ctx, ref, sigtest.Signer{Key: key}, PredicateVuln, []byte(vulnPredicate(now, "UNKNOWN"))))
		},
		entry:    VerifyEntry{Key: keyPath, Attestations: []Attestation{{PredicateType: PredicateVuln, MaxSeverity: "critical"}}},
		wantSaid: "findings: 1 critical",
	}, {
		name: "custom predicate, exact and numeric matches, with other attestations beside it",
		prepare: func(t *testing.T, ref name.Digest) {
			check(t, sigtest.SignWithKey(ctx, ref, key))
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(slsaV1Main)))
			check(t, sigtest.AttestWithKey(ctx, ref, key, "https://example.com/test-result/v1", []byte(customPredicate)))
		},
		entry: VerifyEntry{Key: keyPath, Attestations: []Attestation{{
			PredicateType: "https://example.com/test-result/v1",
			Match:         []FieldMatch{{Path: "tests.passed", Want: "true"}, {Path: "tests.count", Want: "/^[0-9]{3}$/"}, {Path: "reviewer", Want: "alice"}},
		}}},
		wantSaid: `reviewer="alice"; tests.count="118"; tests.passed="true"`,
	}, {
		name: "a failing attestation beside a passing one of the same type",
		prepare: func(t *testing.T, ref name.Digest) {
			check(t, sigtest.SignWithKey(ctx, ref, key))
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateVuln, []byte(vulnPredicate(now.Add(-30*24*time.Hour), "CRITICAL"))))
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateVuln, []byte(vulnPredicate(now))))
		},
		entry:    VerifyEntry{Key: keyPath, Attestations: []Attestation{{PredicateType: "vuln", MaxSeverity: "none", MaxAge: time.Hour}}},
		wantSaid: "no findings",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newTestRegistry(t, tt.referrers)
			ref := reg.push(t, "acme/api:1.0.0")
			tt.prepare(t, ref)
			v := mustVerifier(t, tt.entry)
			got, err := v.Verify(ctx, ref)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Digest != ref.DigestStr() || got.Source != tt.wantSource {
				t.Errorf("Verify = digest %s source %q, want %s and %q", got.Digest, got.Source, ref.DigestStr(), tt.wantSource)
			}
			if tt.wantSource != "" && !strings.HasSuffix(got.Signer, " (built from "+tt.wantSource+")") {
				t.Errorf("Signer = %q, want it to end with the source", got.Signer)
			}
			var passed, said []string
			for _, a := range got.Attestations {
				if a.Passed {
					passed = append(passed, a.PredicateType)
				}
				said = append(said, a.Said)
			}
			if len(passed) < len(tt.entry.Attestations) {
				t.Errorf("passed attestations %v, want one per requirement (%d): %+v", passed, len(tt.entry.Attestations), got.Attestations)
			}
			if tt.wantSaid != "" && !strings.Contains(strings.Join(said, "\n"), tt.wantSaid) {
				t.Errorf("attestations said %q, want %q among them", said, tt.wantSaid)
			}
		})
	}
}

func TestAttestationsRefuse(t *testing.T) {
	ctx := context.Background()
	key, keyPath := newKey(t)
	other, _ := newKey(t)
	ca, rootPath := newCA(t)
	now := time.Now()
	keyEntry := func(a ...Attestation) VerifyEntry { return VerifyEntry{Key: keyPath, Attestations: a} }
	keyless := &Keyless{Identity: testIdentity, Issuer: testIssuer, TrustedRoot: rootPath, InsecureIgnoreSCT: true}
	vuln := Attestation{PredicateType: "vuln", MaxSeverity: "medium", MaxAge: 168 * time.Hour}
	signed := func(t *testing.T, ref name.Digest) { check(t, sigtest.SignWithKey(ctx, ref, key)) }

	tests := []struct {
		name       string
		referrers  bool
		prepare    func(t *testing.T, reg *testRegistry, ref name.Digest)
		entry      VerifyEntry
		wantReason string
		wantDetail []string
	}{{
		name:       "no attestation",
		prepare:    func(t *testing.T, _ *testRegistry, ref name.Digest) { signed(t, ref) },
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonAttestation,
		wantDetail: []string{PredicateSLSAProvenance1, "no such attestation", "attestations found: none"},
	}, {
		name: "attestation for another digest",
		prepare: func(t *testing.T, reg *testRegistry, ref name.Digest) {
			signed(t, ref)
			otherImg := reg.push(t, "acme/api:2.0.0")
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(slsaV1Main), sigtest.WithSubject(otherImg)))
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonAttestation,
		wantDetail: []string{PredicateSLSAProvenance1, "digest mismatch", "names another digest"},
	}, {
		name:      "bundle attestation for another digest",
		referrers: true,
		prepare: func(t *testing.T, reg *testRegistry, ref name.Digest) {
			signed(t, ref)
			otherImg := reg.push(t, "acme/api:2.0.0")
			check(t, sigtest.AttestBundle(ctx, ref, sigtest.Signer{Key: key}, PredicateSLSAProvenance1, []byte(slsaV1Main), sigtest.WithSubject(otherImg)))
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonAttestation,
		wantDetail: []string{PredicateSLSAProvenance1, "none verified", "digest mismatch"},
	}, {
		name: "attested by another key",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, other, PredicateSLSAProvenance1, []byte(slsaV1Main)))
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonAttestation,
		wantDetail: []string{PredicateSLSAProvenance1, "none verified with key " + keyPath, "no matching key"},
	}, {
		name: "attested by another identity",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			check(t, sigtest.SignKeyless(ctx, ref, ca, testIdentity, testIssuer))
			check(t, sigtest.AttestKeyless(ctx, ref, ca, "https://github.com/acme/api/.github/workflows/pr.yml@refs/pull/7/merge", testIssuer, PredicateSLSAProvenance1, []byte(slsaV1Main)))
		},
		entry:      VerifyEntry{Keyless: keyless, Attestations: []Attestation{provenanceMain}},
		wantReason: ReasonAttestation,
		wantDetail: []string{"identity mismatch", "pr.yml@refs/pull/7/merge"},
	}, {
		name:      "bundle attested by another identity",
		referrers: true,
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			check(t, sigtest.SignBundle(ctx, ref, sigtest.Signer{CA: ca, Identity: testIdentity, Issuer: testIssuer}))
			check(t, sigtest.AttestBundle(ctx, ref, sigtest.Signer{CA: ca, Identity: "mallory@example.com", Issuer: testIssuer}, PredicateSLSAProvenance1, []byte(slsaV1Main)))
		},
		entry:      VerifyEntry{Keyless: keyless, Attestations: []Attestation{provenanceMain}},
		wantReason: ReasonAttestation,
		wantDetail: []string{"identity mismatch", "mallory@example.com"},
	}, {
		name: "wrong predicate type",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance02, []byte(slsaV02Main)))
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonAttestation,
		wantDetail: []string{PredicateSLSAProvenance1 + ": no such attestation", "attestations found: " + PredicateSLSAProvenance02},
	}, {
		name: "a field that does not match",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(strings.Replace(slsaV1Main, "https://github.com/acme/api", "https://github.com/evil/api", 1))))
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonAttestation,
		wantDetail: []string{`buildDefinition.externalParameters.workflow.repository is "https://github.com/evil/api", want https://github.com/acme/api`},
	}, {
		name: "a regexp that does not match",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(strings.Replace(slsaV1Main, `"ref":"refs/heads/main"`, `"ref":"refs/heads/feature"`, 1))))
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonAttestation,
		wantDetail: []string{`buildDefinition.externalParameters.workflow.ref is "refs/heads/feature", want /^refs/(heads/main|tags/v.*)$/`},
	}, {
		name: "a field that is missing",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(`{"buildDefinition":{}}`)))
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonAttestation,
		wantDetail: []string{"buildDefinition.externalParameters.workflow.repository is missing"},
	}, {
		name: "a finding above maxSeverity",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateVuln, []byte(vulnPredicate(now, "LOW", "HIGH", "HIGH"))))
		},
		entry:      keyEntry(vuln),
		wantReason: ReasonAttestation,
		wantDetail: []string{PredicateVuln, "2 finding(s) of severity high, above maxSeverity medium"},
	}, {
		name: "an unrated finding counts as critical",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateVuln, []byte(vulnPredicate(now, "UNKNOWN"))))
		},
		entry:      keyEntry(vuln),
		wantReason: ReasonAttestation,
		wantDetail: []string{"1 finding(s) of severity critical"},
	}, {
		name: "a scan older than maxAge",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateVuln, []byte(vulnPredicate(now.Add(-8*24*time.Hour), "LOW"))))
		},
		entry:      keyEntry(vuln),
		wantReason: ReasonAttestation,
		wantDetail: []string{"metadata.scanFinishedOn is", "older than maxAge 168h0m0s"},
	}, {
		name: "tampered DSSE payload",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(slsaV1Main), sigtest.WithTamperedPayload()))
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonAttestation,
		wantDetail: []string{"none verified", "no matching key"},
	}, {
		name: "signature verifies only with an entry whose attestations fail; the other entry's key signed nothing",
		prepare: func(t *testing.T, _ *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(strings.Replace(slsaV1Main, "refs/heads/main", "refs/heads/dev", -1))))
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonAttestation,
		wantDetail: []string{`"refs/heads/dev"`, "(entry key " + keyPath + ")"},
	}, {
		name: "registry error fetching the .att tag",
		prepare: func(t *testing.T, reg *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(slsaV1Main)))
			reg.failWhen(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ".att") })
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonRegistryError,
		wantDetail: []string{"fetching cosign attestations"},
	}, {
		name: "registry error fetching an attestation's envelope",
		prepare: func(t *testing.T, reg *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(slsaV1Main)))
			var sigFetched atomic.Bool
			reg.failWhen(func(r *http.Request) bool {
				if strings.HasSuffix(r.URL.Path, ".att") {
					sigFetched.Store(true)
				}
				return sigFetched.Load() && strings.Contains(r.URL.Path, "/blobs/")
			})
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonRegistryError,
		wantDetail: []string{"fetching cosign attestations"},
	}, {
		name:      "registry error fetching referrers after the .att tag had none",
		referrers: true,
		prepare: func(t *testing.T, reg *testRegistry, ref name.Digest) {
			signed(t, ref)
			check(t, sigtest.AttestBundle(ctx, ref, sigtest.Signer{Key: key}, PredicateSLSAProvenance1, []byte(slsaV1Main)))
			reg.failWhen(func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/referrers/") })
		},
		entry:      keyEntry(provenanceMain),
		wantReason: ReasonRegistryError,
		wantDetail: []string{"fetching Sigstore bundles"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newTestRegistry(t, tt.referrers)
			ref := reg.push(t, "acme/api:1.0.0")
			tt.prepare(t, reg, ref)
			v := mustVerifier(t, tt.entry)
			got, err := v.Verify(ctx, ref)
			if err == nil {
				t.Fatalf("Verify accepted %s signed by %s; want a refusal (%s)", got.Digest, got.Signer, tt.wantReason)
			}
			var re *RefusalError
			if !errors.As(err, &re) {
				t.Fatalf("Verify error %T %v, want *RefusalError", err, err)
			}
			if re.Reason != tt.wantReason {
				t.Errorf("reason %q, want %q (%v)", re.Reason, tt.wantReason, err)
			}
			for _, want := range tt.wantDetail {
				if !strings.Contains(re.Detail, want) {
					t.Errorf("detail %q\nwant it to contain %q", re.Detail, want)
				}
			}
		})
	}
}

// TestAttestationRequests counts what an attestation check adds to a verification, cold and with
// the digest cache warm.
func TestAttestationRequests(t *testing.T) {
	ctx := context.Background()
	key, keyPath := newKey(t)
	for _, referrers := range []bool{false, true} {
		t.Run(fmt.Sprintf("referrers=%v", referrers), func(t *testing.T) {
			reg := newTestRegistry(t, referrers)
			var n atomic.Int64
			reg.failWhen(func(*http.Request) bool { n.Add(1); return false })
			ref := reg.push(t, "acme/api:1.0.0")
			signed := func(s bool) {
				if s {
					check(t, sigtest.SignBundle(ctx, ref, sigtest.Signer{Key: key}))
					check(t, sigtest.AttestBundle(ctx, ref, sigtest.Signer{Key: key}, PredicateSLSAProvenance1, []byte(slsaV1Main)))
				} else {
					check(t, sigtest.SignWithKey(ctx, ref, key))
					check(t, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(slsaV1Main)))
				}
			}
			signed(referrers)
			client, err := New(WithCacheDir(t.TempDir()))
			check(t, err)
			count := func(entry VerifyEntry) int64 {
				v, err := NewVerifier([]VerifyEntry{entry}, noPublicGood(), fastRetries(), WithCache(client), WithRemoteOptionsFor(client.RemoteOptionsFor))
				check(t, err)
				n.Store(0)
				if _, err := v.Verify(ctx, ref); err != nil {
					t.Fatal(err)
				}
				return n.Load()
			}
			count(VerifyEntry{Key: keyPath}) // the connection's handshake, once
			plain := count(VerifyEntry{Key: keyPath})
			cold := count(VerifyEntry{Key: keyPath, Attestations: []Attestation{provenanceMain}})
			warm := count(VerifyEntry{Key: keyPath, Attestations: []Attestation{provenanceMain}})
			t.Logf("requests: signature only %d, with an attestation cold %d, warm %d", plain, cold, warm)
			if cold-plain > 2 {
				t.Errorf("an attestation check cost %d extra requests cold, want at most 2", cold-plain)
			}
			if warm-plain > 1 || (referrers && warm != plain) {
				t.Errorf("warm %d requests (cold %d, signature only %d): the cache did not save the envelope fetch", warm, cold, plain)
			}
		})
	}
}

func TestCompileAttestation(t *testing.T) {
	tests := []struct {
		a       Attestation
		wantErr string
	}{
		{Attestation{PredicateType: "slsaprovenance1"}, ""},
		{Attestation{PredicateType: "https://example.com/p/v1", Match: []FieldMatch{{Path: "a.b", Want: "/^x$/"}}}, ""},
		{Attestation{PredicateType: "slsa"}, `predicate type "slsa" is neither a URI nor one of cosign's names`},
		{Attestation{PredicateType: ""}, "neither a URI"},
		{Attestation{PredicateType: "vuln", MaxSeverity: "severe"}, `severity "severe" is not one of none, low, medium, high, critical`},
		{Attestation{PredicateType: "slsaprovenance1", MaxSeverity: "low"}, "maxSeverity and maxAge apply to vulnerability predicates"},
		{Attestation{PredicateType: "slsaprovenance1", MaxAge: time.Hour}, "maxSeverity and maxAge apply to vulnerability predicates"},
		{Attestation{PredicateType: "vuln", MaxAge: -time.Hour}, "negative"},
		{Attestation{PredicateType: "custom", Match: []FieldMatch{{Path: "a..b", Want: "x"}}}, `"a..b" is not a dotted path`},
		{Attestation{PredicateType: "custom", Match: []FieldMatch{{Path: "a", Want: "/(/"}}}, "not a valid regular expression"},
	}
	for _, tt := range tests {
		_, err := compileAttestation(tt.a)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%+v: %v", tt.a, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%+v: error %v, want %q", tt.a, err, tt.wantErr)
		}
	}
	if _, err := NewVerifier([]VerifyEntry{{Key: "env://NO_SUCH_KEY_ANYWHERE", Attestations: []Attestation{{PredicateType: "x"}}}}); err == nil {
		t.Error("NewVerifier accepted a bad entry")
	}
}

func TestEvaluatePredicate(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	grype := `{"scanner":{"result":{"matches":[{"vulnerability":{"id":"CVE-1","severity":"Negligible"}},{"vulnerability":{"id":"CVE-2","severity":"Medium"}}]}},"metadata":{"scanFinishedOn":"2026-12-03T11:00:00Z"}}`
	tests := []struct {
		name, pred  string
		a           Attestation
		wantProblem string
		wantSaid    string
	}{
		{"grype report under the limit", grype, Attestation{PredicateType: "vuln", MaxSeverity: "medium", MaxAge: 2 * time.Hour}, "", "findings: 1 medium, 1 none; scanned 2026-12-03T11:00:00Z"},
		{"grype report over the limit", grype, Attestation{PredicateType: "vuln", MaxSeverity: "low"}, "1 finding(s) of severity medium, above maxSeverity low", ""},
		{"no scan time", `{"scanner":{"result":{}}}`, Attestation{PredicateType: "vuln", MaxAge: time.Hour}, "metadata.scanFinishedOn is missing", "no findings"},
		{"list index out of range", `{"a":[1]}`, Attestation{PredicateType: "custom", Match: []FieldMatch{{Path: "a.1", Want: "1"}}}, "a.1 is missing", ""},
		{"objects compare as JSON", `{"a":{"b":[1,"x"]}}`, Attestation{PredicateType: "custom", Match: []FieldMatch{{Path: "a.b", Want: `[1,"x"]`}}}, "", `a.b="[1,\"x\"]"`},
		{"null", `{"a":null}`, Attestation{PredicateType: "custom", Match: []FieldMatch{{Path: "a", Want: "x"}}}, `a is "null", want x`, ""},
		{"first failing field is named", `{"a":"1","b":"2"}`, Attestation{PredicateType: "custom", Match: []FieldMatch{{Path: "a", Want: "1"}, {Path: "b", Want: "/^3$/"}, {Path: "c", Want: "x"}}}, `b is "2", want /^3$/`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := compileAttestation(tt.a)
			check(t, err)
			_, pred, err := parseStatement([]byte(`{"predicateType":"x","predicate":` + tt.pred + `}`))
			check(t, err)
			ev := req.evaluate(pred, now)
			if (ev.problem == "") != (tt.wantProblem == "") || !strings.HasPrefix(ev.problem, tt.wantProblem) {
				t.Errorf("problem %q, want %q", ev.problem, tt.wantProblem)
			}
			if said := ev.describe(req.uri); tt.wantSaid != "" && said != tt.wantSaid {
				t.Errorf("said %q, want %q", said, tt.wantSaid)
			}
		})
	}
}

// FuzzAttestationPredicate: any statement, against any match rule, evaluates without panicking,
// and a predicate that passes says so consistently.
func FuzzAttestationPredicate(f *testing.F) {
	f.Add([]byte(`{"predicateType":"x","predicate":`+slsaV1Main+`}`), "buildDefinition.externalParameters.workflow.ref", "/^refs/heads/main$/", "high")
	f.Add([]byte(`{"predicate":`+vulnPredicate(time.Now(), "HIGH", "weird")+`}`), "scanner.result.Results.0.Vulnerabilities.1.Severity", "weird", "low")
	f.Add([]byte(`{"predicate":{"a":[[{"severity":7}]]}}`), "a.0.0", "x", "none")
	f.Fuzz(func(t *testing.T, raw []byte, path, want, sev string) {
		_, pred, err := parseStatement(raw)
		if err != nil {
			return
		}
		for _, typ := range []string{"custom", "vuln"} {
			a := Attestation{PredicateType: typ, Match: []FieldMatch{{Path: path, Want: want}}}
			if typ == "vuln" {
				a.MaxSeverity, a.MaxAge = sev, time.Hour
			}
			req, err := compileAttestation(a)
			if err != nil {
				continue
			}
			ev := req.evaluate(pred, time.Now())
			again := req.evaluate(pred, time.Now())
			if (ev.problem == "") != (again.problem == "") {
				t.Fatalf("evaluation is not stable: %q then %q", ev.problem, again.problem)
			}
			_ = ev.describe(req.uri)
		}
	})
}
