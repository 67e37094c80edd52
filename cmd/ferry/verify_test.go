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

	"github.com/ferryhq/ferry/internal/sigtest"
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
	return f
}

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
		{"verified", repo + ":signed", exitOK, verifyResult{Ref: repo + ":signed", Digest: f.signed.DigestStr(), Verified: true, Signer: "key " + f.keyPath}},
		{"refused", repo + ":moved", exitRefused, verifyResult{Ref: repo + ":moved", Digest: f.movedTo.DigestStr(), Reason: "unsigned"}},
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
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}
