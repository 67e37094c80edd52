package manifests_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/manifests"
)

// TestParseCacheChangesNothing: for each golden tree, Find and Plan through one shared
// ParseCache give what they give without it, and so does Plan on the expected tree (the same
// paths with other bytes) through that cache afterwards: a file is never served for other
// bytes than its own.
func TestParseCacheChangesNothing(t *testing.T) {
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			var cache manifests.ParseCache
			for _, tree := range []string{"original", "expected", "original"} {
				fsys := os.DirFS(filepath.Join("..", "testdata", "manifests", tc.name, tree))
				opts := manifests.Options{FS: fsys, Path: tc.path, Images: tc.images, Environment: "dev"}
				wantRefs, findErr := manifests.Find(opts)
				want, planErr := manifests.Plan(opts)
				opts.Parsed = &cache
				gotRefs, err := manifests.Find(opts)
				if (err == nil) != (findErr == nil) {
					t.Fatalf("%s: Find with a cache: %v, without: %v", tree, err, findErr)
				}
				if diff := cmp.Diff(wantRefs, gotRefs); diff != "" {
					t.Errorf("%s: Find with a cache (-without +with):\n%s", tree, diff)
				}
				got, err := manifests.Plan(opts)
				if (err == nil) != (planErr == nil) {
					t.Fatalf("%s: Plan with a cache: %v, without: %v", tree, err, planErr)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: Plan with a cache (-without +with):\n%s", tree, diff)
				}
			}
		})
	}
}
