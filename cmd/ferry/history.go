package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ferryhq/ferry/internal/mdtable"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/history"
)

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "every change to each environment's images, from the config repo's history, with DORA figures",
		Description: `Reads the first-parent history of git.branch (deepening the clone only as far as --since
needs) and reports one event per environment × image change: when, commit, author, how (bump,
watch, promote, rollback, or manual for a change without ferry's trailers), from → to, source,
signer and lead time; then per environment deployments, deployments per week, median lead
time, rollbacks, change failure rate and median time to restore.

Examples:
   ferry history
   ferry history --env prod --image api --since 30d
   ferry history --output markdown >> "$GITHUB_STEP_SUMMARY"
   ferry history --output html > history.html`,
		Flags: []cli.Flag{configFlag(), repoFlag(),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text, json, markdown or html", EnvVars: []string{"FERRY_OUTPUT"}},
			&cli.StringFlag{Name: "branch", Usage: "read this branch instead of git.branch", EnvVars: []string{"FERRY_BRANCH"}},
			&cli.StringFlag{Name: "env", Usage: "only this environment's events", EnvVars: []string{"FERRY_ENV"}},
			&cli.StringSliceFlag{Name: "image", Usage: "only this image's events (repeatable)", EnvVars: []string{"FERRY_IMAGE"}},
			&cli.StringFlag{Name: "since", Value: "90d", Usage: "how far back: a duration (90d, 2w, 36h) or a date (2026-01-31)", EnvVars: []string{"FERRY_SINCE"}},
		},
		Action: func(c *cli.Context) error {
			format, err := outputFormat(c, "text", "json", "markdown", "html")
			if err != nil {
				return err
			}
			since, err := parseSince(c.String("since"), time.Now())
			if err != nil {
				return usageError("--since: %v", err)
			}
			opts, err := pipelineOptions(c)
			if err != nil {
				return err
			}
			rep, err := promote.History(c.Context, opts, promote.HistoryOptions{
				Env: c.String("env"), Images: c.StringSlice("image"), Since: since,
			})
			if err != nil {
				return withHint(err)
			}
			return writeHistory(c.App.Writer, rep, format)
		},
	}
}

// writeHistory prints a history report in one of its formats.
func writeHistory(w io.Writer, rep *history.Report, format string) error {
	switch format {
	case "json":
		if rep.Events == nil {
			rep.Events = []history.Event{}
		}
		return writeJSON(w, rep)
	case "markdown":
		return writeHistoryMarkdown(w, rep)
	case "html":
		return rep.WriteHTML(w)
	}
	return rep.WriteText(w)
}

// writeHistoryMarkdown prints the summary and the events as markdown tables.
func writeHistoryMarkdown(w io.Writer, rep *history.Report) error {
	events, summary := rep.MarkdownTables()
	var b strings.Builder
	fmt.Fprintf(&b, "### Deployments since %s\n\n", rep.Since.UTC().Format(time.DateOnly))
	b.WriteString(mdtable.Table{Header: summary[0], Rows: summary[1:]}.String())
	b.WriteString("\n")
	if len(events) == 1 {
		b.WriteString("No changes to the environments' images in this window.\n")
	} else {
		b.WriteString(mdtable.Table{Header: events[0], Rows: events[1:]}.String())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// parseSince reads --since: a duration with d (days) and w (weeks) allowed, or a date.
func parseSince(s string, now time.Time) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if !t.Before(now) {
			return 0, fmt.Errorf("%s is not in the past", s)
		}
		return now.Sub(t), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if !t.Before(now) {
			return 0, fmt.Errorf("%s is not in the past", s)
		}
		return now.Sub(t), nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("%q: want a positive number of days or weeks (90d, 2w), a duration (36h) or a date (2026-01-31)", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive number of days or weeks (90d, 2w), a duration (36h) or a date (2026-01-31)", s)
	}
	return d, nil
}

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "put back the version ENV ran before (or the one named), re-verified",
		ArgsUsage: "ENV",
		Description: `For each image of ENV (or each --image), writes the version ENV ran before its current
one, passing over versions already rolled back (a second rollback steps back once more);
--steps N goes N changes back; --to TAG or --to DIGEST names the version, which must appear in
ENV's history or its source's. The digest is re-verified with today's verify entries: a refused
image is not written and the exit code is 3. Gates and policy ranges do not apply. The commit
(or the pull request on ferry/<env>/rollback, per ENV's write) carries Ferry-Rollback trailers,
and until a newer version arrives watch, bump and promote will not bring the version rolled
back from into ENV again.

Examples:
   ferry rollback prod
   ferry rollback prod --image api --to 1.3.0
   ferry rollback staging --steps 2 --dry-run`,
		Flags: append(pipelineFlags(),
			&cli.StringSliceFlag{Name: "image", Usage: "roll back only this image (repeatable)", EnvVars: []string{"FERRY_IMAGE"}},
			&cli.StringFlag{Name: "to", Usage: "go back to this tag or digest", EnvVars: []string{"FERRY_TO"}},
			&cli.IntFlag{Name: "steps", Usage: "go back this many changes (default 1)", EnvVars: []string{"FERRY_STEPS"}},
			&cli.StringFlag{Name: "since", Value: "90d", Usage: "how far back history is read (90d, 2w, 36h, or a date)", EnvVars: []string{"FERRY_SINCE"}},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("rollback: want one environment, e.g. ferry rollback prod")
			}
			if c.IsSet("to") && c.IsSet("steps") {
				return usageError("rollback: --to and --steps exclude each other")
			}
			if c.IsSet("steps") && c.Int("steps") < 1 {
				return usageError("rollback: --steps %d: want 1 or more", c.Int("steps"))
			}
			opts, err := pipelineOptions(c)
			if err != nil {
				return err
			}
			if opts.HistoryWindow, err = parseSince(c.String("since"), time.Now()); err != nil {
				return usageError("--since: %v", err)
			}
			res, err := promote.Rollback(c.Context, opts, c.Args().First(), promote.RollbackOptions{
				Images: c.StringSlice("image"), To: c.String("to"), Steps: c.Int("steps"),
			})
			return report(c, res, err)
		},
	}
}
