package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The cosign CLI (2.6.5, pinned in the Makefile and installed by `make tools`) signs and attests
// images here, so that ferry's verifier is proven against what the real tool writes and not only
// against internal/sigtest's fixtures. Everything is offline: a key made by cosign
// generate-key-pair, no transparency log, no timestamp authority, the registry on loopback.

// trivyCosignVuln is a cosign vuln predicate as `trivy image --format cosign-vuln` writes it:
// Trivy's JSON report under scanner.result, the scan's times under metadata. Its findings are
// one HIGH, one MEDIUM and one LOW.
func trivyCosignVuln(finished time.Time) string {
	vuln := func(id, pkg, installed, fixed, severity string, vendor int) map[string]any {
		return map[string]any{
			"VulnerabilityID": id, "PkgName": pkg, "InstalledVersion": installed, "FixedVersion": fixed,
			"Status": "fixed", "SeveritySource": "nvd", "PrimaryURL": "https://avd.aquasec.com/nvd/" + strings.ToLower(id),
			"Title": pkg + ": " + id, "Severity": severity, "VendorSeverity": map[string]int{"nvd": vendor},
			"CVSS": map[string]any{"nvd": map[string]any{"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "V3Score": 7.5}},
		}
	}
	b, err := json.Marshal(map[string]any{
		"invocation": map[string]any{"parameters": nil, "uri": "", "event_id": "", "builder.id": ""},
		"scanner": map[string]any{
			"uri": "pkg:github/aquasecurity/trivy@0.58.1", "version": "0.58.1",
			"db": map[string]any{"uri": "", "version": ""},
			"result": map[string]any{
				"SchemaVersion": 2, "CreatedAt": finished.Format(time.RFC3339Nano),
				"ArtifactName": "ghcr.io/acme/api:1.0.0", "ArtifactType": "container_image",
				"Metadata": map[string]any{"OS": map[string]any{"Family": "debian", "Name": "12.9"}},
				"Results": []any{map[string]any{
					"Target": "ghcr.io/acme/api:1.0.0 (debian 12.9)", "Class": "os-pkgs", "Type": "debian",
					"Vulnerabilities": []any{
						vuln("CVE-2025-0725", "libcurl4", "7.88.1-10+deb12u8", "7.88.1-10+deb12u12", "HIGH", 3),
						vuln("CVE-2024-13176", "libssl3", "3.0.15-1~deb12u1", "3.0.16-1~deb12u1", "MEDIUM", 2),
						vuln("CVE-2011-3374", "apt", "2.6.1", "", "LOW", 1),
					},
				}},
			},
		},
		"metadata": map[string]any{
			"scanStartedOn":  finished.Add(-40 * time.Second).Format(time.RFC3339),
			"scanFinishedOn": finished.Format(time.RFC3339),
		},
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// cosignCLI runs the cosign binary in a directory of its own, with an environment that holds
// nothing of the user's: HOME, DOCKER_CONFIG and TUF_ROOT in the test's temp dir, no Sigstore
// cache, and every proxy variable pointing at a recorder, so that any request cosign makes
// beyond loopback (the public-good TUF repository, Rekor, Fulcio) is seen and fails the test.
// Go does not proxy requests to loopback, so the test registry is reached directly.
type cosignCLI struct {
	bin, dir string
	env      []string

	mu      sync.Mutex
	outside []string // requests that reached the recorder
}

const cosignPassword = "ferry-test-password"

func newCosignCLI(t *testing.T) *cosignCLI {
	t.Helper()
	c := &cosignCLI{bin: testenv.Tool(t, "cosign"), dir: t.TempDir()}
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.outside = append(c.outside, r.Method+" "+r.Host+r.URL.Path)
		c.mu.Unlock()
		http.Error(w, "no network in tests", http.StatusBadGateway)
	}))
	t.Cleanup(recorder.Close)
	for _, d := range []string{"home", "docker", "tuf", "tmp"} {
		if err := os.Mkdir(filepath.Join(c.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c.env = []string{
		"HOME=" + filepath.Join(c.dir, "home"),
		"DOCKER_CONFIG=" + filepath.Join(c.dir, "docker"),
		"TUF_ROOT=" + filepath.Join(c.dir, "tuf"),
		"TMPDIR=" + filepath.Join(c.dir, "tmp"),
		"SIGSTORE_NO_CACHE=1",
		"COSIGN_PASSWORD=" + cosignPassword,
		"HTTPS_PROXY=" + recorder.URL, "https_proxy=" + recorder.URL,
		"HTTP_PROXY=" + recorder.URL, "http_proxy=" + recorder.URL,
		"NO_PROXY=", "no_proxy=",
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.outside) > 0 {
			t.Errorf("cosign reached beyond loopback: %q", c.outside)
		}
	})
	return c
}

// status runs cosign with args in its directory and returns its exit code and combined output; an
// exit code of -1 is a command that could not run or was killed by the timeout.
func (c *cosignCLI) status(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case ctx.Err() != nil:
		t.Fatalf("cosign %s: %v (%v)\n%s", strings.Join(args, " "), err, ctx.Err(), out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return -1, ""
}

// run runs cosign and fails the test unless it exits 0.
func (c *cosignCLI) run(t *testing.T, args ...string) string {
	t.Helper()
	code, out := c.status(t, args...)
	if code != 0 {
		t.Fatalf("cosign %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (c *cosignCLI) write(t *testing.T, name, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestCosignCLIAttestations(t *testing.T) {
	c := newCosignCLI(t)
	c.run(t, "generate-key-pair")
	pub := filepath.Join(c.dir, "cosign.pub")
	// cosign verify-attestation fetches the public-good trusted root over TUF unless it is given
	// one; with a key and no log it needs nothing from it, so an empty one keeps it offline.
	trustedRoot := c.write(t, "empty_trusted_root.json", `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
	provenance := c.write(t, "provenance.json", slsaV1Main)
	scanned := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	vulnScan := c.write(t, "trivy.cosign-vuln.json", trivyCosignVuln(scanned))

	layouts := []struct {
		name      string
		referrers bool     // the registry serves the OCI referrers API
		format    []string // cosign's flags for the layout
		store     string   // where ferry must find the attestations
		tags      []string // the tags cosign writes beside 1.0.0 (<alg>-<hex> is the digest's)
	}{
		{"cosign 2 .sig and .att tags", true, nil, StoreAttTag, []string{"<alg>-<hex>.att", "<alg>-<hex>.sig"}},
		{"Sigstore bundles as OCI referrers", true, []string{"--new-bundle-format"}, StoreReferrer, nil},
		{"Sigstore bundles through the referrers tag fallback", false, []string{"--new-bundle-format"}, StoreReferrer, []string{"<alg>-<hex>"}},
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			reg := newTestRegistry(t, l.referrers)
			ref := reg.push(t, "acme/api:1.0.0")
			img := ref.String()
			// Signed with the key only: nothing uploaded to Rekor, no Fulcio, no timestamp authority.
			offline := func(verb string, args ...string) []string {
				args = append(append([]string{verb}, args...), l.format...)
				return append(args, "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry", "--yes", img)
			}
			c.run(t, offline("sign")...)
			c.run(t, offline("attest", "--type", "slsaprovenance1", "--predicate", provenance)...)
			c.run(t, offline("attest", "--type", "vuln", "--predicate", vulnScan)...)

			tags, err := remote.List(ref.Context())
			if err != nil {
				t.Fatal(err)
			}
			digestTag := strings.Replace(ref.DigestStr(), ":", "-", 1)
			var wrote []string
			for _, tag := range tags {
				if tag != "1.0.0" {
					wrote = append(wrote, strings.Replace(tag, digestTag, "<alg>-<hex>", 1))
				}
			}
			if diff := cmp.Diff(l.tags, wrote); diff != "" {
				t.Errorf("tags cosign wrote (-want +got):\n%s", diff)
			}

			// cosign's own verifier agrees, and can disagree: a type that was never attested.
			verify := func(typ string) []string {
				args := append([]string{"verify-attestation", "--type", typ}, l.format...)
				return append(args, "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-http-registry", "--trusted-root", trustedRoot, img)
			}
			c.run(t, verify("slsaprovenance1")...)
			c.run(t, verify("vuln")...)
			if code, out := c.status(t, verify("slsaprovenance02")...); code == 0 {
				t.Errorf("cosign verify-attestation --type slsaprovenance02 exit 0 for an image with no such attestation:\n%s", out)
			}

			checkCosignAccepted(t, ref, pub, l.store, scanned)
			checkCosignRefused(t, ref, pub, scanned)
		})
	}
}

// cosignProvenance is what the SLSA v1 provenance cosign attested says. cosign reads the
// predicate into in-toto's SLSA v1 type and writes that back, so runDetails.metadata's
// invocationId (the spec's, and attest-build-provenance's, spelling) comes out as invocationID.
var cosignProvenance = Attestation{
	PredicateType: "slsaprovenance1",
	Match: []FieldMatch{
		{Path: "buildDefinition.externalParameters.workflow.repository", Want: "https://github.com/acme/api"},
		{Path: "buildDefinition.externalParameters.workflow.ref", Want: "/^refs/(heads/main|tags/v.*)$/"},
		{Path: "buildDefinition.externalParameters.workflow.path", Want: ".github/workflows/release.yml"},
		{Path: "buildDefinition.resolvedDependencies.0.digest.gitCommit", Want: "6f1c2a7"},
		{Path: "runDetails.metadata.invocationID", Want: "/^https://github.com/acme/api/actions/runs/42/"},
	},
}

func cosignVerifier(t *testing.T, now time.Time, entry VerifyEntry) *Verifier {
	t.Helper()
	v, err := NewVerifier([]VerifyEntry{entry}, noPublicGood(), fastRetries(), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkCosignAccepted(t *testing.T, ref name.Digest, pub, store string, scanned time.Time) {
	t.Helper()
	entry := VerifyEntry{Key: pub, Attestations: []Attestation{
		cosignProvenance,
		{PredicateType: "vuln", MaxSeverity: "high", MaxAge: 24 * time.Hour},
	}}
	got, err := cosignVerifier(t, scanned.Add(2*time.Hour), entry).Verify(t.Context(), ref)
	if err != nil {
		t.Fatalf("Verify of what cosign wrote: %v", err)
	}
	const source = "https://github.com/acme/api@refs/heads/main"
	if got.Digest != ref.DigestStr() || got.Source != source {
		t.Errorf("Verify = digest %s source %q, want %s and %q", got.Digest, got.Source, ref.DigestStr(), source)
	}
	if want := "key " + pub + " (built from " + source + ")"; got.Signer != want {
		t.Errorf("Signer = %q, want %q", got.Signer, want)
	}
	passed := map[string]AttestationResult{}
	for _, a := range got.Attestations {
		if a.Passed {
			passed[a.PredicateType] = a
		}
	}
	for _, typ := range []string{PredicateSLSAProvenance1, PredicateVuln} {
		a, ok := passed[typ]
		switch {
		case !ok:
			t.Errorf("no passing %s attestation: %+v", typ, got.Attestations)
		case !a.Verified || a.Store != store || a.Signer != "key "+pub:
			t.Errorf("%s attestation = %+v, want verified, signed by key %s, from store %s", typ, a, pub, store)
		}
	}
	if want := "findings: 1 high, 1 medium, 1 low; scanned " + scanned.Format(time.RFC3339); passed[PredicateVuln].Said != want {
		t.Errorf("vuln attestation said %q, want %q", passed[PredicateVuln].Said, want)
	}
}

func checkCosignRefused(t *testing.T, ref name.Digest, pub string, scanned time.Time) {
	t.Helper()
	otherRepo := cosignProvenance
	otherRepo.Match = append([]FieldMatch{{Path: "buildDefinition.externalParameters.workflow.repository", Want: "https://github.com/acme/web"}}, otherRepo.Match[1:]...)
	tagsOnly := cosignProvenance
	tagsOnly.Match = []FieldMatch{{Path: "buildDefinition.externalParameters.workflow.ref", Want: "/^refs/tags/v/"}}
	specSpelling := cosignProvenance
	specSpelling.Match = []FieldMatch{{Path: "runDetails.metadata.invocationId", Want: "/./"}}
	tests := []struct {
		name       string
		now        time.Time
		attest     Attestation
		wantDetail []string
	}{{
		name:       "another repository",
		attest:     otherRepo,
		wantDetail: []string{PredicateSLSAProvenance1, `buildDefinition.externalParameters.workflow.repository is "https://github.com/acme/api", want https://github.com/acme/web`},
	}, {
		name:       "built from a branch, tags required",
		attest:     tagsOnly,
		wantDetail: []string{`buildDefinition.externalParameters.workflow.ref is "refs/heads/main", want /^refs/tags/v/`},
	}, {
		name:       "a field cosign renamed",
		attest:     specSpelling,
		wantDetail: []string{"runDetails.metadata.invocationId is missing"},
	}, {
		name:       "a finding above maxSeverity",
		attest:     Attestation{PredicateType: "vuln", MaxSeverity: "medium"},
		wantDetail: []string{PredicateVuln, "1 finding(s) of severity high, above maxSeverity medium"},
	}, {
		name:       "a scan older than maxAge",
		now:        scanned.Add(49 * time.Hour),
		attest:     Attestation{PredicateType: "vuln", MaxSeverity: "high", MaxAge: 48 * time.Hour},
		wantDetail: []string{"metadata.scanFinishedOn is " + scanned.Format(time.RFC3339) + ", older than maxAge 48h0m0s"},
	}, {
		name:       "a predicate type cosign did not attest",
		attest:     Attestation{PredicateType: "spdxjson"},
		wantDetail: []string{PredicateSPDX + ": no such attestation"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = scanned.Add(2 * time.Hour)
			}
			_, err := cosignVerifier(t, now, VerifyEntry{Key: pub, Attestations: []Attestation{tt.attest}}).Verify(t.Context(), ref)
			var refusal *RefusalError
			if !errors.As(err, &refusal) || refusal.Reason != ReasonAttestation {
				t.Fatalf("Verify = %v, want a refusal with reason %s", err, ReasonAttestation)
			}
			for _, want := range tt.wantDetail {
				if !strings.Contains(refusal.Detail, want) {
					t.Errorf("refusal detail %q, want it to contain %q", refusal.Detail, want)
				}
			}
		})
	}
}
