package ferry_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/config"
)

// pushIndex pushes a two-platform image index (linux/amd64, linux/arm64) as ref and returns
// its digest.
func pushIndex(t *testing.T, ref string) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.ImageIndex = empty.Index
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// copyExample copies an example config repo, pointing its images at host instead of ghcr.io.
func copyExample(t *testing.T, dir, host string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := strings.ReplaceAll(string(data), "ghcr.io/acme/", host+"/acme/")
		// Helm maps split the registry from the repository.
		s = strings.ReplaceAll(s, "registry: ghcr.io\n", "registry: "+host+"\n")
		return os.WriteFile(filepath.Join(dst, rel), []byte(s), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// bareRepoFromDir makes a bare repository whose main branch holds dir's files.
func bareRepoFromDir(t *testing.T, dir string) string {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "config.git")
	git(t, ".", "init", "--bare", "--initial-branch=main", bare)
	git(t, dir, "init", "--initial-branch=main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-m", "seed")
	git(t, dir, "push", bare, "main")
	return bare
}

// TestExamplesWatchDryRun runs each example config repo through `ferry watch --dry-run`
// against a loopback registry holding newer versions of its images: dev would move to them
// (every marked and unmarked field of both images), the later environments would not, and
// nothing is written. The images are signed with a key made here, which replaces the examples'
// keys/cosign.pub.
func TestExamplesWatchDryRun(t *testing.T) {
	ferry := buildFerry(t)
	host := testRegistry(t)
	key, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]string{}
	for _, ref := range []string{"acme/api:1.3.0", "acme/api:1.4.0", "acme/worker:117", "acme/worker:118"} {
		digests[ref] = pushIndex(t, host+"/"+ref)
		repo, _, _ := strings.Cut(ref, ":")
		signWithKey(t, host+"/"+repo, digests[ref], key)
	}
	newest := map[string]string{
		"api":    host + "/acme/api:1.4.0@" + digests["acme/api:1.4.0"],
		"worker": host + "/acme/worker:118@" + digests["acme/worker:118"],
	}

	for _, example := range exampleConfigRepos(t) {
		t.Run(example, func(t *testing.T) {
			dir := copyExample(t, example, host)
			// The examples verify with keys/cosign.pub: make it this test's key.
			if err := key.WritePublicKey(filepath.Join(dir, "keys", "cosign.pub")); err != nil {
				t.Fatal(err)
			}
			bare := bareRepoFromDir(t, dir)
			before := git(t, bare, "rev-parse", "main")

			cmd := exec.Command(ferry, "watch", "--dry-run", "--output", "json", "--repo", bare, "--cache-dir", t.TempDir())
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("ferry watch --dry-run: %v\n%s", err, stderr.String())
			}
			var res promote.Result
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("decoding %s: %v", out, err)
			}
			// A dry run lists the commits and pull requests it would make, with no SHA or URL.
			for _, c := range res.Commits {
				if c.SHA != "" {
					t.Errorf("a dry run reports a real commit: %+v", c)
				}
			}
			for _, pr := range res.PullRequests {
				if pr.URL != "" || pr.Number != 0 {
					t.Errorf("a dry run reports a real pull request: %+v", pr)
				}
			}
			if after := git(t, bare, "rev-parse", "main"); after != before {
				t.Errorf("a dry run pushed: main moved from %s to %s", before, after)
			}
			if res.Diff == "" {
				t.Errorf("no diff printed")
			}
			if len(res.Skipped) != 0 {
				t.Errorf("skipped: %+v", res.Skipped)
			}
			cfg, err := config.Load(os.DirFS(dir), "ferry.yaml")
			if err != nil {
				t.Fatal(err)
			}
			devPath := cfg.Environments[0].Path
			changed := map[string]bool{}
			for _, c := range res.Changes {
				if c.Environment != "dev" || !strings.HasPrefix(c.File, devPath+"/") {
					t.Errorf("a change outside dev's %s: %+v", devPath, c)
					continue
				}
				changed[c.Image] = true
				// A field gets the whole reference or the part its rule or marker names.
				ref := newest[c.Image]
				named, digest, _ := strings.Cut(ref, "@")
				i := strings.LastIndex(named, ":")
				repo, tag := named[:i], named[i+1:]
				if !slices.Contains([]string{ref, repo, tag, digest, strings.TrimPrefix(repo, host+"/"), `"` + tag + `"`}, c.To) {
					t.Errorf("%s %s:%d %s: to %q, want a part of %s", c.Image, c.File, c.Line, c.Field, c.To, ref)
				}
			}
			for img := range newest {
				if !changed[img] {
					t.Errorf("dev would not get the newest %s; changes: %+v", img, res.Changes)
				}
			}
		})
	}
}
