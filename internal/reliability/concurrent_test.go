package reliability

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConcurrentBumps starts one `ferry bump` process per image at once, all writing the same
// file of the same bare repo, and checks that every change lands exactly once: the final file
// names every new version, main holds one commit per image on a linear history, the update
// hook saw no non-fast-forward, and every commit wrote only signed digests.
func TestConcurrentBumps(t *testing.T) {
	const images = 20
	for round := range iters(1, 5) {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			w := newWorld(t, worldOptions{images: images})
			seed := w.head()

			results := make([]run, images)
			var wg sync.WaitGroup
			for i, img := range w.images {
				wg.Go(func() {
					results[i] = ferry(t, nil, "bump", "--repo", w.bare, "--env", "dev", "--output", "json", w.repo(img)+":1.1.0")
				})
			}
			wg.Wait()
			for _, r := range results {
				if r.code != 0 {
					t.Errorf("a concurrent bump failed:\n%s", r)
				}
			}

			want := map[string]string{}
			for _, img := range w.images {
				want[img] = w.repo(img) + ":1.1.0@" + w.digest[img+":1.1.0"]
			}
			if diff := cmp.Diff(want, w.devImages("main")); diff != "" {
				t.Errorf("envs/dev after %d concurrent bumps (-want +got):\n%s", images, diff)
			}
			commits := strings.Fields(git(t, w.bare, "rev-list", seed+"..main"))
			if len(commits) != images {
				t.Errorf("main gained %d commits, want %d (one per bump)", len(commits), images)
			}
			// Each commit changes exactly one image: nothing was replayed over another's change.
			var touched []string
			for _, c := range commits {
				for _, l := range strings.Split(git(t, w.bare, "log", "-1", "--format=%(trailers:key=Ferry-Image,valueonly)", c), "\n") {
					if l = strings.TrimSpace(l); l != "" {
						img, _, _ := strings.Cut(l, "=")
						touched = append(touched, img)
					}
				}
			}
			if len(touched) != images {
				t.Errorf("Ferry-Image trailers name %d images, want %d: %v", len(touched), images, touched)
			}
			w.checkLinear()
			w.checkEveryCommitVerified()
			fsck(t, w.bare)
		})
	}
}
