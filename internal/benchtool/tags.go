package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// tagsRegistry starts a registry with one image under n semver tags (1.0.0 … 1.49.99 for
// 5,000) plus "seed", signed cosign-2 style with a new key written to dir/cosign.pub.
func tagsRegistry(t *tb, dir string, n int, listing string) (*registrytest.Server, error) {
	s := registrytest.New(t)
	switch listing {
	case "link":
		s.SetTagListing(registrytest.ListingLink, 1000)
	case "registry":
		s.SetTagListing(registrytest.ListingRegistry, 0)
	default:
		return nil, fmt.Errorf("-listing %q: want link or registry", listing)
	}
	dgst := s.PushRandom(t, "app:seed", registrytest.Image{})
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("1.%d.%d", i/100, i%100)
	}
	s.Tag(t, "app", dgst, tags...)

	key, err := sigtest.NewKeyPair()
	if err != nil {
		return nil, err
	}
	if err := key.WritePublicKey(filepath.Join(dir, "cosign.pub")); err != nil {
		return nil, err
	}
	ref, err := name.NewDigest(s.Repo("app") + "@" + dgst)
	if err != nil {
		return nil, err
	}
	if err := sigtest.SignWithKey(context.Background(), ref, key, sigtest.WithRemoteOptions(s.RemoteOptions()...)); err != nil {
		return nil, fmt.Errorf("signing %s: %w", ref, err)
	}
	s.ResetCounts()
	return s, nil
}

// serve is the tag benchmark's registry alone, for measuring by hand.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory for cosign.pub (required)")
	n := fs.Int("tags", 5000, "number of semver tags")
	listing := fs.String("listing", "link", "tag-list paging: link (pages of 1,000 with Link) or registry (go-containerregistry's, no Link)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("-dir is required")
	}
	t := &tb{}
	defer t.cleanup()
	s, err := tagsRegistry(t, *dir, *n, *listing)
	if err != nil {
		return err
	}
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

// benchTags: ferry tags (semver, the winner verified) against crane ls on 5,001 tags.
func benchTags(e *env, fs *flag.FlagSet, args []string) (string, error) {
	n := fs.Int("tags", 5000, "number of semver tags")
	listing := fs.String("listing", "link", "tag-list paging: link or registry")
	ferryEnv := fs.String("ferry-env", "", "K=V environment for the ferry runs only (e.g. GOGC=off)")
	if err := e.setup(fs, args); err != nil {
		return "", err
	}
	crane, err := e.tool("crane")
	if err != nil {
		return "", err
	}
	s, err := tagsRegistry(e.t, e.work, *n, *listing)
	if err != nil {
		return "", err
	}
	repo := s.Repo("app")
	var fenv []string
	if *ferryEnv != "" {
		fenv = strings.Fields(*ferryEnv)
	}
	cache := filepath.Join(e.work, "cache")
	pub := filepath.Join(e.work, "cosign.pub")
	one := func(name, shown string, args []string, env []string) step {
		p := proc{Args: args, Env: env}
		return step{Name: name, Cmd: shown,
			Run: func() (sample, error) { return measure(p) },
			RSS: func() (int64, error) { return peakRSS(p) }}
	}
	steps := []step{
		one("list", "crane ls $REPO", []string{crane, "ls", repo}, nil),
		one("select", "ferry tags $REPO --semver '>=1.0.0' --cache-dir $W/cache", []string{e.ferry, "tags", repo, "--semver", ">=1.0.0", "--cache-dir", cache}, fenv),
		one("select-verify", "ferry tags $REPO --semver '>=1.0.0' --key $W/cosign.pub --cache-dir $W/cache", []string{e.ferry, "tags", repo, "--semver", ">=1.0.0", "--key", pub, "--cache-dir", cache}, fenv),
		one("crane-start", "crane version", []string{crane, "version"}, nil),
		one("ferry-start", "ferry version", []string{e.ferry, "version"}, fenv),
	}

	// Check once that each tool says what it should.
	lr, err := runProc(proc{Args: []string{crane, "ls", repo}})
	if err != nil {
		return "", err
	}
	listed := strings.Count(lr.Stdout.String(), "\n")
	fr, err := runProc(proc{Args: []string{e.ferry, "tags", repo, "--semver", ">=1.0.0", "--key", pub, "--cache-dir", cache}, Env: fenv})
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(fr.Stdout.String(), "\n")
	if f := strings.Fields(first); len(f) > 0 {
		first = f[0] // tag@digest; the rest names the key file
	}
	want := fmt.Sprintf("1.%d.%d", (*n-1)/100, (*n-1)%100)
	if !strings.Contains(first, want) {
		return "", fmt.Errorf("ferry tags chose %q, want %s", first, want)
	}
	e.logf("tags: %s, %d tags, crane ls lists %d; ferry: %s", repo, *n+1, listed, first)

	r := &runner{Runs: e.runs, Warmup: true, Requests: s.Total, Reset: s.ResetCounts, Log: os.Stderr}
	if err := r.run(steps); err != nil {
		return "", err
	}

	var d doc
	e.header(&d, "Tag selection: `ferry tags` against `crane ls`", "tags")
	d.p("go-containerregistry's registry on loopback (`registry/registrytest`), one image under %s semver tags plus `seed`, signed cosign-2 style with a new key (so %s tags with the `.sig` tag).", fmtInt(*n), fmtInt(*n+2))
	if *listing == "link" {
		d.p("Tag lists come in pages of 1,000 with a `Link` header, as distribution and Docker Hub send them, so both tools list every tag (crane ls printed %s).", fmtInt(listed))
	} else {
		d.p("Tag lists are go-containerregistry's own pages (no `Link` header): crane ls printed %s tags, ferry keeps asking until a page brings nothing new.", fmtInt(listed))
	}
	d.p("ferry chose `%s` and verified it with the key. Whole processes, start included; one warm-up round first.", first)
	if *ferryEnv != "" {
		d.p("ferry ran with `%s`.", *ferryEnv)
	}
	d.p("")
	base := r.stats("list").Wall
	var rows [][]string
	for _, st := range steps {
		x := r.stats(st.Name)
		rows = append(rows, []string{st.Name, fmtDur(x.Wall), fmtDur(x.Min) + " – " + fmtDur(x.Max), fmtRatio(x.Wall, base), fmtDur(x.CPU), fmtMB(x.MaxRSSKB), fmtInt(x.Requests)})
	}
	d.table([]string{"command", "median", "range", "/ list", "CPU", "peak RSS", "requests"}, "lrrrrrr", rows)
	fStart, cStart := r.stats("ferry-start").Wall, r.stats("crane-start").Wall
	d.p("**Issue 14: select-verify / list %s; ferry-start / crane-start %s.** Process start alone: ferry %s, crane %s.",
		goal(r.stats("select-verify").Wall, base, 1.2), goal(fStart, cStart, 1.5), fmtDur(fStart), fmtDur(cStart))
	d.p("")
	d.commands(steps)
	return d.String(), nil
}
