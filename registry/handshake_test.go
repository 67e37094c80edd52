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
