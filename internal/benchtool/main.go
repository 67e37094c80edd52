// Command benchtool serves the registry that scripts/bench-tags.sh measures against: the
// registrytest wrapper around go-containerregistry's in-memory registry, seeded with one image
// under N semver tags (1.0.0 … 1.49.99 for 5,000) plus "seed", that image signed cosign-2 style
// with a fresh key, and the public key written to DIR/cosign.pub.
//
//	benchtool -dir DIR [-tags 5000] [-listing link|registry]
//
// It prints the repository (host:port/app) on stdout once ready, serves until stdin closes or
// it is interrupted, then prints the request counts by kind on stderr. -listing link (default)
// pages tag lists by 1,000 with a Link header, as distribution and Docker Hub do, so that every
// client sees every tag; -listing registry is go-containerregistry's own behaviour (full pages,
// no Link), on which crane ls lists only the first 1,000 tags.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/registry/registrytest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "directory for cosign.pub (required)")
	n := flag.Int("tags", 5000, "number of semver tags")
	listing := flag.String("listing", "link", "tag-list paging: link (pages of 1,000 with Link) or registry (go-containerregistry's, no Link)")
	flag.Parse()
	if *dir == "" {
		return fmt.Errorf("-dir is required")
	}
	t := &tb{}
	defer t.cleanup()
	s := registrytest.New(t)
	switch *listing {
	case "link":
		s.SetTagListing(registrytest.ListingLink, 1000)
	case "registry":
		s.SetTagListing(registrytest.ListingRegistry, 0)
	default:
		return fmt.Errorf("-listing %q: want link or registry", *listing)
	}
	dgst := s.PushRandom(t, "app:seed", registrytest.Image{})
	tags := make([]string, *n)
	for i := range tags {
		tags[i] = fmt.Sprintf("1.%d.%d", i/100, i%100)
	}
	s.Tag(t, "app", dgst, tags...)

	key, err := sigtest.NewKeyPair()
	if err != nil {
		return err
	}
	if err := key.WritePublicKey(filepath.Join(*dir, "cosign.pub")); err != nil {
		return err
	}
	ref, err := name.NewDigest(s.Repo("app") + "@" + dgst)
	if err != nil {
		return err
	}
	if err := sigtest.SignWithKey(context.Background(), ref, key); err != nil {
		return fmt.Errorf("signing %s: %w", ref, err)
	}
	s.ResetCounts()
	fmt.Println(s.Repo("app"))

	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-done:
	case <-sig:
	}
	fmt.Fprintf(os.Stderr, "requests: %d %v\n", s.Total(), s.Counts())
	return nil
}

// tb is the part of testing.TB that registrytest uses, for a program. The embedded interface
// is never called: every method registrytest calls is defined here.
type tb struct {
	testing.TB
	cleanups []func()
}

func (t *tb) Helper()          {}
func (t *tb) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }
func (t *tb) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchtool: "+format+"\n", args...)
	t.cleanup()
	os.Exit(1)
}
func (t *tb) Fatal(args ...any) { t.Fatalf("%s", fmt.Sprint(args...)) }
func (t *tb) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func (t *tb) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}
