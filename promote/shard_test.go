package promote_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/promotetest"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// TestWatchShards runs 4 watch shards in parallel against one bare config repo holding 40
// images: every image is handled by exactly one shard (the one its name's FNV-1a hash picks),
// the shards together cover all 40, and every shard's commit lands on a linear history.
func TestWatchShards(t *testing.T) {
	const (
		images = 40
		shards = 4
	)
	reg := registrytest.New(t)
	key, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// 40 images at 1.0.0 and 1.1.0, all signed; dev runs 1.0.0 of each, one file per image.
	var cfg strings.Builder
	cfg.WriteString("images:\n")
	files := map[string]string{}
	digest := map[string]string{} // image name → 1.1.0's digest
	var names []string
	for i := range images {
		img := fmt.Sprintf("svc%02d", i)
		names = append(names, img)
		repo := reg.Repo("shard/" + img)
		for _, tag := range []string{"1.0.0", "1.1.0"} {
			d := reg.PushRandom(t, "shard/"+img+":"+tag, registrytest.Image{})
			ref, err := name.NewDigest(repo + "@" + d)
			if err != nil {
				t.Fatal(err)
			}
			if err := sigtest.SignWithKey(ctx, ref, key, sigtest.WithRemoteOptions(reg.RemoteOptions()...)); err != nil {
				t.Fatal(err)
			}
			if tag == "1.1.0" {
				digest[img] = d
			}
		}
		fmt.Fprintf(&cfg, "  - name: %s\n    repository: %s\n    policy: {semver: \">=1.0.0\"}\n    verify: [{key: keys/cosign.pub}]\n", img, repo)
		files["envs/dev/"+img+".yaml"] = promotetest.Deployment(repo + ":1.0.0")
	}
	cfg.WriteString("environments:\n  - {name: dev, path: envs/dev, source: registry, write: commit}\ngit:\n  branch: main\n  author: ferry-test <ferry@example.test>\n")
	files["ferry.yaml"] = cfg.String()
	bare := seedRepo(t, files, key)
	seed := strings.TrimSpace(promotetest.Git(t, bare, "rev-parse", "main"))

	// Four shards at once, as a matrix job or an Indexed Job would run them.
	results := make([]*promote.Result, shards)
	errs := make([]error, shards)
	var wg sync.WaitGroup
	for i := range shards {
		opts := promote.Options{Repo: bare, RegistryOptions: []registry.Option{registry.WithCacheDir(t.TempDir())}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = promote.Watch(ctx, opts, promote.WatchOptions{Shard: i, Shards: shards})
		}()
	}
	wg.Wait()

	handledBy := map[string][]int{} // image → shards whose result changed it
	wantBy := map[string][]int{}    // image → the shard its name hashes to
	var commits []string
	for i, res := range results {
		if errs[i] != nil {
			t.Fatalf("shard %d/%d: %v", i, shards, errs[i])
		}
		if len(res.Skipped) != 0 {
			t.Errorf("shard %d skipped %+v", i, res.Skipped)
		}
		for _, c := range res.Changes {
			handledBy[c.Image] = append(handledBy[c.Image], i)
			if want := reg.Repo("shard/"+c.Image) + ":1.1.0@" + digest[c.Image]; c.To != want {
				t.Errorf("shard %d wrote %s = %s, want %s", i, c.Image, c.To, want)
			}
		}
		if len(res.Commits) != 1 {
			t.Fatalf("shard %d: commits %+v, want one (every shard holds images)", i, res.Commits)
		}
		commits = append(commits, res.Commits[0].SHA)
	}
	for _, img := range names {
		h := fnv.New32a()
		h.Write([]byte(img))
		wantBy[img] = []int{int(h.Sum32() % shards)}
	}
	if diff := cmp.Diff(wantBy, handledBy); diff != "" {
		t.Errorf("which shard handled each image (-want +got):\n%s", diff)
	}

	// Every shard's commit landed, on a linear history above the seed, none lost.
	history := strings.Fields(promotetest.Git(t, bare, "rev-list", "--first-parent", "main"))
	if diff := cmp.Diff(append(sortedCopy(commits), seed), append(sortedCopy(history[:len(history)-1]), history[len(history)-1])); diff != "" {
		t.Errorf("main's history (-want +got):\n%s", diff)
	}
	if merges := promotetest.Git(t, bare, "rev-list", "--merges", "main"); merges != "" {
		t.Errorf("history is not linear: merges %s", merges)
	}
	for _, img := range names {
		file := "envs/dev/" + img + ".yaml"
		if got := strings.Fields(promotetest.Git(t, bare, "log", "--format=%H", "main", "--", file)); len(got) != 2 {
			t.Errorf("%s changed by %d commits, want the seed and one shard's", file, len(got))
		}
		if got := promotetest.Git(t, bare, "show", "main:"+file); !strings.Contains(got, "1.1.0@"+digest[img]) {
			t.Errorf("%s on main:\n%s", file, got)
		}
	}

	// A second round of the shards has nothing to do.
	head := strings.TrimSpace(promotetest.Git(t, bare, "rev-parse", "main"))
	for i := range shards {
		res, err := promote.Watch(ctx, promote.Options{Repo: bare, RegistryOptions: []registry.Option{registry.WithCacheDir(t.TempDir())}},
			promote.WatchOptions{Shard: i, Shards: shards})
		if err != nil || len(res.Commits) != 0 || len(res.Changes) != 0 {
			t.Errorf("second round, shard %d: %+v, %v", i, res, err)
		}
	}
	if got := strings.TrimSpace(promotetest.Git(t, bare, "rev-parse", "main")); got != head {
		t.Errorf("second round moved main from %s to %s", head, got)
	}
}

// seedRepo commits files and the public key as a config repo and returns its bare clone.
func seedRepo(t *testing.T, files map[string]string, key *sigtest.KeyPair) string {
	t.Helper()
	seed := t.TempDir()
	for p, c := range files {
		full := filepath.Join(seed, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(seed, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := key.WritePublicKey(filepath.Join(seed, "keys", "cosign.pub")); err != nil {
		t.Fatal(err)
	}
	promotetest.Git(t, seed, "init", "-q", "-b", "main")
	promotetest.Git(t, seed, "add", "-A")
	promotetest.Git(t, seed, "-c", "user.name=seed", "-c", "user.email=seed@example.test", "commit", "-q", "-m", "seed")
	bare := filepath.Join(t.TempDir(), "config.git")
	promotetest.Git(t, "", "clone", "-q", "--bare", seed, bare)
	return bare
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
