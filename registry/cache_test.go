package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/policy"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// newestBuildWorld pushes n images app:b-<i>, the last one built last.
func newestBuildWorld(t *testing.T, n int) (*registrytest.Server, string) {
	t.Helper()
	s := registrytest.New(t)
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		s.PushRandom(t, fmt.Sprintf("app:b-%d", i), registrytest.Image{Created: base.Add(time.Duration(i) * time.Hour)})
	}
	return s, fmt.Sprintf("b-%d", n-1)
}

func selectNewest(t *testing.T, s *registrytest.Server, dir string) *registry.Selection {
	t.Helper()
	c, err := registry.New(registry.WithCacheDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(context.Background(), registry.SelectOptions{Repository: s.Repo("app"), Policy: mustPolicy(t, policy.Spec{NewestBuild: true})})
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func packPath(dir, repo string) string {
	sum := sha256.Sum256([]byte(repo))
	return filepath.Join(dir, "v1", "repos", hex.EncodeToString(sum[:])+".json")
}

// A created-time scan writes what it learned once, as the repository's pack: no file per tag
// or digest. The next run reads it and asks only HEADs.
func TestCreatedScanWritesOnePack(t *testing.T) {
	s, newest := newestBuildWorld(t, 20)
	dir := t.TempDir()
	if got := selectNewest(t, s, dir).Chosen.Tag; got != newest {
		t.Fatalf("cold chose %s, want %s", got, newest)
	}
	rel, _ := filepath.Rel(dir, packPath(dir, s.Repo("app")))
	if diff := cmp.Diff([]string{filepath.ToSlash(rel)}, cacheFiles(t, dir)); diff != "" {
		t.Errorf("cache files after a cold scan (-want +got):\n%s", diff)
	}
	s.ResetCounts()
	if got := selectNewest(t, s, dir).Chosen.Tag; got != newest {
		t.Fatalf("warm chose %s, want %s", got, newest)
	}
	if diff := cmp.Diff(map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.TagList: 1, registrytest.ManifestHead: 20}, s.Counts()); diff != "" {
		t.Errorf("warm requests (-want +got):\n%s", diff)
	}
}

// A pack that cannot be read, or that belongs to another repository, is missing: the scan
// fetches again, chooses right, and leaves a pack that works.
func TestUnreadablePackIsMissing(t *testing.T) {
	s, newest := newestBuildWorld(t, 5)
	cold := map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.TagList: 1, registrytest.ManifestGet: 5, registrytest.BlobGet: 5}
	for name, content := range map[string]string{
		"torn":          `{"repository":"` + s.Repo("app") + `","tags":{"b-0":"sha256:`,
		"empty":         ``,
		"other repo":    `{"repository":"elsewhere/app","tags":{"b-0":"sha256:` + fmt.Sprintf("%064x", 1) + `"},"digests":{}}`,
		"malformed tag": `{"repository":"` + s.Repo("app") + `","tags":{"b-0":"sha256:nothex"},"digests":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := packPath(dir, s.Repo("app"))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			s.ResetCounts()
			if got := selectNewest(t, s, dir).Chosen.Tag; got != newest {
				t.Fatalf("chose %s, want %s", got, newest)
			}
			if diff := cmp.Diff(cold, s.Counts()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			s.ResetCounts()
			if got := selectNewest(t, s, dir).Chosen.Tag; got != newest {
				t.Fatalf("next run chose %s, want %s", got, newest)
			}
			if got := s.Count(registrytest.BlobGet); got != 0 {
				t.Errorf("next run fetched %d config blobs, want 0", got)
			}
		})
	}
}

// Runs sharing a cache at once each choose right, and what one writes does not cost the
// other's facts: afterwards a run needs no config blob.
func TestConcurrentScansShareACache(t *testing.T) {
	s, newest := newestBuildWorld(t, 12)
	dir := t.TempDir()
	var wg sync.WaitGroup
	p := mustPolicy(t, policy.Spec{NewestBuild: true})
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			c, err := registry.New(registry.WithCacheDir(dir))
			if err != nil {
				errs[i] = err
				return
			}
			sel, err := c.Select(context.Background(), registry.SelectOptions{Repository: s.Repo("app"), Policy: p})
			if err == nil && sel.Chosen.Tag != newest {
				err = fmt.Errorf("chose %s, want %s", sel.Chosen.Tag, newest)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
	s.ResetCounts()
	if got := selectNewest(t, s, dir).Chosen.Tag; got != newest {
		t.Fatalf("after the concurrent runs chose %s, want %s", got, newest)
	}
	if got := s.Count(registrytest.BlobGet) + s.Count(registrytest.ManifestGet); got != 0 {
		t.Errorf("after the concurrent runs: %d GETs, want 0", got)
	}
}
