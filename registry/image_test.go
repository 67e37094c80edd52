package registry_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

func TestPlatforms(t *testing.T) {
	s := registrytest.New(t)
	tests := []struct {
		name string
		repo string
		push func() string
		want []string
	}{
		{
			name: "multi-arch index, attestation left out, arm64/v8 normalised",
			repo: "multi",
			push: func() string {
				return s.PushIndex(t, "multi:1", "linux/amd64", "linux/arm64/v8", "linux/arm/v7", "unknown/unknown")
			},
			want: []string{"linux/amd64", "linux/arm64", "linux/arm/v7"},
		},
		{
			name: "single image reports its config's platform",
			repo: "single",
			push: func() string { return s.PushRandom(t, "single:1", registrytest.Image{Platform: "linux/arm64/v8"}) },
			want: []string{"linux/arm64"},
		},
		{
			name: "32-bit arm without variant means v7",
			repo: "arm",
			push: func() string { return s.PushRandom(t, "arm:1", registrytest.Image{Platform: "linux/arm"}) },
			want: []string{"linux/arm/v7"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dgst := tc.push()
			c := newClient(t)
			got, err := c.Platforms(context.Background(), s.Repo(tc.repo), dgst)
			if err != nil {
				t.Fatalf("Platforms: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Platforms (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizePlatform(t *testing.T) {
	tests := map[string]string{
		"linux/arm64/v8":  "linux/arm64",
		"linux/arm64":     "linux/arm64",
		"linux/aarch64":   "linux/arm64",
		"linux/x86_64":    "linux/amd64",
		"linux/amd64/v1":  "linux/amd64",
		"linux/amd64/v3":  "linux/amd64/v3",
		"linux/arm":       "linux/arm/v7",
		"linux/arm/6":     "linux/arm/v6",
		"Linux/ARM64/V8":  "linux/arm64",
		"windows/amd64":   "windows/amd64",
		"linux/s390x":     "linux/s390x",
		"linux/riscv64":   "linux/riscv64",
		"linux/arm/v5":    "linux/arm/v5",
		"darwin/arm64/v8": "darwin/arm64",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			got, err := registry.ParsePlatform(in)
			if err != nil {
				t.Fatalf("ParsePlatform(%q): %v", in, err)
			}
			if got != want {
				t.Errorf("ParsePlatform(%q) = %q, want %q", in, got, want)
			}
		})
	}
	for _, bad := range []string{"", "linux", "linux/", "/amd64", "linux/arm/v7/x", "linux/arm/"} {
		if _, err := registry.ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q): no error", bad)
		}
	}
}

func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm64/v8", "linux/arm", "a/b/c/d", "//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := registry.ParsePlatform(s)
		if err != nil {
			return
		}
		// Normalising is idempotent.
		again, err := registry.ParsePlatform(p)
		if err != nil || again != p {
			t.Fatalf("ParsePlatform(%q) = %q, then %q, %v", s, p, again, err)
		}
	})
}

func TestCreatedCachedAcrossClients(t *testing.T) {
	s := registrytest.New(t)
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	img := s.PushRandom(t, "app:1", registrytest.Image{Created: when})
	idx := s.PushIndex(t, "app:multi", "linux/amd64", "linux/arm64")
	dir := t.TempDir()
	ctx := context.Background()

	first, err := registry.New(registry.WithCacheDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	got, err := first.Created(ctx, s.Repo("app"), img)
	if err != nil {
		t.Fatalf("Created: %v", err)
	}
	if !got.Equal(when) {
		t.Errorf("Created = %v, want %v", got, when)
	}
	if _, err := first.Created(ctx, s.Repo("app"), idx); err != nil {
		t.Fatalf("Created of an index: %v", err)
	}
	if _, err := first.Platforms(ctx, s.Repo("app"), idx); err != nil {
		t.Fatalf("Platforms: %v", err)
	}
	if _, err := first.Platforms(ctx, s.Repo("app"), img); err != nil {
		t.Fatalf("Platforms: %v", err)
	}
	// image: manifest + config; index: index + first child manifest + its config.
	if diff := cmp.Diff(map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.ManifestGet: 3, registrytest.BlobGet: 2}, s.Counts()); diff != "" {
		t.Errorf("cold requests (-want +got):\n%s", diff)
	}

	s.ResetCounts()
	second, err := registry.New(registry.WithCacheDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	got2, err := second.Created(ctx, s.Repo("app"), img)
	if err != nil {
		t.Fatalf("Created (warm): %v", err)
	}
	if !got2.Equal(when) {
		t.Errorf("Created (warm) = %v, want %v", got2, when)
	}
	for _, d := range []string{img, idx} {
		if _, err := second.Platforms(ctx, s.Repo("app"), d); err != nil {
			t.Fatalf("Platforms (warm): %v", err)
		}
		if _, err := second.Created(ctx, s.Repo("app"), d); err != nil {
			t.Fatalf("Created (warm): %v", err)
		}
	}
	if n := s.Total(); n != 0 {
		t.Errorf("warm run made %d requests, want 0: %v", n, s.Requests())
	}
}

func TestDigest(t *testing.T) {
	s := registrytest.New(t)
	want := s.PushRandom(t, "app:1", registrytest.Image{})
	ctx := context.Background()

	t.Run("HEAD", func(t *testing.T) {
		s.ResetCounts()
		c := newClient(t)
		got, err := c.Digest(ctx, s.Ref("app:1"))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("Digest = %s, want %s", got, want)
		}
		if diff := cmp.Diff(map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.ManifestHead: 1}, s.Counts()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("GET when HEAD is not allowed", func(t *testing.T) {
		s.ResetCounts()
		s.Inject(registrytest.ManifestHead, registrytest.Fault{Status: 405})
		c := newClient(t)
		got, err := c.Digest(ctx, s.Ref("app:1"))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("Digest = %s, want %s", got, want)
		}
		if diff := cmp.Diff(map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.ManifestHead: 1, registrytest.ManifestGet: 1}, s.Counts()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("by digest needs no request", func(t *testing.T) {
		s.ResetCounts()
		c := newClient(t)
		got, err := c.Digest(ctx, s.Ref("app@"+want))
		if err != nil || got != want {
			t.Fatalf("Digest = %s, %v; want %s", got, err, want)
		}
		if n := s.Total(); n != 0 {
			t.Errorf("%d requests, want 0", n)
		}
	})
	t.Run("missing tag", func(t *testing.T) {
		c := newClient(t)
		if _, err := c.Digest(ctx, s.Ref("app:nope")); err == nil {
			t.Fatal("no error for a missing tag")
		}
	})
	t.Run("immutable tags cached", func(t *testing.T) {
		dir := t.TempDir()
		opts := []registry.Option{registry.WithCacheDir(dir), registry.WithHosts(registry.Host{Name: s.Host, ImmutableTags: true})}
		for run := range 2 {
			s.ResetCounts()
			c, err := registry.New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Digest(ctx, s.Ref("app:1"))
			if err != nil || got != want {
				t.Fatalf("run %d: Digest = %s, %v; want %s", run, got, err, want)
			}
			wantHeads := 1 - run
			if n := s.Count(registrytest.ManifestHead); n != wantHeads {
				t.Errorf("run %d: %d HEADs, want %d", run, n, wantHeads)
			}
		}
	})
}
