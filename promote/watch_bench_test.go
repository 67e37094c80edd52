package promote_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/promotetest"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// BenchmarkWatch runs one `watch --once` update cycle in process over n images × 3
// environments (the world of `scripts/bench.sh watch`): each image has 1.0.0, 1.1.0 and a
// newer signed 1.2.0; every environment runs 1.0.0, so each cycle picks, verifies and writes
// 1.2.0 everywhere in three commits. The config repo is reset and the cache emptied before
// each cycle. The registry serves from the same process, so its CPU counts here too: read the
// per-image cost as an upper bound, and the ratio of the two sizes as the figure.
func BenchmarkWatch(b *testing.B) {
	reg := registrytest.New(b)
	key, err := sigtest.NewKeyPair()
	if err != nil {
		b.Fatal(err)
	}
	const most = 200
	for i := range most {
		repo := fmt.Sprintf("acme/img-%03d", i)
		old := reg.PushRandom(b, repo+":1.0.0", registrytest.Image{})
		reg.Tag(b, repo, old, "1.1.0")
		d, err := name.NewDigest(reg.Ref(repo + "@" + reg.PushRandom(b, repo+":1.2.0", registrytest.Image{})))
		if err != nil {
			b.Fatal(err)
		}
		if err := sigtest.SignWithKey(context.Background(), d, key, sigtest.WithRemoteOptions(reg.RemoteOptions()...), sigtest.WithoutTlog()); err != nil {
			b.Fatal(err)
		}
	}
	for _, n := range []int{1, most} {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) {
			bare, seed := watchWorld(b, reg.Host, key, n)
			cache := filepath.Join(b.TempDir(), "cache")
			opts := promote.Options{Repo: bare, RegistryOptions: []registry.Option{registry.WithCacheDir(cache)}}
			for b.Loop() {
				b.StopTimer()
				promotetest.Git(b, bare, "update-ref", "refs/heads/main", seed)
				if err := os.RemoveAll(cache); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := promote.Watch(context.Background(), opts, promote.WatchOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Commits) != 3 || len(res.Changes) != 3*n {
					b.Fatalf("%d commits and %d changes, want 3 and %d; skipped %v", len(res.Commits), len(res.Changes), 3*n, res.Skipped)
				}
			}
		})
	}
}

// watchWorld seeds a bare config repo whose ferry.yaml names n of the images, used by dev,
// staging and prod (one Deployment per image each, at 1.0.0); it returns the repo and its
// first commit.
func watchWorld(b *testing.B, host string, key *sigtest.KeyPair, n int) (bare, seed string) {
	dir := b.TempDir()
	var y strings.Builder
	y.WriteString("images:\n")
	for i := range n {
		fmt.Fprintf(&y, "  - name: img-%03d\n    repository: %s/acme/img-%03d\n    policy:\n      semver: \">=1.0.0\"\n    verify:\n      - key: keys/bench.pub\n", i, host, i)
	}
	y.WriteString("environments:\n")
	files := map[string]string{"README.md": "watch benchmark\n"}
	for _, env := range []string{"dev", "staging", "prod"} {
		fmt.Fprintf(&y, "  - name: %s\n    path: envs/%s\n    source: registry\n    write: commit\n", env, env)
		for i := range n {
			files[fmt.Sprintf("envs/%s/img-%03d.yaml", env, i)] = promotetest.Deployment(fmt.Sprintf("%s/acme/img-%03d:1.0.0", host, i))
		}
	}
	y.WriteString("git:\n  branch: main\n  author: ferry-bench <bench@example.test>\n")
	files["ferry.yaml"] = y.String()
	files["keys/.keep"] = ""
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := key.WritePublicKey(filepath.Join(dir, "keys", "bench.pub")); err != nil {
		b.Fatal(err)
	}
	promotetest.Git(b, dir, "init", "-q", "-b", "main")
	promotetest.Git(b, dir, "add", "-A")
	promotetest.Git(b, dir, "-c", "user.name=seed", "-c", "user.email=seed@example.test", "commit", "-q", "-m", "seed")
	bare = filepath.Join(b.TempDir(), "config.git")
	promotetest.Git(b, "", "clone", "-q", "--bare", dir, bare)
	return bare, strings.TrimSpace(promotetest.Git(b, bare, "rev-parse", "main"))
}
