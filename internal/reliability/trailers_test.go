package reliability

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTrailersNameOnlyChanges: a commit's Ferry-Image trailers name exactly the images it
// changed. Status and soak gates read the newest trailer for an image as "when this version
// landed", so a trailer on a commit that did not change the image would restart its soak clock.
// Found by TestRegistryFaults (a fault made watch keep img00 at the version dev already ran).
func TestTrailersNameOnlyChanges(t *testing.T) {
	cases := []struct {
		name  string
		first []string // run first; it lands img00 1.1.0
		then  []string
		want  []string // images named by the second commit's trailers
	}{
		{name: "watch after a bump of one image", first: []string{"bump", "{{img00}}:1.1.0"}, then: []string{"watch"}, want: []string{"img01"}},
		{name: "bump of a running and a new version", first: []string{"bump", "{{img00}}:1.1.0"}, then: []string{"bump", "{{img00}}:1.1.0", "{{img01}}:1.1.0"}, want: []string{"img01"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, worldOptions{})
			expand := func(args []string) []string {
				out := []string{args[0], "--repo", w.bare, "--env", "dev"}
				if args[0] == "watch" {
					out = []string{"watch", "--repo", w.bare}
				}
				for _, a := range args[1:] {
					for _, img := range w.images {
						a = strings.ReplaceAll(a, "{{"+img+"}}", w.repo(img))
					}
					out = append(out, a)
				}
				return out
			}
			if r := ferry(t, nil, expand(c.first)...); r.code != 0 {
				t.Fatalf("first run:\n%s", r)
			}
			mid := w.head()
			if r := ferry(t, nil, expand(c.then)...); r.code != 0 {
				t.Fatalf("second run:\n%s", r)
			}
			var got []string
			for _, l := range strings.Split(git(t, w.bare, "log", "-1", "--format=%(trailers:key=Ferry-Image,valueonly)", "main"), "\n") {
				if img, _, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
					got = append(got, img)
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("images named by the second commit's Ferry-Image trailers (-want +got):\n%s", diff)
			}
			w.checkWholeCommits(mid)
		})
	}
}
