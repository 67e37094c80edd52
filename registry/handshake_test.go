package registry_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/policy"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// Selecting and verifying an image pings the registry once: the verifier reuses the client's
// handshake for the repository (RemoteOptionsFor) instead of making its own.
func TestSelectWithVerifierShakesHandsOnce(t *testing.T) {
	ctx := context.Background()
	s := registrytest.New(t)
	key, err := sigtest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	if err := key.WritePublicKey(pub); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		d := s.PushRandom(t, "app:"+v, registrytest.Image{})
		ref, err := name.NewDigest(s.Repo("app") + "@" + d)
		if err != nil {
			t.Fatal(err)
		}
		if err := sigtest.SignWithKey(ctx, ref, key, sigtest.WithRemoteOptions(s.RemoteOptions()...), sigtest.WithoutTlog()); err != nil {
			t.Fatal(err)
		}
	}
	c, err := registry.New(registry.WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	v, err := registry.NewVerifier([]registry.VerifyEntry{{Key: pub}},
		registry.WithRemoteOptions(c.RemoteOptions(ctx)...), registry.WithRemoteOptionsFor(c.RemoteOptionsFor))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.New(policy.Spec{Semver: "^1"})
	if err != nil {
		t.Fatal(err)
	}
	s.ResetCounts()
	sel, err := c.Select(ctx, registry.SelectOptions{Repository: s.Repo("app"), Policy: p, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Chosen == nil || sel.Chosen.Tag != "1.1.0" || sel.Chosen.Signer == "" {
		t.Fatalf("chosen = %+v", sel.Chosen)
	}
	if got := s.Count(registrytest.Ping); got != 1 {
		t.Errorf("pings = %d, want 1 (counts %v)", got, s.Counts())
	}
}

// Selecting images of several repositories of one registry pings it once: the ping's answer
// is the registry's (pingMemo), and each repository still gets its own transport.
func TestSelectPingsEachRegistryOnce(t *testing.T) {
	ctx := context.Background()
	s := registrytest.New(t)
	repos := []string{"a/api", "a/worker", "b/web"}
	want := map[string]string{}
	for _, r := range repos {
		s.PushRandom(t, r+":1.0.0", registrytest.Image{})
		want[r] = s.PushRandom(t, r+":1.1.0", registrytest.Image{})
	}
	c, err := registry.New(registry.WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.New(policy.Spec{Semver: "^1"})
	if err != nil {
		t.Fatal(err)
	}
	s.ResetCounts()
	for _, r := range repos {
		sel, err := c.Select(ctx, registry.SelectOptions{Repository: s.Repo(r), Policy: p})
		if err != nil {
			t.Fatal(err)
		}
		if sel.Chosen == nil || sel.Chosen.Tag != "1.1.0" || sel.Chosen.Digest != want[r] {
			t.Errorf("%s: chosen = %+v, want 1.1.0@%s", r, sel.Chosen, want[r])
		}
	}
	if got := s.Count(registrytest.Ping); got != 1 {
		t.Errorf("pings = %d, want 1 (counts %v)", got, s.Counts())
	}
	if got := s.Count(registrytest.TagList); got != len(repos) {
		t.Errorf("tag lists = %d, want %d (counts %v)", got, len(repos), s.Counts())
	}
}
