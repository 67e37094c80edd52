package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/registry"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// verifyFixture is a registry holding acme/api:signed (signed with key), acme/api:unsigned and
// acme/api:moved (signed, then moved to an unsigned image).
type verifyFixture struct {
	host            string
	keyPath, other  string
	signed, movedTo name.Digest
	attested        name.Digest // signed with key, with a SLSA v1 provenance (main) and a scan with a high finding
	rootPath        string
}

func newVerifyFixture(t *testing.T) *verifyFixture {
	t.Helper()
	ctx := context.Background()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	f := &verifyFixture{host: strings.TrimPrefix(srv.URL, "http://")}
	push := func(tag string) name.Digest {
		img, err := random.Image(128, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewTag(f.host + "/acme/api:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return ref.Context().Digest(d.String())
	}
	key, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	other, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := sigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f.keyPath, f.other, f.rootPath = filepath.Join(dir, "cosign.pub"), filepath.Join(dir, "other.pub"), filepath.Join(dir, "trusted_root.json")
	for p, b := range map[string][]byte{f.keyPath: key.PublicPEM, f.other: other.PublicPEM, f.rootPath: ca.TrustedRoot()} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.signed = push("signed")
	if err := sigtest.SignWithKey(ctx, f.signed, key); err != nil {
		t.Fatal(err)
	}
	push("unsigned")
	moved := push("moved")
	if err := sigtest.SignWithKey(ctx, moved, key); err != nil {
		t.Fatal(err)
	}
	f.movedTo = push("moved")
	keyless := push("keyless")
	if err := sigtest.SignBundle(ctx, keyless, sigtest.Signer{CA: ca, Identity: "ci@acme.example", Issuer: "https://issuer.acme.example"}, sigtest.WithoutTlog()); err != nil {
		t.Fatal(err)
	}
	f.attested = push("attested")
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(sigtest.SignWithKey(ctx, f.attested, key))
	check(sigtest.AttestWithKey(ctx, f.attested, key, "https://slsa.dev/provenance/v1", []byte(provenanceV1)))
	check(sigtest.AttestWithKey(ctx, f.attested, key, "https://cosign.sigstore.dev/attestation/vuln/v1",
		[]byte(`{"scanner":{"uri":"pkg:github/aquasecurity/trivy@0.58.1","result":{"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-2026-0001","Severity":"HIGH"}]}]}},"metadata":{"scanFinishedOn":"`+time.Now().UTC().Format(time.RFC3339)+`"}}`)))
	return f
}

// provenanceV1 is a SLSA v1 predicate as actions/attest-build-provenance writes it.
const provenanceV1 = `{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1","externalParameters":{"workflow":{"ref":"refs/heads/main","repository":"https://github.com/acme/api","path":".github/workflows/release.yml"}}},"runDetails":{"builder":{"id":"https://github.com/actions/runner/github-hosted"}}}`

func TestVerifyCommandExitCodes(t *testing.T) {
	f := newVerifyFixture(t)
	repo := f.host + "/acme/api"
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{"signed tag verifies", []string{"--key", f.keyPath, repo + ":signed"}, exitOK, "verified " + repo + "@" + f.signed.DigestStr(), ""},
		{"signed digest verifies", []string{"--key", f.keyPath, f.signed.String()}, exitOK, "signer: key " + f.keyPath, ""},
		{"any one key is enough", []string{"--key", f.other, "--key", f.keyPath, repo + ":signed"}, exitOK, "signer: key " + f.keyPath, ""},
		{"unsigned refused", []string{"--key", f.keyPath, repo + ":unsigned"}, exitRefused, "refused", "unsigned"},
		{"other key refused", []string{"--key", f.other, repo + ":signed"}, exitRefused, "wrong-signer", "no matching key"},
		{"moved tag refused, new digest named", []string{"--key", f.keyPath, repo + ":moved"}, exitRefused, f.movedTo.DigestStr(), "unsigned"},
		{"keyless with insecure-ignore-tlog warns", []string{"--certificate-identity", "ci@acme.example", "--certificate-oidc-issuer", "https://issuer.acme.example",
			"--trusted-root", f.rootPath, "--insecure-ignore-tlog", "--insecure-ignore-sct", repo + ":keyless"}, exitOK, "signer: ci@acme.example", "insecureIgnoreTlog"},
		{"keyless without tlog refused", []string{"--certificate-identity", "ci@acme.example", "--certificate-oidc-issuer", "https://issuer.acme.example",
			"--trusted-root", f.rootPath, "--insecure-ignore-sct", repo + ":keyless"}, exitRefused, "wrong-signer", "no transparency-log entry"},
		{"no verify flags", []string{repo + ":signed"}, exitUsage, "", "verify needs --key"},
		{"no REF", []string{"--key", f.keyPath}, exitUsage, "", "one REF"},
		{"identity and identity regexp", []string{"--certificate-identity", "a", "--certificate-identity-regexp", "b", "--certificate-oidc-issuer", "c", repo}, exitUsage, "", "conflict"},
		{"require and ignore tlog", []string{"--key", f.keyPath, "--certificate-identity", "a", "--certificate-oidc-issuer", "c", "--require-tlog", "--insecure-ignore-tlog", repo}, exitUsage, "", "conflict"},
		{"identity without issuer", []string{"--certificate-identity", "a", repo}, exitUsage, "", "needs --certificate-oidc-issuer"},
		{"bad output", []string{"--key", f.keyPath, "--output", "yaml", repo}, exitUsage, "", "--output"},
		{"missing key file", []string{"--key", f.keyPath + ".missing", repo + ":signed"}, exitError, "", "reading key"},
		{"provenance required and met", []string{"--key", f.keyPath, "--attestation-type", "slsaprovenance1",
			"--attestation-match", "buildDefinition.externalParameters.workflow.ref=/^refs/(heads/main|tags/v.*)$/",
			"--attestation-match", "buildDefinition.externalParameters.workflow.repository=https://github.com/acme/api", repo + ":attested"},
			exitOK, "signer: key " + f.keyPath + " (built from https://github.com/acme/api@refs/heads/main)\nattestation https://slsa.dev/provenance/v1 (att-tag, required, passed): built from https://github.com/acme/api@refs/heads/main", ""},
		{"provenance from another branch refused", []string{"--key", f.keyPath, "--attestation-type", "slsaprovenance1",
			"--attestation-match", "buildDefinition.externalParameters.workflow.ref=refs/heads/release", repo + ":attested"},
			exitRefused, `refused ` + repo + "@" + f.attested.DigestStr() + `: attestation` + "\n" + `https://slsa.dev/provenance/v1: buildDefinition.externalParameters.workflow.ref is "refs/heads/main", want refs/heads/release`, "attestation"},
		{"scan with a high finding refused at medium", []string{"--key", f.keyPath, "--attestation-type", "vuln", "--attestation-max-severity", "medium", "--attestation-max-age", "24h", repo + ":attested"},
			exitRefused, "1 finding(s) of severity high, above maxSeverity medium", ""},
		{"no attestation at all refused", []string{"--key", f.keyPath, "--attestation-type", "slsaprovenance1", repo + ":signed"},
			exitRefused, "https://slsa.dev/provenance/v1: no such attestation", ""},
		{"attestation match without a type", []string{"--key", f.keyPath, "--attestation-match", "a=b", repo}, exitUsage, "", "need --attestation-type"},
		{"attestation type that is no type", []string{"--key", f.keyPath, "--attestation-type", "provenance", repo}, exitUsage, "", "neither a URI nor one of cosign's names"},
		{"attestation without a signer", []string{"--attestation-type", "vuln", repo}, exitUsage, "", "signed like the image"},
		{"matches for two types", []string{"--key", f.keyPath, "--attestation-type", "vuln", "--attestation-type", "slsaprovenance1", "--attestation-match", "a=b", repo}, exitUsage, "", "applies to one --attestation-type"},
		{"severity limit without vuln", []string{"--key", f.keyPath, "--attestation-type", "slsaprovenance1", "--attestation-max-severity", "low", repo}, exitUsage, "", "apply to --attestation-type vuln"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"verify"}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.wantStderr)
			}
		})
	}
}

func TestVerifyCommandJSON(t *testing.T) {
	f := newVerifyFixture(t)
	repo := f.host + "/acme/api"
	tests := []struct {
		name     string
		ref      string
		wantCode int
		want     verifyResult
	}{
		{"verified", repo + ":signed", exitOK, verifyResult{Ref: repo + ":signed", Digest: f.signed.DigestStr(), Verified: true, Signer: "key " + f.keyPath, Attestations: []registry.AttestationResult{}}},
		{"refused", repo + ":moved", exitRefused, verifyResult{Ref: repo + ":moved", Digest: f.movedTo.DigestStr(), Reason: "unsigned", Attestations: []registry.AttestationResult{}}},
		{"attestations listed though none is required", repo + ":attested", exitOK, verifyResult{Ref: repo + ":attested", Digest: f.attested.DigestStr(), Verified: true,
			Signer: "key " + f.keyPath + " (built from https://github.com/acme/api@refs/heads/main)", Source: "https://github.com/acme/api@refs/heads/main",
			Attestations: []registry.AttestationResult{{
				PredicateType: "https://slsa.dev/provenance/v1", Store: "att-tag", Where: "layer 1 of " + dashed(f.attested) + ".att", Verified: true, Signer: "key " + f.keyPath,
				Said: "built from https://github.com/acme/api@refs/heads/main",
			}, {
				PredicateType: "https://cosign.sigstore.dev/attestation/vuln/v1", Store: "att-tag", Where: "layer 2 of " + dashed(f.attested) + ".att", Verified: true, Signer: "key " + f.keyPath,
				Said: "findings: 1 high; scanned <time>",
			}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "verify", "--output", "json", "--key", f.keyPath, tc.ref)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.wantCode, stderr)
			}
			var got verifyResult
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
			}
			got.Detail = ""
			for i, a := range got.Attestations {
				if before, _, ok := strings.Cut(a.Said, "; scanned "); ok {
					got.Attestations[i].Said = before + "; scanned <time>"
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}

func dashed(d name.Digest) string { return strings.Replace(d.DigestStr(), ":", "-", 1) }

// TestTagsAttestationFlags: ferry tags walks past a tag whose attestation does not match, and
// says why (reason attestation).
func TestTagsAttestationFlags(t *testing.T) {
	f := newVerifyFixture(t)
	repo := f.host + "/acme/api"
	base := []string{"tags", repo, "--digest", "attested", "--key", f.keyPath, "--attestation-type", "slsaprovenance1", "--output", "json", "--cache-dir", t.TempDir()}
	code, stdout, stderr := runCLI(t, append(base, "--attestation-match", "buildDefinition.externalParameters.workflow.repository=https://github.com/acme/api")...)
	if code != exitOK {
		t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var got tagsJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Chosen == nil || got.Chosen.Digest != f.attested.DigestStr() || !strings.HasSuffix(got.Chosen.Signer, "(built from https://github.com/acme/api@refs/heads/main)") {
		t.Errorf("chosen %+v, want %s with the provenance's source in its signer", got.Chosen, f.attested.DigestStr())
	}
	code, stdout, stderr = runCLI(t, append(base, "--attestation-match", "buildDefinition.externalParameters.workflow.repository=https://github.com/acme/other")...)
	if code != exitError && code != exitRefused {
		t.Fatalf("exit %d, want a refusal\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	got = tagsJSON{}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if got.Chosen != nil || len(got.Candidates) == 0 || got.Candidates[0].Reason != "attestation" || !strings.Contains(got.Candidates[0].Detail, "workflow.repository") {
		t.Errorf("tags = %+v, want no tag chosen and attested passed over for reason attestation", got)
	}
}
