// Package mdtable renders GitHub-flavoured Markdown tables.
//
// Rules:
//   - A row is "| " + the cells joined by " | " + " |"; the separator row is "---" per column
//     ("---:" for a right-aligned one). An empty cell renders as "|  |".
//   - Every cell, header cells too, is escaped so that no value can break the table: each run
//     of white space (newlines included) becomes one space, and "|" becomes "\|". Cells are
//     otherwise Markdown: build links or inline code (see [Code]) before putting them in.
//   - A row with fewer cells than the header is padded with empty cells.
//
// Anything in ferry may import it: it imports only the standard library.
package mdtable

import "strings"

// Align is a column's alignment.
type Align int

const (
	// Left is the default: the separator "---".
	Left Align = iota
	// Right is the separator "---:".
	Right
)

// Table is a header, optional per-column alignments (missing ones are Left) and rows.
type Table struct {
	Header []string
	Align  []Align
	Rows   [][]string
}

// String renders the table, each row ending in a newline.
func (t Table) String() string {
	var b strings.Builder
	t.row(&b, t.Header)
	seps := make([]string, len(t.Header))
	for i := range seps {
		seps[i] = "---"
		if i < len(t.Align) && t.Align[i] == Right {
			seps[i] = "---:"
		}
	}
	b.WriteString("| " + strings.Join(seps, " | ") + " |\n")
	for _, r := range t.Rows {
		t.row(&b, r)
	}
	return b.String()
}

func (t Table) row(b *strings.Builder, cells []string) {
	b.WriteString("|")
	for i := range max(len(cells), len(t.Header)) {
		c := ""
		if i < len(cells) {
			c = Cell(cells[i])
		}
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n")
}

// Cell escapes s for a table cell: one line, "|" escaped. String applies it to every cell.
func Cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

// Code renders s as inline code (on one line), fenced with more backticks than any run in s;
// "" stays "". Put the result in a cell as it is: String escapes its pipes.
func Code(s string) string {
	s = oneLine(s)
	if s == "" {
		return ""
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
