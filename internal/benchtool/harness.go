package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/ferryhq/ferry/internal/mdtable"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// A sample is what one timed run of a step cost.
type sample struct {
	Wall     time.Duration
	CPU      time.Duration // user + system, of every process the step ran
	Requests int           // registry requests, when the step talks to the harness's registry
}

// A step is one command line measured in every round.
type step struct {
	Name string
	// Cmd is the command line shown in the docs, with $REPO, $W (the work dir) and the like
	// standing for values that change per run.
	Cmd string
	// Note follows the command line in the docs (what happens around it).
	Note string
	// Prepare runs before each run of the step, untimed (fresh cache dir, reset repo).
	Prepare func() error
	// Run runs the step once and measures it.
	Run func() (sample, error)
	// RSS, when set, is run once after the rounds and returns the peak resident set in KB
	// (peakRSS). It is measured apart because the timed runs are children of this process,
	// whose own memory Linux counts into a child's peak until the child execs.
	RSS func() (int64, error)
}

// runner runs steps interleaved round by round, so that load on a shared machine hits every
// step alike, and keeps each step's samples.
type runner struct {
	Runs   int
	Warmup bool // one unrecorded round first
	// Requests, when set, reads and resets the registry's request count around each run.
	Requests func() int
	// Kinds, when set, describes the requests of a run by kind; the last round's is kept.
	Kinds func() string
	Reset func()
	Log   io.Writer

	samples map[string][]sample
	rss     map[string]int64
	kinds   map[string]string
}

// warmRunner runs e.runs rounds after one warm-up round, counting the requests at s by kind.
func warmRunner(e *env, s *registrytest.Server) *runner {
	return &runner{Runs: e.runs, Warmup: true, Requests: s.Total, Reset: s.ResetCounts, Log: os.Stderr,
		Kinds: func() string { return kindsString(s.Counts()) }}
}

// runDelayed runs steps with every request at s delayed by latency, as by a registry farther
// away: at most 3 rounds, no warm-up, requests counted.
func runDelayed(e *env, s *registrytest.Server, latency time.Duration, steps []step) (*runner, error) {
	s.SetLatency(latency)
	defer s.SetLatency(0)
	slow := &runner{Runs: min(e.runs, 3), Requests: s.Total, Reset: s.ResetCounts, Log: os.Stderr}
	if err := slow.run(steps); err != nil {
		return nil, err
	}
	return slow, nil
}

func (r *runner) run(steps []step) error {
	r.samples = map[string][]sample{}
	r.kinds = map[string]string{}
	first := 1
	if r.Warmup {
		first = 0
	}
	for round := first; round <= r.Runs; round++ {
		for _, s := range steps {
			if s.Prepare != nil {
				if err := s.Prepare(); err != nil {
					return fmt.Errorf("%s: preparing: %w", s.Name, err)
				}
			}
			if r.Reset != nil {
				r.Reset()
			}
			smp, err := s.Run()
			if err != nil {
				return fmt.Errorf("%s (round %d): %w", s.Name, round, err)
			}
			if r.Requests != nil {
				smp.Requests = r.Requests()
			}
			if r.Kinds != nil && round > 0 {
				r.kinds[s.Name] = r.Kinds()
			}
			if round == 0 {
				continue
			}
			r.samples[s.Name] = append(r.samples[s.Name], smp)
			if r.Log != nil {
				fmt.Fprintf(r.Log, "  round %d %-22s %9.1f ms %6d requests\n", round, s.Name, ms(smp.Wall), smp.Requests)
			}
		}
	}
	r.rss = map[string]int64{}
	for _, s := range steps {
		if s.RSS == nil {
			continue
		}
		if s.Prepare != nil {
			if err := s.Prepare(); err != nil {
				return fmt.Errorf("%s: preparing: %w", s.Name, err)
			}
		}
		kb, err := s.RSS()
		if err != nil {
			return fmt.Errorf("%s: peak RSS: %w", s.Name, err)
		}
		r.rss[s.Name] = kb
	}
	return nil
}

// stats are the medians of a step's samples (each metric on its own) and the wall-time range.
type stats struct {
	Wall, Min, Max time.Duration
	CPU            time.Duration
	MaxRSSKB       int64
	Requests       int
	Kinds          string
	N              int
}

func (r *runner) stats(name string) stats {
	ss := r.samples[name]
	var walls, cpus []time.Duration
	var reqs []int
	for _, s := range ss {
		walls = append(walls, s.Wall)
		cpus = append(cpus, s.CPU)
		reqs = append(reqs, s.Requests)
	}
	st := stats{Wall: median(walls), CPU: median(cpus), MaxRSSKB: r.rss[name], Requests: median(reqs), Kinds: r.kinds[name], N: len(ss)}
	if len(walls) > 0 {
		st.Min, st.Max = slices.Min(walls), slices.Max(walls)
	}
	return st
}

// median returns the middle value (the lower of the two middle ones for an even count), or
// zero for none.
func median[T int | int64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// proc is a command to run and measure.
type proc struct {
	Args  []string
	Dir   string
	Env   []string // added to the harness's environment
	Stdin io.Reader
}

// result of one process: its output and resource use.
type procResult struct {
	Stdout, Stderr bytes.Buffer
	Wall, CPU      time.Duration
}

// runProc runs p to completion; a non-zero exit is an error carrying its stderr.
func runProc(p proc) (*procResult, error) {
	res := &procResult{}
	cmd := exec.Command(p.Args[0], p.Args[1:]...)
	cmd.Dir = p.Dir
	if len(p.Env) > 0 {
		cmd.Env = append(os.Environ(), p.Env...)
	}
	cmd.Stdin = p.Stdin
	cmd.Stdout, cmd.Stderr = &res.Stdout, &res.Stderr
	start := time.Now()
	err := cmd.Run()
	res.Wall = time.Since(start)
	if cmd.ProcessState != nil {
		// User and system time include the descendants the process waited for.
		res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w: %s", strings.Join(p.Args, " "), err, lastLines(res.Stderr.String(), 5))
	}
	return res, nil
}

// measure runs procs one after another and sums them into one sample.
func measure(procs ...proc) (sample, error) {
	var s sample
	start := time.Now()
	for _, p := range procs {
		r, err := runProc(p)
		if err != nil {
			return s, err
		}
		s.CPU += r.CPU
	}
	s.Wall = time.Since(start)
	return s, nil
}

// timeBin is Debian's GNU time, which reports the peak resident set of what it runs (and of
// that command's descendants).
const timeBin = "/usr/bin/time"

// peakRSS runs each of procs under GNU time and returns the largest peak resident set, in KB.
func peakRSS(procs ...proc) (int64, error) {
	if _, err := os.Stat(timeBin); err != nil {
		return 0, fmt.Errorf("%s not found (apt-get install time)", timeBin)
	}
	f, err := os.CreateTemp("", "benchtool-rss-")
	if err != nil {
		return 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	var peak int64
	for _, p := range procs {
		p.Args = append([]string{timeBin, "-f", "%M", "-o", f.Name()}, p.Args...)
		if _, err := runProc(p); err != nil {
			return 0, err
		}
		b, err := os.ReadFile(f.Name())
		if err != nil {
			return 0, err
		}
		var kb int64
		if _, err := fmt.Sscan(lastLines(string(b), 1), &kb); err != nil {
			return 0, fmt.Errorf("reading %s's output %q: %w", timeBin, b, err)
		}
		peak = max(peak, kb)
	}
	return peak, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtDur prints a duration in ms below 10 s, else in s, with three significant figures.
func fmtDur(d time.Duration) string {
	switch m := ms(d); {
	case m >= 10000:
		return fmt.Sprintf("%.1f s", m/1000)
	case m >= 1000:
		return fmt.Sprintf("%.2f s", m/1000)
	case m >= 100:
		return fmt.Sprintf("%.0f ms", m)
	case m >= 10:
		return fmt.Sprintf("%.1f ms", m)
	default:
		return fmt.Sprintf("%.2f ms", m)
	}
}

func fmtRatio(a, b time.Duration) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

// goal says how the ratio a/b stands against a goal of at most limit: "1.18× (goal ≤ 1.2×:
// met)".
func goal(a, b time.Duration, limit float64) string {
	verdict := "met"
	if b == 0 || float64(a)/float64(b) > limit {
		verdict = "missed"
	}
	return fmt.Sprintf("%s (goal ≤ %.2g×: %s)", fmtRatio(a, b), limit, verdict)
}

func fmtMB(kb int64) string {
	if kb == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f MB", float64(kb)/1024)
}

// fmtInt prints n with thousands separators (1,234).
func fmtInt(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + fmtInt(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// doc builds a markdown section.
type doc struct{ bytes.Buffer }

func (d *doc) p(format string, args ...any) { fmt.Fprintf(d, format+"\n", args...) }

// table writes a markdown table; align has one letter per column, l (left) or r (right).
func (d *doc) table(header []string, align string, rows [][]string) {
	t := mdtable.Table{Header: header, Rows: rows}
	for _, a := range align {
		if a == 'r' {
			t.Align = append(t.Align, mdtable.Right)
		} else {
			t.Align = append(t.Align, mdtable.Left)
		}
	}
	d.WriteString(t.String() + "\n")
}

// commands lists each step's command line.
func (d *doc) commands(steps []step) {
	for _, s := range steps {
		if s.Note != "" {
			d.p("- %s: `%s` (%s)", s.Name, s.Cmd, s.Note)
		} else {
			d.p("- %s: `%s`", s.Name, s.Cmd)
		}
	}
	d.p("")
}
