// Command benchtool runs the side-by-side benchmarks behind `make bench` (scripts/bench.sh) and
// writes their sections of docs/benchmarks.md. Each subcommand builds its own world (a
// registry on loopback from registry/registrytest, generated trees, bare Git repos), checks that
// every command in it does what it should, runs the commands interleaved round by round and
// prints a markdown section with medians, ratios and the command lines.
//
//	benchtool tags         [-runs 21] [-tags 5000] [-listing link|registry] [-ferry-env K=V]
//	benchtool newest-build [-runs 5] [-tags 500]
//	benchtool set-image    [-runs 3] [-overlays 2000]
//	benchtool watch        [-runs 5] [-images 200]
//	benchtool history      [-runs 5] [-commits 5000] [-envs 20] [-images 50]
//	benchtool splice -doc docs/benchmarks.md NAME=FILE...
//	benchtool serve -dir DIR [-tags 5000] [-listing link|registry]   (or with no subcommand)
//	benchtool naive-scan REPO
//
// Common flags: -ferry (default bin/ferry), -tools (default $FERRY_TOOLS_DIR or .tools/bin),
// -out FILE (default stdout). Progress goes to stderr.
//
// serve only starts the tag benchmark's registry (one image under N semver tags plus "seed",
// signed cosign-2 style, the key in DIR/cosign.pub), prints the repository and serves until
// stdin closes, for measuring by hand. naive-scan is the baseline of newest-build: list the
// tags, then fetch every tag's manifest and config blob, one after another, and print the tag
// built last.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// env is what every benchmark subcommand shares.
type env struct {
	ferry string // bin/ferry
	tools string // crane, kustomize
	self  string // this program, for naive-scan
	runs  int
	work  string
	t     *tb
}

func (e *env) tool(name string) (string, error) {
	p := filepath.Join(e.tools, name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found in %s: run `make tools`, or set -tools", name, e.tools)
	}
	return p, nil
}

func (e *env) logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

type section func(e *env, fs *flag.FlagSet, args []string) (string, error)

var sections = map[string]struct {
	runs int
	fn   section
}{
	"tags":         {21, benchTags},
	"newest-build": {5, benchNewestBuild},
	"set-image":    {3, benchSetImage},
	"watch":        {5, benchWatch},
	"history":      {5, benchHistory},
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: benchtool tags|newest-build|set-image|watch|history|splice|serve|naive-scan [flags]")
	}
	if strings.HasPrefix(args[0], "-") {
		// The first benchtool took serve's flags alone; scripts/bench-bump.sh still calls it so.
		return serve(args)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(args)
	case "naive-scan":
		return naiveScan(args)
	case "splice":
		fs := flag.NewFlagSet("splice", flag.ContinueOnError)
		path := fs.String("doc", "docs/benchmarks.md", "the document to update")
		if err := fs.Parse(args); err != nil {
			return err
		}
		return spliceFiles(*path, fs.Args())
	}
	sec, ok := sections[cmd]
	if !ok {
		return fmt.Errorf("unknown subcommand %q", cmd)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	tools := os.Getenv("FERRY_TOOLS_DIR")
	if tools == "" {
		tools = ".tools/bin"
	}
	e := &env{t: &tb{}}
	fs.StringVar(&e.ferry, "ferry", "bin/ferry", "the ferry binary")
	fs.StringVar(&e.tools, "tools", tools, "directory of crane and kustomize")
	fs.IntVar(&e.runs, "runs", sec.runs, "recorded runs of each command (medians)")
	out := fs.String("out", "", "write the markdown section here (default stdout)")
	defer e.t.cleanup()

	// Each section adds its own flags, then parses.
	body, err := sec.fn(e, fs, args)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if *out == "" {
		_, err = os.Stdout.WriteString(body)
		return err
	}
	return os.WriteFile(*out, []byte(body), 0o644)
}

// setup parses the flags and makes paths absolute and the work directory.
func (e *env) setup(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	for _, p := range []*string{&e.ferry, &e.tools} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if _, err := os.Stat(e.ferry); err != nil {
		return fmt.Errorf("ferry binary: %w (make build)", err)
	}
	if e.self, err = os.Executable(); err != nil {
		return err
	}
	e.work = e.t.TempDir()
	return nil
}

// header is the first lines of every section: where and when it was measured, and how to
// measure it again.
func (e *env) header(d *doc, title, name string) {
	d.p("## %s", title)
	d.p("")
	d.p("Reproduce: `scripts/bench.sh %s` (this section alone; `RUNS=N` for another run count), or `make bench` for every section.", name)
	d.p("Measured %s on %d cores, load average %s at the start; commit %s, %s. Figures are medians of %d runs, commands interleaved round by round.",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), loadAvg(), commit(), runtime.Version(), e.runs)
	d.p("")
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// commit names the checked-out commit, "-dirty" when files other than docs/ differ from it
// (the run itself rewrites docs/benchmarks.md).
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs").Output(); err == nil && len(st) > 0 {
		c += "-dirty"
	}
	return "`" + c + "`"
}
