package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ferryhq/ferry/internal/mdtable"
	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/history"
)

// githubReportCommand is the GitHub Action's last step: it turns the JSON a ferry command
// printed into step outputs ($GITHUB_OUTPUT) and a job summary ($GITHUB_STEP_SUMMARY). It is
// hidden: only action.yml calls it.
func githubReportCommand() *cli.Command {
	return &cli.Command{
		Name:   "github-report",
		Usage:  "write a run's JSON result as GitHub Actions outputs and a job summary",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "result", Usage: "the file holding ferry's --output json", Required: true},
			&cli.StringFlag{Name: "command", Usage: "the ferry command that printed the result (for the summary's title)"},
			&cli.IntFlag{Name: "exit-code", Usage: "ferry's exit code (for the summary)"},
		},
		Action: func(c *cli.Context) error {
			data, err := os.ReadFile(c.String("result"))
			if err != nil {
				return fmt.Errorf("github-report: reading the result: %w", err)
			}
			rep, err := parseReport(data)
			if err != nil {
				return fmt.Errorf("github-report: %s: %w", c.String("result"), err)
			}
			rep.Command = c.String("command")
			rep.ExitCode = c.Int("exit-code")
			if path := os.Getenv("GITHUB_OUTPUT"); path != "" {
				if err := appendFile(path, func(w io.Writer) error { return rep.writeOutputs(w, randomDelimiter) }); err != nil {
					return fmt.Errorf("github-report: writing $GITHUB_OUTPUT: %w", err)
				}
			}
			if path := os.Getenv("GITHUB_STEP_SUMMARY"); path != "" {
				if err := appendFile(path, rep.writeSummary); err != nil {
					return fmt.Errorf("github-report: writing $GITHUB_STEP_SUMMARY: %w", err)
				}
			}
			return nil
		},
	}
}

// actionReport is any object a ferry command prints with --output json: a run result
// (bump, watch, promote), a status matrix, a verify verdict or a tags decision. Fields a
// command does not print stay empty.
type actionReport struct {
	promote.Result

	// status
	Environments []struct {
		Name   string `json:"name"`
		Images []struct {
			Image    string `json:"image"`
			Tag      string `json:"tag"`
			Digest   string `json:"digest"`
			Verified bool   `json:"verified"`
			Behind   int    `json:"behind"`
			Note     string `json:"note,omitempty"`
		} `json:"images"`
	} `json:"environments"`

	// history
	Events  []history.Event   `json:"events"`
	Summary []history.Summary `json:"summary"`
	Since   time.Time         `json:"since"`

	// verify
	Ref      string `json:"ref"`
	Digest   string `json:"digest"`
	Verified *bool  `json:"verified"`
	Signer   string `json:"signer"`
	Reason   string `json:"reason"`

	// tags
	Chosen *struct {
		Tag    string `json:"tag"`
		Digest string `json:"digest"`
		Signer string `json:"signer"`
	} `json:"chosen"`
	Candidates []struct {
		Tag     string `json:"tag"`
		Verdict string `json:"verdict"`
		Reason  string `json:"reason"`
	} `json:"candidates"`

	Command  string `json:"-"`
	ExitCode int    `json:"-"`
}

// parseReport decodes ferry's JSON output. An empty input (ferry failed before printing) is a
// report of nothing, so that the outputs are still set.
func parseReport(data []byte) (*actionReport, error) {
	rep := &actionReport{}
	if len(bytes.TrimSpace(data)) == 0 {
		return rep, nil
	}
	if err := json.Unmarshal(data, rep); err != nil {
		return nil, fmt.Errorf("decoding ferry's JSON output: %w", err)
	}
	return rep, nil
}

// changed reports whether the run wrote anything: a commit or a pull request. A dry run's
// changes count too, so that a workflow can branch on what would happen.
func (r *actionReport) changed() bool {
	return len(r.Commits) > 0 || len(r.PullRequests) > 0 || len(r.Changes) > 0
}

// writeOutputs writes the step outputs in the multi-line form `name<<DELIM`, value, `DELIM`,
// with a delimiter that does not occur in the value.
func (r *actionReport) writeOutputs(w io.Writer, delim func() (string, error)) error {
	commits := r.Commits
	if commits == nil {
		commits = []promote.Commit{}
	}
	prs := r.PullRequests
	if prs == nil {
		prs = []promote.PullRequest{}
	}
	skipped := r.Skipped
	if skipped == nil {
		skipped = []promote.Skip{}
	}
	changes := r.Changes
	if changes == nil {
		changes = []manifests.Change{}
	}
	outputs := []struct {
		name  string
		value any
	}{
		{"changed", r.changed()},
		{"changes", changes},
		{"commits", commits},
		{"pull-requests", prs},
		{"skipped", skipped},
	}
	for _, o := range outputs {
		v, err := json.Marshal(o.value)
		if err != nil {
			return err
		}
		d, err := delim()
		if err != nil {
			return err
		}
		if bytes.Contains(v, []byte(d)) {
			return fmt.Errorf("output %s contains its delimiter", o.name)
		}
		if _, err := fmt.Fprintf(w, "%s<<%s\n%s\n%s\n", o.name, d, v, d); err != nil {
			return err
		}
	}
	return nil
}

// randomDelimiter returns a delimiter no value can guess.
func randomDelimiter() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "ferry_" + hex.EncodeToString(b), nil
}

// writeSummary writes a markdown job summary: a heading, then tables of what changed, was
// committed, opened and skipped (or the status matrix, verify verdict or tags decision).
func (r *actionReport) writeSummary(w io.Writer) error {
	var b strings.Builder
	r.writeHeading(&b)
	wrote := false
	for _, section := range []func() string{
		r.changesTable, r.commitsTable, r.pullRequestsTable, r.skippedTable,
		r.statusTable, r.historySection, r.verifyTable, r.tagsSection,
	} {
		if s := section(); s != "" {
			b.WriteString(s + "\n")
			wrote = true
		}
	}
	if !wrote && r.ExitCode == exitOK {
		b.WriteString("Nothing to change.\n\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHeading writes the title and, when ferry did not exit 0, what its exit code means.
func (r *actionReport) writeHeading(b *strings.Builder) {
	title := "ferry"
	if r.Command != "" {
		title += " " + r.Command
	}
	fmt.Fprintf(b, "### %s\n\n", title)
	switch r.ExitCode {
	case exitOK:
	case exitRefused:
		b.WriteString("**Verification refused an image** (exit code 3): nothing unverified was written.\n\n")
	default:
		fmt.Fprintf(b, "**ferry failed** (exit code %d): see the step's log.\n\n", r.ExitCode)
	}
}

// The summary's sections: each returns "" when the report has nothing for it.

func (r *actionReport) changesTable() string {
	if len(r.Changes) == 0 {
		return ""
	}
	t := mdtable.Table{Header: []string{"environment", "image", "file", "from", "to"}}
	for _, c := range r.Changes {
		t.Rows = append(t.Rows, []string{c.Environment, c.Image, fmt.Sprintf("%s:%d", c.File, c.Line), mdtable.Code(c.From), mdtable.Code(c.To)})
	}
	return t.String()
}

func (r *actionReport) commitsTable() string {
	if len(r.Commits) == 0 {
		return ""
	}
	t := mdtable.Table{Header: []string{"environment", "commit", "branch"}}
	for _, c := range r.Commits {
		t.Rows = append(t.Rows, []string{c.Environment, mdtable.Code(c.SHA), mdtable.Code(c.Branch)})
	}
	return t.String()
}

func (r *actionReport) pullRequestsTable() string {
	if len(r.PullRequests) == 0 {
		return ""
	}
	t := mdtable.Table{Header: []string{"environment", "pull request", "branch", ""}}
	for _, p := range r.PullRequests {
		link, state := "(no forge: open it by hand)", "pushed"
		if p.URL != "" {
			link, state = fmt.Sprintf("[#%d](%s)", p.Number, p.URL), "opened"
			if p.Updated {
				state = "updated"
			}
		}
		t.Rows = append(t.Rows, []string{p.Environment, link, mdtable.Code(p.Branch), state})
	}
	return t.String()
}

func (r *actionReport) skippedTable() string {
	if len(r.Skipped) == 0 {
		return ""
	}
	t := mdtable.Table{Header: []string{"environment", "image", "tag", "skipped because"}}
	for _, s := range r.Skipped {
		why := s.Reason
		if s.Detail != "" {
			why += ": " + s.Detail
		}
		t.Rows = append(t.Rows, []string{s.Environment, s.Image, mdtable.Code(s.Tag), why})
	}
	return t.String()
}

func (r *actionReport) statusTable() string {
	if len(r.Environments) == 0 {
		return ""
	}
	t := mdtable.Table{Header: []string{"environment", "image", "tag", "digest", "verified", "behind"}}
	for _, e := range r.Environments {
		for _, i := range e.Images {
			behind := fmt.Sprint(i.Behind)
			if i.Behind < 0 {
				behind = "?"
			}
			verified := "no"
			if i.Verified {
				verified = "yes"
			}
			if i.Note != "" {
				verified += " (" + i.Note + ")"
			}
			t.Rows = append(t.Rows, []string{e.Name, i.Image, mdtable.Code(i.Tag), mdtable.Code(shortDigest(i.Digest)), verified, behind})
		}
	}
	return t.String()
}

// historySection is `ferry history --output markdown`: the DORA table and the events.
func (r *actionReport) historySection() string {
	if r.Summary == nil {
		return ""
	}
	var b strings.Builder
	if err := writeHistoryMarkdown(&b, &history.Report{Since: r.Since, Events: r.Events, Summary: r.Summary}); err != nil {
		return ""
	}
	return b.String()
}

func (r *actionReport) verifyTable() string {
	if r.Verified == nil {
		return ""
	}
	verified, who := "no", r.Reason
	if *r.Verified {
		verified, who = "yes", r.Signer
	}
	return mdtable.Table{
		Header: []string{"image", "digest", "verified", "signer or reason"},
		Rows:   [][]string{{mdtable.Code(r.Ref), mdtable.Code(shortDigest(r.Digest)), verified, who}},
	}.String()
}

// tagsSection is the tags decision: the chosen tag, then every candidate with its verdict.
func (r *actionReport) tagsSection() string {
	if r.Chosen == nil && len(r.Candidates) == 0 {
		return ""
	}
	var b strings.Builder
	if r.Chosen != nil {
		fmt.Fprintf(&b, "Chosen: %s %s", mdtable.Code(r.Chosen.Tag), mdtable.Code(shortDigest(r.Chosen.Digest)))
		if r.Chosen.Signer != "" {
			fmt.Fprintf(&b, " signed by %s", mdtable.Cell(r.Chosen.Signer))
		}
		b.WriteString("\n\n")
	}
	t := mdtable.Table{Header: []string{"tag", "verdict", "reason"}}
	for _, c := range r.Candidates {
		t.Rows = append(t.Rows, []string{mdtable.Code(c.Tag), c.Verdict, c.Reason})
	}
	return b.String() + t.String()
}

// shortDigest shortens sha256:… to its first 12 hex digits for the summary.
func shortDigest(d string) string {
	if h, ok := strings.CutPrefix(d, "sha256:"); ok && len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return d
}

// appendFile appends what write produces to path; GitHub's files are shared by every step.
func appendFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	return write(f)
}
