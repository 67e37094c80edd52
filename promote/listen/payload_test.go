package listen

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/promote/config"
)

const sampleDigest = "sha256:3f1c9e6a2b7d4e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"

// sample reads testdata/webhooks/<kind>.json, the payload each sender documents.
func sample(t testing.TB, kind string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "webhooks", kind+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSamples(t *testing.T) {
	for _, tc := range []struct {
		kind string
		want []Push
	}{
		{KindDockerHub, []Push{{Repository: "acme/api", Tag: "1.4.2", At: "1763632800"}}},
		{KindGHCR, []Push{{Repository: "ghcr.io/acme/api", Tag: "1.4.2", Digest: sampleDigest, At: "2026-11-20T10:00:00Z"}}},
		{KindHarbor, []Push{{Repository: "harbor.example.com/acme/api", Tag: "1.4.2", Digest: sampleDigest, At: "1763632800"}}},
		{KindQuay, []Push{{Repository: "quay.io/acme/api", Tag: "1.4.2"}}},
		{KindGitLab, []Push{{Repository: "registry.gitlab.example.com/acme/api", Tag: "1.4.2", Digest: sampleDigest, At: "2026-11-20T10:00:00.000000000Z"}}},
		// The blob push before the manifest is not an image push.
		{KindDistribution, []Push{{Repository: "registry.example.com/acme/api", Tag: "1.4.2", Digest: sampleDigest, At: "2026-11-20T10:00:00.100000000Z"}}},
		{KindGeneric, []Push{{Repository: "registry.internal:5000/acme/api", Tag: "1.4.2"}}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			h := http.Header{"X-Github-Event": {"registry_package"}}
			got, err := Parse(tc.kind, h, sample(t, tc.kind))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name, kind, event, body string
		want                    error
	}{
		{"malformed JSON", KindGeneric, "", `{"repository": "a/b"`, ErrMalformed},
		{"generic without repository", KindGeneric, "", `{"tag": "1"}`, ErrMalformed},
		{"docker hub without repo_name", KindDockerHub, "", `{"push_data": {"tag": "1"}, "repository": {}}`, ErrMalformed},
		{"github ping", KindGHCR, "ping", `{"zen": "Design for failure."}`, ErrNotAPush},
		{"github without event header", KindGHCR, "", `{}`, ErrMalformed},
		{"github npm package", KindGHCR, "package", `{"action": "published", "package": {"name": "x", "namespace": "acme", "package_type": "npm"}}`, ErrNotAPush},
		{"harbor scan", KindHarbor, "", `{"type": "SCANNING_COMPLETED", "event_data": {}}`, ErrNotAPush},
		{"distribution pull", KindDistribution, "", `{"events": [{"action": "pull", "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "a/b"}}]}`, ErrNotAPush},
		{"distribution without events", KindDistribution, "", `{}`, ErrMalformed},
		{"quay without docker_url", KindQuay, "", `{"updated_tags": ["1"]}`, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.kind, http.Header{"X-Github-Event": {tc.event}}, []byte(tc.body))
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	cfg, err := config.Parse("ferry.yaml", []byte(`images:
  - {name: api, repository: ghcr.io/acme/api, policy: {semver: ^1}, insecureSkipVerify: true}
  - {name: nginx, repository: nginx, policy: {semver: ^1}, insecureSkipVerify: true}
  - {name: mirror, repository: registry.internal:5000/acme/api, policy: {semver: ^1}, insecureSkipVerify: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := newCatalog(cfg)
	for repo, want := range map[string][]string{
		"ghcr.io/acme/api":                {"api"},
		"registry.internal:5000/acme/api": {"mirror"},
		"library/nginx":                   {"nginx"},
		"docker.io/library/nginx":         {"nginx"},
		"quay.io/acme/api":                {"api", "mirror"}, // no such host: by path
		"ghcr.io/acme/other":              nil,
		"Not A Repository!":               nil,
	} {
		if diff := cmp.Diff(want, c.images(repo)); diff != "" {
			t.Errorf("images(%q) (-want +got):\n%s", repo, diff)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, k := range Kinds {
		f.Add(k, sample(f, k))
	}
	f.Fuzz(func(t *testing.T, kind string, body []byte) {
		pushes, err := Parse(kind, http.Header{"X-Github-Event": {"registry_package"}}, body)
		if err == nil && len(pushes) == 0 {
			t.Errorf("Parse(%q) = no pushes and no error", kind)
		}
	})
}
