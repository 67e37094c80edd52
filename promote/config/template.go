package config

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/ferryhq/ferry/internal/mdtable"
)

// TemplateData is what git.commitMessage, pullRequest.title and pullRequest.body templates see.
//
//	{{ .Environment }}           the environment being written, e.g. prod
//	{{ .Source }}                "registry", or the environment promoted from, e.g. staging
//	{{ .Rollback }}              true for `ferry rollback` (Source is then the environment itself)
//	{{ .SourceCommit }}          promote only: the commit the source was read at
//	{{ .SourceCommitURL }}       its web page on the forge ("" without one)
//	{{ range .Changes }}…{{ end }} one entry per image that changes, each with:
//	  {{ .Image }}               the image's name in ferry.yaml, e.g. api
//	  {{ .Repository }}          its repository, e.g. ghcr.io/acme/api
//	  {{ .From }}                the version the environment ran ("" when the image is new to it)
//	  {{ .To }}                  the version it gets
//	  {{ .Digest }}              the digest written (sha256:…)
//	  {{ .Signer }}              who signed it (key or certificate identity); "" when unverified
//	  {{ .Unverified }}          true for an image with insecureSkipVerify: true
//	{{ changeTable .Changes }}   the default body's Markdown table of the changes
//
// Templates are Go text/template with missingkey=error; a template naming a field that does
// not exist is rejected when the config loads.
type TemplateData struct {
	Environment string
	Source      string
	// Rollback is true when the change is a rollback of Environment to an earlier version.
	Rollback bool
	// SourceCommit is the commit the source environment's manifests were read at (promote
	// only), and SourceCommitURL its web page on the forge ("" without one).
	SourceCommit    string
	SourceCommitURL string
	Changes         []TemplateChange
}

// TemplateChange is one image's change in TemplateData.
type TemplateChange struct {
	Image      string
	Repository string
	From       string
	To         string
	Digest     string
	Signer     string
	Unverified bool
}

// Default templates.
const (
	// DefaultCommitMessage is git.commitMessage when unset: a subject naming the environment and
	// images, then one line per change. ferry appends its trailers after the rendered text.
	DefaultCommitMessage = `{{ .Environment }}: {{ if .Rollback }}roll back{{ else }}update{{ end }} {{ range $i, $c := .Changes }}{{ if $i }}, {{ end }}{{ $c.Image }}{{ end }}` +
		`{{ if and (ne .Source "registry") (not .Rollback) }} from {{ .Source }}{{ end }}

{{ range .Changes }}- {{ .Image }}: {{ or .From "(none)" }} -> {{ .To }}{{ if .Unverified }} (unverified){{ end }}
{{ end }}`

	// DefaultTitle is pullRequest.title when unset.
	DefaultTitle = `{{ if eq .Source "registry" }}Update {{ range $i, $c := .Changes }}{{ if $i }}, {{ end }}{{ $c.Image }}{{ end }} in {{ .Environment }}` +
		`{{ else }}Promote {{ .Source }} to {{ .Environment }}{{ end }}`

	// DefaultBody is pullRequest.body when unset: the change table.
	DefaultBody = `{{ if .Rollback }}ferry rolls **{{ .Environment }}** back to the versions it ran before.{{ else if eq .Source "registry" }}ferry updates **{{ .Environment }}** from the registry.{{ else }}ferry promotes **{{ .Source }}** to **{{ .Environment }}**` +
		`{{ if .SourceCommitURL }}, as of [{{ .SourceCommit }}]({{ .SourceCommitURL }}){{ else if .SourceCommit }}, as of {{ .SourceCommit }}{{ end }}.{{ end }}

{{ changeTable .Changes }}`
)

// templateFuncs are the functions every template may call:
//
//	{{ changeTable .Changes }}   the default body's Markdown table (image, from, to, digest,
//	                             signed by), cells escaped
var templateFuncs = template.FuncMap{"changeTable": changeTable}

// changeTable renders changes as the default body's table: a new image reads "(none)" as
// from, an unverified one "**unverified** (insecureSkipVerify)" as its signer.
func changeTable(changes []TemplateChange) string {
	t := mdtable.Table{Header: []string{"image", "from", "to", "digest", "signed by"}}
	for _, c := range changes {
		from, signer := c.From, c.Signer
		if from == "" {
			from = "(none)"
		}
		if c.Unverified {
			signer = "**unverified** (insecureSkipVerify)"
		}
		t.Rows = append(t.Rows, []string{c.Image, from, c.To, c.Digest, signer})
	}
	return t.String()
}

// sampleData exercises every field, so that loading can reject a template that names a field
// which does not exist.
var sampleData = TemplateData{
	Environment:     "prod",
	Source:          "staging",
	SourceCommit:    "0123456789abcdef0123456789abcdef01234567",
	SourceCommitURL: "https://github.com/acme/config/commit/0123456789abcdef0123456789abcdef01234567",
	Changes: []TemplateChange{{
		Image: "api", Repository: "ghcr.io/acme/api", From: "1.2.0", To: "1.3.0",
		Digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000",
		Signer: "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main",
	}},
}

func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Funcs(templateFuncs).Parse(text)
}

// checkTemplate parses text and runs it on sample data.
func checkTemplate(name, text string) error {
	t, err := parseTemplate(name, text)
	if err != nil {
		return err
	}
	return t.Execute(&limitWriter{n: 1 << 20}, sampleData)
}

// limitWriter fails once more than n bytes are written, so a runaway template cannot fill
// memory while a config loads.
type limitWriter struct{ n int }

func (w *limitWriter) Write(p []byte) (int, error) {
	w.n -= len(p)
	if w.n < 0 {
		return 0, fmt.Errorf("renders more than 1 MiB")
	}
	return len(p), nil
}

func render(name, text string, data TemplateData) (string, error) {
	t, err := parseTemplate(name, text)
	if err != nil {
		return "", fmt.Errorf("parsing %s: %w", name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.String(), nil
}

// RenderCommitMessage renders git.commitMessage, trimmed of surrounding blank space and of
// trailing spaces on each line. The pipeline appends its trailers.
func (c *Config) RenderCommitMessage(data TemplateData) (string, error) {
	s, err := render("git.commitMessage", c.Git.CommitMessage, data)
	if err != nil {
		return "", err
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.TrimSpace(strings.Join(lines, "\n")), nil
}

// RenderTitle renders the environment's effective pull-request title as one line.
func (e *Environment) RenderTitle(data TemplateData) (string, error) {
	s, err := render("environments."+e.Name+".pullRequest.title", e.PullRequest.Title, data)
	if err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(s), " "), nil
}

// RenderBody renders the environment's effective pull-request body, trimmed.
func (e *Environment) RenderBody(data TemplateData) (string, error) {
	s, err := render("environments."+e.Name+".pullRequest.body", e.PullRequest.Body, data)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(s), nil
}
