package mdtable_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/mdtable"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		name  string
		table mdtable.Table
		want  string
	}{
		{
			name:  "header only",
			table: mdtable.Table{Header: []string{"a", "b"}},
			want:  "| a | b |\n| --- | --- |\n",
		},
		{
			name:  "rows",
			table: mdtable.Table{Header: []string{"image", "tag"}, Rows: [][]string{{"api", "1.2.0"}, {"web", "2"}}},
			want:  "| image | tag |\n| --- | --- |\n| api | 1.2.0 |\n| web | 2 |\n",
		},
		{
			name:  "empty cells and a short row",
			table: mdtable.Table{Header: []string{"a", "", "c"}, Rows: [][]string{{"1", "", "3"}, {"x"}}},
			want:  "| a |  | c |\n| --- | --- | --- |\n| 1 |  | 3 |\n| x |  |  |\n",
		},
		{
			name:  "alignment, missing entries left",
			table: mdtable.Table{Header: []string{"name", "n", "note"}, Align: []mdtable.Align{mdtable.Left, mdtable.Right}, Rows: [][]string{{"a", "1", "-"}}},
			want:  "| name | n | note |\n| --- | ---: | --- |\n| a | 1 | - |\n",
		},
		{
			name:  "pipes and newlines escaped",
			table: mdtable.Table{Header: []string{"a|b"}, Rows: [][]string{{"no signatures | none"}, {"two\nlines\r\n  and\tspace "}}},
			want:  "| a\\|b |\n| --- |\n| no signatures \\| none |\n| two lines and space |\n",
		},
		{
			name:  "code in a cell",
			table: mdtable.Table{Header: []string{"ref"}, Rows: [][]string{{mdtable.Code("a|b")}}},
			want:  "| ref |\n| --- |\n| `a\\|b` |\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.table.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"  ", ""},
		{"ghcr.io/acme/api:1.2.0", "`ghcr.io/acme/api:1.2.0`"},
		{"a`b", "``a`b``"},
		{"a``b`c", "```a``b`c```"},
		{"`x", "`` `x ``"},
		{"x`", "`` x` ``"},
		{"two\nlines", "`two lines`"},
	} {
		if got := mdtable.Code(tc.in); got != tc.want {
			t.Errorf("Code(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{" a |b\n", `a \|b`},
	} {
		if got := mdtable.Cell(tc.in); got != tc.want {
			t.Errorf("Cell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func ExampleTable() {
	fmt.Print(mdtable.Table{
		Header: []string{"image", "tag", "behind"},
		Align:  []mdtable.Align{mdtable.Left, mdtable.Left, mdtable.Right},
		Rows:   [][]string{{"api", mdtable.Code("1.4.2"), "0"}, {"worker", "", "?"}},
	})
	// Output:
	// | image | tag | behind |
	// | --- | --- | ---: |
	// | api | `1.4.2` | 0 |
	// | worker |  | ? |
}
