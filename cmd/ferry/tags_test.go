package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

func TestTagsCommand(t *testing.T) {
	s := registrytest.New(t)
	s.PushRandom(t, "app:1.0.0", registrytest.Image{})
	s.PushIndex(t, "app:1.1.0", "linux/amd64", "linux/arm64")
	d3 := s.PushRandom(t, "app:1.2.0", registrytest.Image{})
	s.Tag(t, "app", d3, "latest")
	repo := s.Repo("app")

	// A second repository whose tags are all signed with a key made here, by cosign's own code.
	key, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "cosign.pub")
	if err := key.WritePublicKey(keyPath); err != nil {
		t.Fatal(err)
	}
	s1 := s.PushRandom(t, "signed:1.0.0", registrytest.Image{})
	s2 := s.PushIndex(t, "signed:1.1.0", "linux/amd64", "linux/arm64")
	s3 := s.PushRandom(t, "signed:1.2.0", registrytest.Image{})
	s.Tag(t, "signed", s3, "latest")
	for _, d := range []string{s1, s2, s3} {
		ref, err := name.NewDigest(s.Repo("signed") + "@" + d)
		if err != nil {
			t.Fatal(err)
		}
		if err := sigtest.SignWithKey(context.Background(), ref, key,
			sigtest.WithRemoteOptions(s.RemoteOptions()...), sigtest.WithoutTlog()); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("json without verification", func(t *testing.T) {
		code, out, errOut := runCLI(t, "tags", repo, "--semver", "^1", "--ignore", "latest", "--cache-dir", t.TempDir(), "--output", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got tagsJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		want := tagsJSON{
			Chosen: &registry.Chosen{Tag: "1.2.0", Digest: d3},
			Candidates: []tagVerdict{
				{Tag: "1.1.0", Verdict: "older", Reason: "older", Detail: "older than 1.2.0"},
				{Tag: "1.0.0", Verdict: "older", Reason: "older", Detail: "older than 1.2.0"},
				{Tag: "latest", Verdict: "rejected", Reason: "ignored", Detail: `matches ignore glob "latest"`},
			},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ferry tags (-want +got):\n%s", diff)
		}
	})

	t.Run("text with platforms and verification", func(t *testing.T) {
		code, out, errOut := runCLI(t, "tags", s.Repo("signed"), "--ignore", "latest", "--platform", "linux/arm64/v8", "--key", keyPath, "--cache-dir", t.TempDir())
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if want := "1.1.0@" + s2 + "  signed by key " + keyPath; lines[0] != want {
			t.Errorf("first line %q, want %q", lines[0], want)
		}
		var rows []string
		for _, l := range lines[1:] {
			rows = append(rows, strings.Join(strings.Fields(l), " "))
		}
		want := []string{
			"1.2.0 passed-over platform does not serve linux/arm64 (serves linux/amd64)",
			"1.0.0 older older older than 1.1.0",
			`latest rejected ignored matches ignore glob "latest"`,
		}
		sigs := []string{s1, s2, s3}
		sort.Strings(sigs)
		for _, d := range sigs {
			want = append(want, strings.Replace(d, ":", "-", 1)+".sig rejected signature-tag a cosign signature tag")
		}
		if diff := cmp.Diff(want, rows); diff != "" {
			t.Errorf("other tags (-want +got):\n%s", diff)
		}
	})

	t.Run("nothing qualifies: exit 1 with the reasons", func(t *testing.T) {
		code, out, errOut := runCLI(t, "tags", repo, "--semver", "^1", "--key", keyPath, "--cache-dir", t.TempDir(), "-o", "json")
		if code != exitError {
			t.Fatalf("exit %d, want %d", code, exitError)
		}
		var got tagsJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if got.Chosen != nil || len(got.Candidates) != 4 {
			t.Errorf("got %+v", got)
		}
		if !strings.Contains(errOut, "3 refused (3 unsigned)") {
			t.Errorf("stderr lacks the reasons: %s", errOut)
		}
	})
}

func TestTagsUsage(t *testing.T) {
	tests := map[string][]string{
		"no repo":        {"tags"},
		"two repos":      {"tags", "a", "b"},
		"two kinds":      {"tags", "r.example/app", "--semver", "^1", "--numerical", "asc"},
		"bad regexp":     {"tags", "r.example/app", "--allow", "("},
		"bad constraint": {"tags", "r.example/app", "--semver", "not a range"},
		"bad order":      {"tags", "r.example/app", "--alphabetical", "sideways"},
		"bad platform":   {"tags", "r.example/app", "--platform", "linux"},
		"bad output":     {"tags", "r.example/app", "--output", "yaml"},
		"bad repo":       {"tags", "R.Example/App With Spaces"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(t, append(args, "--cache-dir", t.TempDir())...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (%s)", code, exitUsage, errOut)
			}
		})
	}
}
