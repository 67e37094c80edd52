package history

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ferryhq/ferry/internal/mdtable"
)

// WriteText prints the events as aligned columns, then the summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if len(r.Events) == 0 {
		fmt.Fprintf(&b, "no changes to the environments' images since %s\n", r.Since.UTC().Format(time.DateOnly))
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tENVIRONMENT\tIMAGE\tHOW\tFROM\tTO\tSOURCE\tSIGNER\tLEAD TIME\tCOMMIT\tAUTHOR")
		for _, e := range r.Events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				e.Time.UTC().Format("2006-01-02 15:04"), e.Environment, e.Image, e.How,
				orDash(ShortRef(e.From)), orDash(ShortRef(e.To)), orDash(e.Source), orDash(e.Signer),
				FormatDuration(e.LeadTime), shortSHA(e.Commit), e.Author)
		}
		tw.Flush()
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tDEPLOYMENTS\tPER WEEK\tLEAD TIME (MEDIAN)\tROLLBACKS\tCHANGE FAILURE RATE\tTIME TO RESTORE (MEDIAN)")
	for _, s := range r.Summary {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%d\t%s\t%s\n", s.Environment, s.Deployments, s.PerWeek,
			FormatDuration(s.LeadTimeMedian), s.Rollbacks, Percent(s.ChangeFailureRate), FormatDuration(s.TimeToRestoreMedian))
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

// MarkdownTables returns the events and summary as markdown tables (header, then rows), for
// a step summary or a pull-request comment.
func (r *Report) MarkdownTables() (events, summary [][]string) {
	events = append(events, []string{"time", "environment", "image", "how", "from", "to", "source", "signer", "lead time", "commit"})
	for _, e := range r.Events {
		events = append(events, []string{e.Time.UTC().Format("2006-01-02 15:04"), e.Environment, e.Image, e.How,
			code(ShortRef(e.From)), code(ShortRef(e.To)), orDash(e.Source), orDash(e.Signer),
			FormatDuration(e.LeadTime), code(shortSHA(e.Commit))})
	}
	summary = append(summary, []string{"environment", "deployments", "per week", "lead time (median)", "rollbacks", "change failure rate", "time to restore (median)"})
	for _, s := range r.Summary {
		summary = append(summary, []string{s.Environment, fmt.Sprint(s.Deployments), fmt.Sprintf("%.1f", s.PerWeek),
			FormatDuration(s.LeadTimeMedian), fmt.Sprint(s.Rollbacks), Percent(s.ChangeFailureRate), FormatDuration(s.TimeToRestoreMedian)})
	}
	return events, summary
}

func code(s string) string {
	if s == "" || s == "-" {
		return "-"
	}
	return mdtable.Code(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortSHA(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// ShortRef shortens the digest of a reference to 12 hex digits, for tables.
func ShortRef(ref string) string {
	at := strings.LastIndex(ref, "@sha256:")
	if at < 0 || len(ref) < at+8+12 {
		return ref
	}
	return ref[:at+8+12]
}

// Percent formats a rate as a percentage.
func Percent(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// FormatDuration prints a duration in days, hours and minutes ("-" when unknown).
func FormatDuration(d *Duration) string {
	if d == nil {
		return "-"
	}
	v := time.Duration(*d).Round(time.Minute)
	days := v / (24 * time.Hour)
	v -= days * 24 * time.Hour
	h := v / time.Hour
	m := (v - h*time.Hour) / time.Minute
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		return fmt.Sprintf("%dm", m)
	}
}
