package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/promote/promotetest"
)

// historyParser is the reference's parser: the Ferry-Image trailers of `git log --format=%B`,
// counted per environment (what a hand-written audit script does with the same history).
const historyParser = `awk '/^Ferry-Environment: /{env[$2]++} /^Ferry-Image: /{n++} END{for (e in env) k++; print n, k}'`

// benchHistory: ferry history over a generated config repo with a long history, against
// `git log --format=%B -- envs/` piped to a parser, on the bare repo itself and after a clone.
func benchHistory(e *env, fs *flag.FlagSet, args []string) (string, error) {
	commits := fs.Int("commits", 5000, "commits, each changing one image in one environment")
	envs := fs.Int("envs", 20, "environments")
	images := fs.Int("images", 50, "images (one file each per environment)")
	if err := e.setup(fs, args); err != nil {
		return "", err
	}
	bare := filepath.Join(e.work, "config.git")
	spec := promotetest.HistorySpec{Envs: *envs, Images: *images, Commits: *commits, Start: time.Now().Add(-80 * 24 * time.Hour)}
	changed, err := promotetest.HistoryRepo(bare, spec)
	if err != nil {
		return "", err
	}
	clone := filepath.Join(e.work, "clone.git")
	steps := []step{
		{Name: "git log | parser", Cmd: "git -C $REPO log --format=%B -- envs/ | " + historyParser,
			Note: "the bare repo on disk, nothing cloned",
			Run: func() (sample, error) {
				return measure(proc{Args: []string{"sh", "-c", `git -C "$0" log --format=%B -- envs/ | ` + historyParser, bare}})
			}},
		{Name: "git clone + log | parser", Cmd: "git clone -q --bare --no-local $REPO $W/clone.git && git -C $W/clone.git log --format=%B -- envs/ | " + historyParser,
			Note:    "what ferry does: a clone first",
			Prepare: func() error { return os.RemoveAll(clone) },
			Run: func() (sample, error) {
				return measure(proc{Args: []string{"sh", "-c", `git clone -q --bare --no-local "$0" "$1" && git -C "$1" log --format=%B -- envs/ | ` + historyParser, bare, clone}})
			}},
		{Name: "ferry history", Cmd: "ferry history --repo $REPO --output json",
			Note: "a shallow clone deepened to the 90-day window, every environment's trees compared, every changed file read",
			Run: func() (sample, error) {
				return measure(proc{Args: []string{e.ferry, "history", "--repo", bare, "--output", "json"}})
			},
			RSS: func() (int64, error) {
				return peakRSS(proc{Args: []string{e.ferry, "history", "--repo", bare, "--output", "json"}})
			}},
	}
	events, err := historyCheck(e, bare, changed+spec.Envs*spec.Images)
	if err != nil {
		return "", err
	}
	e.logf("history: %d commits, %d environments × %d images; ferry reports %d events", *commits, *envs, *images, events)
	r := &runner{Runs: e.runs, Warmup: true, Log: os.Stderr}
	if err := r.run(steps); err != nil {
		return "", err
	}

	var d doc
	e.header(&d, "History: `ferry history` against `git log` and a parser", "history")
	d.p("A bare config repo made with `git fast-import` (`promote/promotetest.HistoryRepo`): ferry.yaml with %d images and %d environments (a promotion chain), one Deployment file per image and environment (%s files), then %s commits over 80 days, each moving one image in one environment, nine in ten with ferry's trailers and one in ten by hand.",
		*images, *envs, fmtInt(*images**envs), fmtInt(*commits))
	d.p("ferry reports %s events (the seed's %s and one per commit) with their DORA summary; the reference only counts trailers, so it neither finds the hand edits nor checks a trailer against the tree. Whole processes, one warm-up round first.", fmtInt(events), fmtInt(spec.Envs*spec.Images))
	d.p("")
	base := r.stats("git log | parser").Wall
	var rows [][]string
	for _, st := range steps {
		x := r.stats(st.Name)
		rss := "-"
		if x.MaxRSSKB > 0 {
			rss = fmtMB(x.MaxRSSKB)
		}
		rows = append(rows, []string{st.Name, fmtDur(x.Wall), fmtDur(x.Min) + " – " + fmtDur(x.Max), fmtRatio(x.Wall, base), fmtDur(x.CPU), rss})
	}
	d.table([]string{"command", "median", "range", "/ git log", "CPU", "peak RSS"}, "lrrrrr", rows)
	x := r.stats("ferry history")
	d.p("**ferry history: %s wall, %s peak RSS** (issue 10's goals: under 1 s and under 100 MiB).", fmtDur(x.Wall), fmtMB(x.MaxRSSKB))
	d.p("")
	d.commands(steps)
	return d.String(), nil
}

// historyCheck runs ferry history once and checks it reports every change.
func historyCheck(e *env, bare string, want int) (int, error) {
	res, err := runProc(proc{Args: []string{e.ferry, "history", "--repo", bare, "--output", "json"}})
	if err != nil {
		return 0, err
	}
	var rep struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(res.Stdout.Bytes(), &rep); err != nil {
		return 0, fmt.Errorf("ferry history --output json: %w", err)
	}
	if len(rep.Events) != want {
		return 0, fmt.Errorf("ferry history reported %d events, want %d", len(rep.Events), want)
	}
	ref, err := runProc(proc{Args: []string{"sh", "-c", `git -C "$0" log --format=%B -- envs/ | ` + historyParser, bare}})
	if err != nil {
		return 0, err
	}
	if n, _ := strconv.Atoi(strings.Fields(ref.Stdout.String() + " 0")[0]); n == 0 {
		return 0, fmt.Errorf("the reference found no trailers: %q", ref.Stdout.String())
	}
	return len(rep.Events), nil
}
