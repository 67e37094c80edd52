package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferryhq/ferry/registry/registrytest"
)

// benchNewestBuild: ferry tags --newest-build (cold and warm cache) against scans that fetch
// every tag's config blob, counting the requests at the registry.
func benchNewestBuild(e *env, fs *flag.FlagSet, args []string) (string, error) {
	n := fs.Int("tags", 500, "number of tags, each a distinct image")
	latency := fs.Duration("latency", 10*time.Millisecond, "per-request delay of the second, shorter measurement (0: none)")
	if err := e.setup(fs, args); err != nil {
		return "", err
	}
	if _, err := e.tool("crane"); err != nil {
		return "", err
	}
	s := registrytest.New(e.t)
	s.SetTagListing(registrytest.ListingLink, 1000)
	winner := pushBuilds(e, s, *n)
	repo := s.Repo("app")
	e.logf("newest-build: %s, %d images, newest build %s", repo, *n, winner)

	steps, err := newestBuildSteps(e, repo, winner)
	if err != nil {
		return "", err
	}
	r := warmRunner(e, s)
	if err := r.run(steps); err != nil {
		return "", err
	}
	// The same without the crane loop, every request delayed as by a registry farther away.
	var slow *runner
	if *latency > 0 {
		if slow, err = runDelayed(e, s, *latency, steps[1:]); err != nil {
			return "", err
		}
	}
	return newestBuildDoc(e, *n, *latency, winner, r, slow, steps), nil
}

// pushBuilds pushes n distinct images app:build-NNN whose created times are a permutation of
// the tag order, so neither the first nor the last tag by name is the newest build; it
// returns the newest build's tag.
func pushBuilds(e *env, s *registrytest.Server, n int) (winner string) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		rank := (i * 7919) % n // 7919 is prime, so this is a permutation when n has no factor 7919
		tag := fmt.Sprintf("build-%03d", i)
		s.PushRandom(e.t, "app:"+tag, registrytest.Image{Created: start.Add(time.Duration(rank) * time.Minute)})
		if rank == n-1 {
			winner = tag
		}
	}
	return winner
}

// newestBuildSteps are the crane loop, the Go scan and ferry with a cold and a warm cache,
// each first checked to pick winner (which also fills the warm cache).
func newestBuildSteps(e *env, repo, winner string) ([]step, error) {
	cold := filepath.Join(e.work, "cold")
	warm := filepath.Join(e.work, "warm")
	script := `for t in $(crane ls "$REPO"); do printf '%s %s\n' "$(crane config "$REPO:$t" | grep -o '"created":"[^"]*"' | head -1)" "$t"; done | sort -r | head -1`
	shell := proc{Args: []string{"bash", "-c", script}, Env: []string{"REPO=" + repo, "PATH=" + e.tools + ":" + os.Getenv("PATH")}}
	naive := proc{Args: []string{e.self, "naive-scan", repo}}
	ferryCold := proc{Args: []string{e.ferry, "tags", repo, "--newest-build", "--cache-dir", cold}}
	ferryWarm := proc{Args: []string{e.ferry, "tags", repo, "--newest-build", "--cache-dir", warm}}
	for _, p := range []proc{shell, naive, ferryWarm} {
		r, err := runProc(p)
		if err != nil {
			return nil, err
		}
		first, _, _ := strings.Cut(r.Stdout.String(), "\n")
		if !strings.Contains(first, winner) {
			return nil, fmt.Errorf("%s chose %q, want %s", p.Args[0], first, winner)
		}
	}
	fresh := func() error {
		if err := os.RemoveAll(cold); err != nil {
			return err
		}
		return os.MkdirAll(cold, 0o755)
	}
	return []step{
		{Name: "naive-crane", Cmd: script, Run: func() (sample, error) { return measure(shell) }, RSS: func() (int64, error) { return peakRSS(shell) }},
		{Name: "naive-go", Cmd: "benchtool naive-scan $REPO", Run: func() (sample, error) { return measure(naive) }, RSS: func() (int64, error) { return peakRSS(naive) }},
		{Name: "ferry-cold", Cmd: "ferry tags $REPO --newest-build --cache-dir $W/cold", Note: "emptied before each run", Prepare: fresh, Run: func() (sample, error) { return measure(ferryCold) }, RSS: func() (int64, error) { return peakRSS(ferryCold) }},
		{Name: "ferry-warm", Cmd: "ferry tags $REPO --newest-build --cache-dir $W/warm", Note: "filled by an earlier run", Run: func() (sample, error) { return measure(ferryWarm) }, RSS: func() (int64, error) { return peakRSS(ferryWarm) }},
	}, nil
}

// newestBuildDoc is the section: the setup, the table of r's runs, the request counts, and
// with slow (nil without latency) the same with every request delayed.
func newestBuildDoc(e *env, n int, latency time.Duration, winner string, r, slow *runner, steps []step) string {
	var d doc
	e.header(&d, "`newest-build` over 500 tags: requests and time", "newest-build")
	d.p("%s tags `build-000` … on go-containerregistry's registry on loopback, each a distinct image whose config `created` time is a permutation of the tag order; the newest build is `%s`, and every command below picked it (checked before timing).", fmtInt(n), winner)
	d.p("The baselines fetch every config blob: `naive-crane` is the shell loop a user would write (one `crane config` process per tag), `naive-go` one process with go-containerregistry (`remote.List`, then `remote.Image` and `ConfigFile` per tag, one after another, on one reused puller).")
	d.p("ferry looks created times up 8 at a time and caches them by digest; `ferry-cold` starts with an empty cache each run, `ferry-warm` with the cache a previous run left. One warm-up round first.")
	d.p("")
	base := r.stats("naive-go")
	var rows [][]string
	for _, st := range steps {
		x := r.stats(st.Name)
		rows = append(rows, []string{st.Name, fmtInt(x.Requests), x.Kinds, fmtDur(x.Wall), fmtDur(x.Min) + " – " + fmtDur(x.Max), fmtRatio(x.Wall, base.Wall), fmtDur(x.CPU), fmtMB(x.MaxRSSKB)})
	}
	d.table([]string{"command", "requests", "by kind", "median", "range", "/ naive-go", "CPU", "peak RSS"}, "lrlrrrrr", rows)
	fc, fw := r.stats("ferry-cold"), r.stats("ferry-warm")
	d.p("Requests: ferry cold %s (%.1f per tag), warm %s (%.1f per tag), against %s for the Go scan (%.1f per tag). On loopback a request costs well under a millisecond, so the time above is mostly CPU and disk; against a registry farther away the request count, divided by the concurrency, becomes the wall time.",
		fmtInt(fc.Requests), float64(fc.Requests)/float64(n), fmtInt(fw.Requests), float64(fw.Requests)/float64(n), fmtInt(base.Requests), float64(base.Requests)/float64(n))
	d.p("")
	d.p("**Issue 14: ferry-cold CPU / naive-go CPU %s.**", goal(fc.CPU, base.CPU, 1.5))
	d.p("")
	if slow != nil {
		d.p("The same three commands with every request delayed by %s at the registry (a registry farther away; medians of %d runs, no warm-up, no crane loop):", latency, slow.Runs)
		d.p("")
		sb := slow.stats("naive-go")
		rows = nil
		for _, st := range steps[1:] {
			x := slow.stats(st.Name)
			rows = append(rows, []string{st.Name, fmtInt(x.Requests), fmtDur(x.Wall), fmtDur(x.Min) + " – " + fmtDur(x.Max), fmtRatio(x.Wall, sb.Wall)})
		}
		d.table([]string{"command, " + latency.String() + " per request", "requests", "median", "range", "/ naive-go"}, "lrrrr", rows)
		d.p("**Issue 14: ferry-cold / naive-go with %s per request %s.**", latency, goal(slow.stats("ferry-cold").Wall, sb.Wall, 0.15))
		d.p("")
	}
	d.commands(steps)
	return d.String()
}

func kindsString(m map[registrytest.Kind]int) string {
	var parts []string
	for _, k := range []registrytest.Kind{registrytest.Ping, registrytest.TagList, registrytest.ManifestHead, registrytest.ManifestGet, registrytest.BlobHead, registrytest.BlobGet, registrytest.Referrers, registrytest.Other} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", fmtInt(m[k]), k))
		}
	}
	return strings.Join(parts, ", ")
}

// naiveScan lists a repository's tags and fetches every tag's manifest and config blob, one
// after another, then prints the tag whose image was built last.
func naiveScan(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: benchtool naive-scan REPO")
	}
	repo, err := name.NewRepository(args[0])
	if err != nil {
		return err
	}
	// One puller for every request, so the registry is pinged (and auth negotiated) once.
	puller, err := remote.NewPuller()
	if err != nil {
		return err
	}
	tags, err := remote.List(repo, remote.Reuse(puller))
	if err != nil {
		return err
	}
	var best string
	var newest time.Time
	for _, t := range tags {
		img, err := remote.Image(repo.Tag(t), remote.Reuse(puller))
		if err != nil {
			return fmt.Errorf("%s:%s: %w", repo, t, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return fmt.Errorf("%s:%s: config: %w", repo, t, err)
		}
		if best == "" || cf.Created.After(newest) {
			best, newest = t, cf.Created.Time
		}
	}
	fmt.Printf("%s %s\n", best, newest.Format(time.RFC3339))
	return nil
}
