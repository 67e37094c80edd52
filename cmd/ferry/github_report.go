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

	"github.com/urfave/cli/v2"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote"
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
	title := "ferry"
	if r.Command != "" {
		title += " " + r.Command
	}
	fmt.Fprintf(&b, "### %s\n\n", title)
	switch r.ExitCode {
	case exitOK:
	case exitRefused:
		b.WriteString("**Verification refused an image** (exit code 3): nothing unverified was written.\n\n")
	default:
		fmt.Fprintf(&b, "**ferry failed** (exit code %d): see the step's log.\n\n", r.ExitCode)
	}

	if len(r.Changes) > 0 {
		b.WriteString("| environment | image | file | from | to |\n| --- | --- | --- | --- | --- |\n")
		for _, c := range r.Changes {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(c.Environment), cell(c.Image),
				cell(fmt.Sprintf("%s:%d", c.File, c.Line)), code(c.From), code(c.To))
		}
		b.WriteString("\n")
	}
	if len(r.Commits) > 0 {
		b.WriteString("| environment | commit | branch |\n| --- | --- | --- |\n")
		for _, c := range r.Commits {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(c.Environment), code(c.SHA), code(c.Branch))
		}
		b.WriteString("\n")
	}
	if len(r.PullRequests) > 0 {
		b.WriteString("| environment | pull request | branch | |\n| --- | --- | --- | --- |\n")
		for _, p := range r.PullRequests {
			link := "(no forge: open it by hand)"
			if p.URL != "" {
				link = fmt.Sprintf("[#%d](%s)", p.Number, p.URL)
			}
			state := "opened"
			if p.Updated {
				state = "updated"
			}
			if p.URL == "" {
				state = "pushed"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(p.Environment), link, code(p.Branch), state)
		}
		b.WriteString("\n")
	}
	if len(r.Skipped) > 0 {
		b.WriteString("| environment | image | tag | skipped because |\n| --- | --- | --- | --- |\n")
		for _, s := range r.Skipped {
			why := s.Reason
			if s.Detail != "" {
				why += ": " + s.Detail
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(s.Environment), cell(s.Image), code(s.Tag), cell(why))
		}
		b.WriteString("\n")
	}
	if len(r.Environments) > 0 {
		b.WriteString("| environment | image | tag | digest | verified | behind |\n| --- | --- | --- | --- | --- | --- |\n")
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
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(e.Name), cell(i.Image), code(i.Tag), code(shortDigest(i.Digest)), cell(verified), behind)
			}
		}
		b.WriteString("\n")
	}
	if r.Verified != nil {
		b.WriteString("| image | digest | verified | signer or reason |\n| --- | --- | --- | --- |\n")
		verified, who := "no", r.Reason
		if *r.Verified {
			verified, who = "yes", r.Signer
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n\n", code(r.Ref), code(shortDigest(r.Digest)), verified, cell(who))
	}
	if r.Chosen != nil || len(r.Candidates) > 0 {
		if r.Chosen != nil {
			fmt.Fprintf(&b, "Chosen: %s %s", code(r.Chosen.Tag), code(shortDigest(r.Chosen.Digest)))
			if r.Chosen.Signer != "" {
				fmt.Fprintf(&b, " signed by %s", cell(r.Chosen.Signer))
			}
			b.WriteString("\n\n")
		}
		b.WriteString("| tag | verdict | reason |\n| --- | --- | --- |\n")
		for _, c := range r.Candidates {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", code(c.Tag), cell(c.Verdict), cell(c.Reason))
		}
		b.WriteString("\n")
	}
	if !r.changed() && len(r.Skipped) == 0 && len(r.Environments) == 0 && r.Verified == nil && r.Chosen == nil && len(r.Candidates) == 0 && r.ExitCode == exitOK {
		b.WriteString("Nothing to change.\n\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

// code formats s as inline code in a table cell; empty stays empty.
func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(cell(s), "`", "'") + "`"
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
