package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSplice(t *testing.T) {
	tests := []struct {
		name, doc, section, body string
		want                     string
		wantErr                  string
	}{
		{
			name:    "replaces between the markers, keeps the rest",
			doc:     "# Benchmarks\n\nintro\n\n<!-- bench:tags -->\nold\nlines\n<!-- /bench:tags -->\n\n## Git write-back\n\nhand-written\n",
			section: "tags", body: "## Tags\n\nnew\n",
			want: "# Benchmarks\n\nintro\n\n<!-- bench:tags -->\n## Tags\n\nnew\n<!-- /bench:tags -->\n\n## Git write-back\n\nhand-written\n",
		},
		{
			name:    "leaves other generated sections alone",
			doc:     "<!-- bench:a -->\nA\n<!-- /bench:a -->\n<!-- bench:b -->\nB\n<!-- /bench:b -->\n",
			section: "b", body: "B2",
			want: "<!-- bench:a -->\nA\n<!-- /bench:a -->\n<!-- bench:b -->\nB2\n<!-- /bench:b -->\n",
		},
		{
			name:    "appends a new section",
			doc:     "# Benchmarks\n\nintro",
			section: "watch", body: "W\n\n\n",
			want: "# Benchmarks\n\nintro\n\n<!-- bench:watch -->\nW\n<!-- /bench:watch -->\n",
		},
		{
			name:    "an empty document",
			section: "watch", body: "W",
			want: "<!-- bench:watch -->\nW\n<!-- /bench:watch -->\n",
		},
		{
			name:    "an end marker alone",
			doc:     "x\n<!-- /bench:tags -->\n",
			section: "tags", body: "y",
			wantErr: "must both appear",
		},
		{
			name:    "markers in the wrong order",
			doc:     "<!-- /bench:tags -->\n<!-- bench:tags -->\n",
			section: "tags", body: "y",
			wantErr: "must both appear",
		},
		{
			name:    "markers twice",
			doc:     "<!-- bench:tags -->\n<!-- /bench:tags -->\n<!-- bench:tags -->\n<!-- /bench:tags -->\n",
			section: "tags", body: "y",
			wantErr: "more than once",
		},
		{
			name:    "a bad name",
			section: "Tags Section", body: "y",
			wantErr: "want letters",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splice(tt.doc, tt.section, tt.body)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("splice: error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("splice (-want +got):\n%s", diff)
			}
			// Splicing the same body again changes nothing.
			again, err := splice(got, tt.section, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("second splice (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSpliceFilesAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "benchmarks.md")
	orig := "# Benchmarks\n\n<!-- bench:a -->\nold\n<!-- /bench:a -->\n<!-- /bench:b -->\n"
	if err := os.WriteFile(doc, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(dir, "a.md")
	if err := os.WriteFile(a, []byte("new a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := spliceFiles(doc, []string{"a=" + a, "b=" + a}); err == nil {
		t.Fatal("spliceFiles with a broken section b: no error")
	}
	got, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(orig, string(got)); diff != "" {
		t.Errorf("document after a failed splice (-want +got):\n%s", diff)
	}
	if err := spliceFiles(doc, []string{"a=" + a}); err != nil {
		t.Fatal(err)
	}
	got, err = os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\n<!-- bench:a -->\nnew a\n<!-- /bench:a -->\n<!-- /bench:b -->\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{5}, 5},
		{[]time.Duration{9, 1, 5}, 5},
		{[]time.Duration{4, 1, 3, 2}, 2}, // the lower middle
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtInt(0), "0"},
		{fmtInt(999), "999"},
		{fmtInt(1000), "1,000"},
		{fmtInt(1234567), "1,234,567"},
		{fmtInt(-1502), "-1,502"},
		{fmtDur(1500 * time.Microsecond), "1.50 ms"},
		{fmtDur(35 * time.Millisecond), "35.0 ms"},
		{fmtDur(582 * time.Millisecond), "582 ms"},
		{fmtDur(5760 * time.Millisecond), "5.76 s"},
		{fmtDur(21500 * time.Millisecond), "21.5 s"},
		{fmtRatio(3, 2), "1.50×"},
		{fmtRatio(3, 0), ""},
		{fmtMB(37 * 1024), "37 MB"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

func TestChangedLines(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"x\ny\n", "x\ny\n", 0},
		{"x\ny\n", "x\nz\n", 1},
		{"x\ny\n", "y\nx\n", 0}, // order does not count
		{"x\n", "x\nx\n", 1},    // a repeated line does
	}
	for _, tt := range tests {
		if got := changedLines(tt.a, tt.b); got != tt.want {
			t.Errorf("changedLines(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// The set-image tree has five files per overlay and the image entry exactly where used says.
func TestSetImageTree(t *testing.T) {
	files := setImageTree(300, func(i int) bool { return i%100 == 0 })
	overlays, entries := 0, 0
	for p, c := range files {
		if !strings.HasPrefix(p, "overlays/") {
			continue
		}
		overlays++
		if strings.HasSuffix(p, "/kustomization.yaml") && strings.Contains(c, "  - name: "+setImageRepo+"\n") {
			entries++
		}
	}
	if overlays != 1500 || entries != 3 {
		t.Errorf("tree: %d overlay files with %d entries for %s, want 1500 and 3", overlays, entries, setImageRepo)
	}
}
