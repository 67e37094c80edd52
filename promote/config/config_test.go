package config

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadFull(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(fstest.MapFS{"ferry.yaml": {Data: data}}, "ferry.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	globalPR := PullRequest{
		Provider:  ProviderGitHub,
		URL:       "https://github.example.com/api/v3",
		Title:     "Promote {{ .Source }} to {{ .Environment }}",
		Body:      DefaultBody,
		Labels:    []string{"promotion"},
		Assignees: []string{"octocat"},
		AutoMerge: true,
	}
	prodPR := globalPR
	prodPR.Labels = []string{"prod"}
	prodPR.Reviewers = []string{"sre-team"}
	prodPR.Draft = true
	want := &Config{
		File: "ferry.yaml",
		Images: []Image{{
			Name:       "api",
			Repository: "ghcr.io/acme/api",
			Policy:     Policy{Semver: ">=1.2.0 <2.0.0"},
			Tags:       Tags{Allow: `^v?(?P<version>\d+\.\d+\.\d+)$`, Ignore: []string{"latest", "*-debug"}},
			Platforms:  []string{"linux/amd64", "linux/arm64"},
			Verify: []VerifyEntry{
				{Key: "keys/api.pub", Line: 13},
				{Keyless: &Keyless{
					Issuer:         "https://token.actions.githubusercontent.com",
					IdentityRegexp: "^https://github.com/acme/api/",
					TrustedRoot:    "keys/trusted_root.json",
				}, Attestations: []Attestation{{
					PredicateType: "https://slsa.dev/provenance/v1",
					Match: Matches{
						{Path: "buildDefinition.externalParameters.workflow.repository", Want: "https://github.com/acme/api", Line: 24},
						{Path: "buildDefinition.externalParameters.workflow.ref", Want: "/^refs/(heads/main|tags/v.*)$/", Line: 25},
					},
					Line: 22,
				}, {PredicateType: "vuln", MaxSeverity: "medium", MaxAge: 168 * time.Hour, Line: 26}}, Line: 15},
			},
			Pin:     PinTagDigest,
			Markers: []string{"flux-system:api"},
			Fields:  []Field{{Path: "app.release.version", Part: PartTag, Files: "values*.yaml", Line: 33}},
			Line:    3,
		}, {
			Name:       "worker",
			Repository: "registry.internal:5000/acme/worker",
			Policy:     Policy{Numerical: Desc},
			Verify: []VerifyEntry{
				{Key: "env://WORKER_COSIGN_KEY", RequireTlog: true, Line: 38},
				{Keyless: &Keyless{
					IssuerRegexp: `^https://gitlab\.example\.com$`,
					Identity:     "https://gitlab.example.com/acme/worker//.gitlab-ci.yml@refs/heads/main",
				}, Line: 40},
			},
			Pin:    PinDigest,
			Fields: []Field{{Path: "worker.image", Part: PartRef, Line: 45}},
			Line:   34,
		}, {
			Name:               "docs",
			Repository:         "nginx",
			Policy:             Policy{Alphabetical: Asc},
			InsecureSkipVerify: true,
			Pin:                PinTag,
			Line:               46,
		}, {
			Name:       "batch",
			Repository: "docker.io/acme/batch",
			Policy:     Policy{NewestBuild: &NewestBuild{}},
			Verify:     []VerifyEntry{{Key: "keys/batch.pub", Line: 54}},
			Pin:        PinTagDigest,
			Line:       51,
		}, {
			Name:       "edge",
			Repository: "quay.io/acme/edge",
			Policy:     Policy{Digest: "latest"},
			Verify:     []VerifyEntry{{Key: "keys/batch.pub", Line: 58}},
			Pin:        PinTagDigest,
			Line:       55,
		}},
		Registries: []Registry{
			{Host: "registry.internal:5000", Insecure: true, TokenEnv: "INTERNAL_REGISTRY_TOKEN", RequestsPerSecond: 10, Line: 61},
			{Host: "quay.io", RequestsPerSecond: 2.5, ImmutableTags: true, Line: 66},
		},
		Environments: []Environment{
			{Name: "dev", Path: "envs/dev", Source: SourceRegistry, Write: WriteCommit, Line: 71},
			{Name: "staging", Path: "envs/staging", Source: "dev", Write: WritePullRequest, PullRequest: globalPR, Line: 75},
			{Name: "prod", Path: "envs/prod", Source: "staging", Write: WritePullRequest, Gates: Gates{Soak: 24 * time.Hour}, PullRequest: prodPR, Line: 79},
		},
		Git: Git{
			Branch:        "main",
			Author:        Person{Name: "ferry", Email: "ferry@users.noreply.example"},
			Committer:     Person{Name: "Release Bot", Email: "release@example.com"},
			CommitMessage: "{{ .Environment }}: {{ range .Changes }}{{ .Image }} {{ .From }} -> {{ .To }} {{ end }}",
			SigningKey:    &SigningKey{GPG: "env://FERRY_GPG_KEY", Line: 92},
			PullRequest:   globalPR,
		},
		Notify: []Notify{
			{URL: "env://SLACK_WEBHOOK_URL", Format: FormatSlack, On: []NotifyEvent{EventCommit, EventPullRequest, EventRefused, EventRollback}, Line: 105},
			{URL: "env://AUDIT_WEBHOOK_URL", Format: FormatJSON, Line: 106},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

func TestDefaults(t *testing.T) {
	got, err := Parse("ferry.yaml", []byte(`
images:
  - name: api
    repository: ghcr.io/acme/api
    policy: {semver: ^1}
    verify: [{key: keys/api.pub}]
    fields: [{path: image.tag}]
environments:
  - {name: dev, path: envs/dev, source: registry, write: commit}
  - {name: prod, path: envs/prod, source: dev, write: pull-request, pullRequest: {title: "{{ .Environment }} please", labels: [prod]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	defaultPR := PullRequest{Title: DefaultTitle, Body: DefaultBody}
	prodPR := PullRequest{Title: "{{ .Environment }} please", Body: DefaultBody, Labels: []string{"prod"}}
	want := &Config{
		File: "ferry.yaml",
		Images: []Image{{
			Name: "api", Repository: "ghcr.io/acme/api", Policy: Policy{Semver: "^1"},
			Verify: []VerifyEntry{{Key: "keys/api.pub", Line: 6}},
			Pin:    PinTagDigest,
			Fields: []Field{{Path: "image.tag", Part: PartRef, Line: 7}},
			Line:   3,
		}},
		Environments: []Environment{
			{Name: "dev", Path: "envs/dev", Source: "registry", Write: WriteCommit, Line: 9},
			{Name: "prod", Path: "envs/prod", Source: "dev", Write: WritePullRequest, PullRequest: prodPR, Line: 10},
		},
		Git: Git{
			Branch:        "main",
			Author:        Person{Name: "ferry", Email: "ferry@users.noreply.github.com"},
			Committer:     Person{Name: "ferry", Email: "ferry@users.noreply.github.com"},
			CommitMessage: DefaultCommitMessage,
			PullRequest:   defaultPR,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

// TestCommitterDefaultsToAuthor checks the committer follows a configured author.
func TestCommitterDefaultsToAuthor(t *testing.T) {
	cfg, err := Parse("ferry.yaml", []byte("git: {author: Ops Bot <ops@example.com>}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Person{Name: "Ops Bot", Email: "ops@example.com"}
	if diff := cmp.Diff(want, cfg.Git.Committer); diff != "" {
		t.Errorf("committer (-want +got):\n%s", diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(fstest.MapFS{}, "ferry.yaml")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load(os.DirFS("../../examples"), "ferry.yaml")
	if err != nil {
		t.Fatalf("examples/ferry.yaml: %v", err)
	}
	if len(cfg.Images) == 0 || len(cfg.Environments) == 0 {
		t.Errorf("examples/ferry.yaml has %d images and %d environments, want some of each", len(cfg.Images), len(cfg.Environments))
	}
}
