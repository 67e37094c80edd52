package registry

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkCacheWrite500 is what a cold created-time scan of 500 tags writes to the cache: a
// tag and a digest fact per tag, as one record file each (how every fact was written before
// packs, and how a fact learned on its own still is) or held in the repository's pack and
// written once.
func BenchmarkCacheWrite500(b *testing.B) {
	const repo = "registry.example/app"
	facts := digestFacts{MediaType: "application/vnd.oci.image.manifest.v1+json", Platforms: []string{"linux/amd64"}, HasPlatforms: true, Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), HasCreated: true}
	digest := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
	b.Run("records", func(b *testing.B) {
		for b.Loop() {
			c := &diskCache{dir: b.TempDir()}
			for i := range 500 {
				if err := c.mergeDigest(repo, digest(i), facts); err != nil {
					b.Fatal(err)
				}
				if err := c.writeTag(repo, fmt.Sprintf("build-%03d", i), digest(i)); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("pack", func(b *testing.B) {
		for b.Loop() {
			c := &diskCache{dir: b.TempDir()}
			end := c.batch(repo)
			for i := range 500 {
				if err := c.mergeDigest(repo, digest(i), facts); err != nil {
					b.Fatal(err)
				}
				if err := c.writeTag(repo, fmt.Sprintf("build-%03d", i), digest(i)); err != nil {
					b.Fatal(err)
				}
			}
			if err := end(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
