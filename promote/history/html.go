package history

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed html.tmpl
var htmlSource string

var htmlPageTemplate = sync.OnceValue(func() *template.Template { return template.Must(template.New("history").Parse(htmlSource)) })

// The timeline's geometry, in SVG user units: a label column, then the plot.
const (
	svgWidth   = 1120
	plotLeft   = 210
	plotRight  = 1100
	rowHeight  = 28
	plotTop    = 6
	axisHeight = 30
	labelRunes = 18 // image names longer than this are cut in the label column
	tagRunes   = 12
)

// geometry hands the layout constants to the template.
type geometry struct{ Width, Left, Right, Row, LabelEnd int }

var svgGeometry = geometry{Width: svgWidth, Left: plotLeft, Right: plotRight, Row: rowHeight, LabelEnd: plotLeft - 12}

// WriteHTML writes the report as one self-contained page: inline CSS and SVG, no script, and
// nothing fetched from the network (a Content-Security-Policy says so to the browser). The
// page shows the window, the DORA summary per environment, a timeline per environment (a row
// per image, a mark per change; rollbacks red, manual changes hollow amber) and the events,
// newest first. The output depends only on the report.
func (r *Report) WriteHTML(w io.Writer) error {
	var b bytes.Buffer
	if err := htmlPageTemplate().Execute(&b, newHTMLPage(r)); err != nil {
		return fmt.Errorf("rendering the history page: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

type htmlPage struct {
	Since, Until string
	Span         string
	Complete     bool
	Summary      []htmlSummary
	Envs         []htmlEnv
	Events       []htmlEvent
	HasRollback  bool
	HasManual    bool
	Geom         geometry
}

type htmlSummary struct {
	Env                     string
	Deployments, Rollbacks  int
	PerWeek, Lead, CFR, TTR string
}

type htmlEnv struct {
	Name    string
	Count   int
	Height  int
	AxisY   int
	TickEnd int
	Ticks   []htmlTick
	Rows    []htmlRow
	Marks   []htmlMark
}

type htmlTick struct {
	X     string
	Label string
}

type htmlRow struct {
	Image, Label, Current string
	Y, Top                int
	Odd                   bool
}

type htmlMark struct {
	How, Image string
	X, Y       string
	R          int
	Title      string
}

type htmlEvent struct {
	Time, Env, Image, How          string
	FromTag, FromRef, ToTag, ToRef string
	Source, Signer, Lead           string
	Commit, Author                 string
}

func newHTMLPage(r *Report) htmlPage {
	ev := slices.Clone(r.Events)
	sortEvents(ev)
	p := htmlPage{
		Since:    dateOf(r.Since),
		Until:    dateOf(r.Until),
		Complete: r.Complete,
		Geom:     svgGeometry,
	}
	if r.Until.After(r.Since) && !r.Since.IsZero() {
		p.Span = spanOf(r.Until.Sub(r.Since))
	}
	for _, s := range r.Summary {
		p.Summary = append(p.Summary, htmlSummary{
			Env: s.Environment, Deployments: s.Deployments, Rollbacks: s.Rollbacks,
			PerWeek: fmt.Sprintf("%.1f", s.PerWeek), Lead: FormatDuration(s.LeadTimeMedian),
			CFR: Percent(s.ChangeFailureRate), TTR: FormatDuration(s.TimeToRestoreMedian),
		})
	}
	for _, e := range ev {
		p.HasRollback = p.HasRollback || e.How == HowRollback
		p.HasManual = p.HasManual || e.How == HowManual
		p.Events = append(p.Events, htmlEvent{
			Time: e.Time.UTC().Format("2006-01-02 15:04"),
			Env:  e.Environment, Image: e.Image, How: e.How,
			FromTag: orDash(tagOf(e.From)), FromRef: version(e.From), ToTag: orDash(tagOf(e.To)), ToRef: version(e.To),
			Source: orDash(e.Source), Signer: orDash(e.Signer), Lead: FormatDuration(e.LeadTime),
			Commit: shortSHA(e.Commit), Author: e.Author,
		})
	}
	if len(ev) > 0 {
		lo, hi := axisRange(r.Since, r.Until, ev)
		for _, env := range envOrder(r.Summary, ev) {
			p.Envs = append(p.Envs, timeline(env, ev, lo, hi))
		}
	}
	return p
}

// envOrder lists the summary's environments, then any other environment the events name, by
// name.
func envOrder(sum []Summary, ev []Event) []string {
	var envs, extra []string
	for _, s := range sum {
		envs = append(envs, s.Environment)
	}
	for _, e := range ev {
		if !slices.Contains(envs, e.Environment) && !slices.Contains(extra, e.Environment) {
			extra = append(extra, e.Environment)
		}
	}
	slices.Sort(extra)
	return append(envs, extra...)
}

// axisRange is the time axis: the report's window, widened to every event (a report without
// a Since starts at its first event) and never empty.
func axisRange(since, until time.Time, ev []Event) (lo, hi time.Time) {
	lo, hi = since, until
	for _, e := range ev { // newest first
		if lo.IsZero() || e.Time.Before(lo) {
			lo = e.Time
		}
		if hi.IsZero() || e.Time.After(hi) {
			hi = e.Time
		}
	}
	if !hi.After(lo) {
		lo, hi = lo.Add(-time.Hour), hi.Add(time.Hour)
	}
	return lo, hi
}

// timeline lays out one environment's SVG: a row per image (by name), a mark per event. A
// mark that would cover the one before it in its row (events at the same time, or a rollback
// soon after the change it undoes) is moved up or down within the row, so each stays visible.
func timeline(env string, ev []Event, lo, hi time.Time) htmlEnv {
	x := func(t time.Time) float64 {
		return plotLeft + float64(t.Sub(lo))/float64(hi.Sub(lo))*(plotRight-plotLeft)
	}
	te := htmlEnv{Name: env}
	var images []string
	for _, e := range ev {
		if e.Environment == env && !slices.Contains(images, e.Image) {
			images = append(images, e.Image)
		}
	}
	slices.Sort(images)
	rowOf := map[string]int{}
	for i, img := range images {
		rowOf[img] = i
		te.Rows = append(te.Rows, htmlRow{
			Image: img, Label: cut(img, labelRunes), Top: plotTop + i*rowHeight,
			Y: plotTop + i*rowHeight + rowHeight/2, Odd: i%2 == 1,
		})
	}
	type placed struct {
		x     float64
		level int
	}
	last := make([]*placed, len(images))
	// Oldest first, so a later mark is drawn on top; the last event of a row names the
	// version running now.
	for _, e := range slices.Backward(ev) {
		if e.Environment != env {
			continue
		}
		te.Count++
		i := rowOf[e.Image]
		row := &te.Rows[i]
		row.Current = cut(orDash(tagOf(e.To)), tagRunes)
		at := placed{x: x(e.Time)}
		if p := last[i]; p != nil && at.x-p.x < markOverlap {
			at.level = (p.level + 1) % len(stackOffsets)
		}
		last[i] = &at
		m := htmlMark{
			How: e.How, Image: e.Image,
			X: fmt.Sprintf("%.1f", at.x), Y: fmt.Sprint(row.Y + stackOffsets[at.level]), R: 5,
			Title: markTitle(e),
		}
		if e.How == HowRollback {
			m.R = 6
		}
		te.Marks = append(te.Marks, m)
	}
	te.AxisY = plotTop + len(images)*rowHeight
	te.TickEnd = te.AxisY + 5
	te.Height = te.AxisY + axisHeight
	for _, t := range ticks(lo, hi) {
		te.Ticks = append(te.Ticks, htmlTick{X: fmt.Sprintf("%.1f", x(t.at)), Label: t.label})
	}
	return te
}

// Marks closer than markOverlap in a row go to the next of stackOffsets (from the row's
// centre line, within its height).
const markOverlap = 9.0

var stackOffsets = []int{0, -8, 8}

func markTitle(e Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s → %s\n", e.Image, orDash(version(e.From)), orDash(version(e.To)))
	b.WriteString(e.How)
	if e.Source != "" {
		b.WriteString(" from " + e.Source)
	}
	fmt.Fprintf(&b, " · %s UTC", e.Time.UTC().Format("2006-01-02 15:04"))
	if e.LeadTime != nil {
		b.WriteString(" · lead time " + FormatDuration(e.LeadTime))
	}
	fmt.Fprintf(&b, "\ncommit %s by %s", shortSHA(e.Commit), e.Author)
	return b.String()
}

type tick struct {
	at    time.Time
	label string
}

// ticks picks a step that puts at most eight date ticks on the axis, aligned to whole UTC
// hours, days or Monday-started weeks.
func ticks(lo, hi time.Time) []tick {
	const day = 24 * time.Hour
	steps := []struct {
		d      time.Duration
		layout string
	}{
		{time.Hour, "Jan 2 15:04"}, {3 * time.Hour, "Jan 2 15:04"}, {6 * time.Hour, "Jan 2 15:04"},
		{12 * time.Hour, "Jan 2 15:04"}, {day, "Jan 2"}, {2 * day, "Jan 2"}, {7 * day, "Jan 2"},
		{14 * day, "Jan 2"}, {28 * day, "Jan 2"}, {91 * day, "Jan 2 2006"}, {364 * day, "Jan 2006"},
	}
	span := hi.Sub(lo)
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s.d <= 8 {
			step = s
			break
		}
	}
	if span/step.d > 8 { // a window of decades: stretch the last step
		step.d = span / 8
	}
	var out []tick
	// Truncate counts from the zero time, a Monday at midnight UTC.
	for t := lo.UTC().Truncate(step.d); !t.After(hi); t = t.Add(step.d) {
		if !t.Before(lo) {
			out = append(out, tick{at: t, label: t.Format(step.layout)})
		}
	}
	return out
}

// tagOf is a reference's tag, or its short digest when it has none.
func tagOf(ref string) string {
	repo, tag, digest := splitRef(ref)
	switch {
	case tag != "":
		return tag
	case digest != "":
		return digest
	}
	return repo
}

// version is a reference without its repository: tag@short-digest.
func version(ref string) string {
	repo, tag, digest := splitRef(ref)
	switch {
	case tag != "" && digest != "":
		return tag + "@" + digest
	case tag == "" && digest == "":
		return repo
	}
	return tag + digest
}

// splitRef cuts a reference into repository, tag and digest (shortened as ShortRef does).
func splitRef(ref string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(ShortRef(ref), "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// spanOf says how long the window is, in days (in hours under two days).
func spanOf(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%d hours", int(d.Round(time.Hour)/time.Hour))
	}
	return fmt.Sprintf("%d days", int(d.Round(24*time.Hour)/(24*time.Hour)))
}

func dateOf(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}
