package registry_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// newClient returns a client with its own cache directory.
func newClient(t testing.TB, opts ...registry.Option) *registry.Client {
	t.Helper()
	c, err := registry.New(append([]registry.Option{registry.WithCacheDir(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	return c
}

// seedTags pushes one image to repo and points n tags at it: 1.0.0, 1.0.1, … (as many as asked).
func seedTags(t testing.TB, s *registrytest.Server, repo string, n int) []string {
	t.Helper()
	dgst := s.PushRandom(t, repo+":seed", registrytest.Image{})
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("1.%d.%d", i/100, i%100)
	}
	s.Tag(t, repo, dgst, tags...)
	return append(tags, "seed")
}

func TestTagsPagination(t *testing.T) {
	tests := []struct {
		name     string
		listing  registrytest.TagListing
		pageCap  int
		tags     int
		pageSize int
		// wantLists is the number of tag-list requests.
		wantLists int
	}{
		// go-containerregistry's registry: full pages without Link. 5,001 tags (with "seed") in
		// pages of 1,000: five full pages, then a short sixth that ends the listing.
		{name: "ggcr registry, more than 1000 tags", listing: registrytest.ListingRegistry, tags: 5000, pageSize: 1000, wantLists: 6},
		// Exactly one full page: asking after the final tag brings nothing new (ggcr answers the
		// first page again), which ends the listing.
		{name: "ggcr registry, exactly one full page", listing: registrytest.ListingRegistry, tags: 999, pageSize: 1000, wantLists: 2},
		{name: "ggcr registry, short page", listing: registrytest.ListingRegistry, tags: 3, pageSize: 1000, wantLists: 1},
		// Debian's distribution ignores n and last: the second page repeats the first.
		{name: "ignores n and last", listing: registrytest.ListingIgnoresPaging, tags: 5000, pageSize: 1000, wantLists: 2},
		{name: "ignores n and last, few tags", listing: registrytest.ListingIgnoresPaging, tags: 10, pageSize: 1000, wantLists: 1},
		// Link headers, pages capped at 100 although 1,000 were asked: 5,001 tags in 51 pages.
		{name: "link header", listing: registrytest.ListingLink, pageCap: 100, tags: 5000, pageSize: 1000, wantLists: 51},
		{name: "link header, small pages asked", listing: registrytest.ListingLink, pageCap: 1000, tags: 250, pageSize: 100, wantLists: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := registrytest.New(t)
			s.SetTagListing(tc.listing, tc.pageCap)
			want := seedTags(t, s, "app", tc.tags)
			c := newClient(t, registry.WithPageSize(tc.pageSize))

			got, err := c.Tags(context.Background(), s.Repo("app"))
			if err != nil {
				t.Fatalf("Tags: %v", err)
			}
			slices.Sort(got)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if n := s.Count(registrytest.TagList); n != tc.wantLists {
				t.Errorf("tag-list requests = %d, want %d", n, tc.wantLists)
			}
		})
	}
}

func TestTagsErrors(t *testing.T) {
	s := registrytest.New(t)
	c := newClient(t)
	_, err := c.Tags(context.Background(), s.Repo("missing"))
	if err == nil {
		t.Fatal("Tags of a missing repository: no error")
	}
	if _, err := c.Tags(context.Background(), "Not A Repo"); err == nil {
		t.Fatal("Tags of a malformed repository: no error")
	}
}
