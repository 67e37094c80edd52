package registry_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ferryhq/ferry/policy"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// Benchmarks run against go-containerregistry's registry on loopback. Each iteration uses a new
// Client (a new process would), so the ping is included; the cache directory is shared unless
// the benchmark says cold.

func seed5000(b *testing.B) (*registrytest.Server, string) {
	b.Helper()
	s := registrytest.New(b)
	seedTags(b, s, "app", 5000)
	return s, s.Repo("app")
}

// BenchmarkTags5000 lists 5,001 tags (six pages of n=1000, no Link header).
func BenchmarkTags5000(b *testing.B) {
	s, repo := seed5000(b)
	dir := b.TempDir()
	ctx := context.Background()
	s.ResetCounts()
	for b.Loop() {
		c, err := registry.New(registry.WithCacheDir(dir))
		if err != nil {
			b.Fatal(err)
		}
		tags, err := c.Tags(ctx, repo)
		if err != nil || len(tags) != 5001 {
			b.Fatalf("Tags: %d, %v", len(tags), err)
		}
	}
	b.ReportMetric(float64(s.Total())/float64(b.N), "requests/op")
}

// BenchmarkSelect5000 lists 5,001 tags, ranks them with a semver policy and resolves the
// winner's digest (one HEAD). Verification is not included: the lead adds the cosign verifier
// at merge; this measures a nil verifier.
func BenchmarkSelect5000(b *testing.B) {
	s, repo := seed5000(b)
	dir := b.TempDir()
	ctx := context.Background()
	p, err := policy.New(policy.Spec{Semver: ">=1.0.0 <2"})
	if err != nil {
		b.Fatal(err)
	}
	s.ResetCounts()
	for b.Loop() {
		c, err := registry.New(registry.WithCacheDir(dir))
		if err != nil {
			b.Fatal(err)
		}
		sel, err := c.Select(ctx, registry.SelectOptions{Repository: repo, Policy: p})
		if err != nil || sel.Chosen.Tag != "1.49.99" {
			b.Fatalf("Select: %+v, %v", sel, err)
		}
	}
	b.ReportMetric(float64(s.Total())/float64(b.N), "requests/op")
}

// BenchmarkNewestBuild500 selects by created time among 500 distinct images: cold (empty cache:
// HEAD, manifest and config per tag) and warm (the list and one HEAD per tag).
func BenchmarkNewestBuild500(b *testing.B) {
	s := registrytest.New(b)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 500 {
		s.PushRandom(b, fmt.Sprintf("app:build-%03d", i), registrytest.Image{Created: base.Add(time.Duration(i) * time.Minute)})
	}
	p, err := policy.New(policy.Spec{NewestBuild: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run := func(b *testing.B, dir string) {
		c, err := registry.New(registry.WithCacheDir(dir))
		if err != nil {
			b.Fatal(err)
		}
		sel, err := c.Select(ctx, registry.SelectOptions{Repository: s.Repo("app"), Policy: p})
		if err != nil || sel.Chosen.Tag != "build-499" {
			b.Fatalf("Select: %+v, %v", sel, err)
		}
	}
	b.Run("cold", func(b *testing.B) {
		s.ResetCounts()
		for b.Loop() {
			run(b, b.TempDir())
		}
		b.ReportMetric(float64(s.Total())/float64(b.N), "requests/op")
	})
	b.Run("warm", func(b *testing.B) {
		dir := b.TempDir()
		run(b, dir)
		s.ResetCounts()
		for b.Loop() {
			run(b, dir)
		}
		b.ReportMetric(float64(s.Total())/float64(b.N), "requests/op")
	})
	b.Run("warm-immutable-tags", func(b *testing.B) {
		dir := b.TempDir()
		imm := registry.WithHosts(registry.Host{Name: s.Host, ImmutableTags: true})
		c, err := registry.New(registry.WithCacheDir(dir), imm)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Select(ctx, registry.SelectOptions{Repository: s.Repo("app"), Policy: p}); err != nil {
			b.Fatal(err)
		}
		s.ResetCounts()
		for b.Loop() {
			c, err := registry.New(registry.WithCacheDir(dir), imm)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Select(ctx, registry.SelectOptions{Repository: s.Repo("app"), Policy: p}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(s.Total())/float64(b.N), "requests/op")
	})
}
