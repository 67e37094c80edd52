package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeVerdicts writes what text/tabwriter wrote, byte for byte, plain or not.
func TestWriteVerdictsMatchesTabwriter(t *testing.T) {
	cases := map[string][]tagVerdict{
		"none":  nil,
		"one":   {{Tag: "1.0.0", Verdict: "older", Reason: "older", Detail: "older than 1.2.0"}},
		"empty": {{Tag: "", Verdict: "", Reason: "", Detail: ""}, {Tag: "a", Verdict: "", Reason: "r", Detail: ""}},
		"mixed": {
			{Tag: "1.4.0", Verdict: "passed-over", Reason: "unsigned", Detail: "no signatures found"},
			{Tag: "1.3.0", Verdict: "older", Reason: "older", Detail: "older than 1.2.0"},
			{Tag: "latest", Verdict: "rejected", Reason: "not-semver", Detail: `"latest" is not a semantic version`},
		},
		"tab in detail":     {{Tag: "a", Verdict: "older", Reason: "older", Detail: "x\ty"}, {Tag: "bbbb", Verdict: "v", Reason: "r", Detail: "d"}},
		"newline in detail": {{Tag: "a", Verdict: "rejected", Reason: "r", Detail: "line one\nline two\tz"}, {Tag: "bb", Verdict: "v", Reason: "r"}},
		"non-ASCII":         {{Tag: "a", Verdict: "passed-over", Reason: "registry-error", Detail: "réseau coupé"}, {Tag: "b", Verdict: "older", Reason: "öld"}},
		"form feed":         {{Tag: "a", Verdict: "v", Reason: "r", Detail: "x\fy"}, {Tag: "bb", Verdict: "v", Reason: "r"}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "1", ".", "-", " ", "\t", "\n", "é", "\v", "\f", "_", "x"}
	cell := func() string {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := range 200 {
		var vs []tagVerdict
		for range rng.IntN(5) {
			vs = append(vs, tagVerdict{Tag: cell(), Verdict: cell(), Reason: cell(), Detail: cell()})
		}
		cases[fmt.Sprintf("random %d", i)] = vs
	}
	for name, vs := range cases {
		t.Run(name, func(t *testing.T) {
			var want, got bytes.Buffer
			ww, gw := bufio.NewWriter(&want), bufio.NewWriter(&got)
			if err := writeVerdictsTabwriter(ww, vs); err != nil {
				t.Fatal(err)
			}
			if err := writeVerdicts(gw, vs); err != nil {
				t.Fatal(err)
			}
			ww.Flush()
			gw.Flush()
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Errorf("writeVerdicts (-tabwriter +got):\n%s", diff)
			}
		})
	}
}

// verdicts5000 is what `ferry tags --semver '>=1.0.0'` prints over the tags benchmark's
// registry: the winner's 5,000 older tags and two rejected ones.
func verdicts5000() []tagVerdict {
	var vs []tagVerdict
	for i := 49; i >= 0; i-- {
		for j := 99; j >= 0; j-- {
			vs = append(vs, tagVerdict{Tag: fmt.Sprintf("1.%d.%d", i, j), Verdict: "older", Reason: "older", Detail: "older than 1.49.99"})
		}
	}
	return append(vs[1:], tagVerdict{Tag: "seed", Verdict: "rejected", Reason: "not-semver", Detail: `"seed" is not a semantic version`})
}

// BenchmarkWriteVerdicts5000 is the text output of `ferry tags` over 5,000 tags: aligned by
// hand, against text/tabwriter.
func BenchmarkWriteVerdicts5000(b *testing.B) {
	vs := verdicts5000()
	for name, write := range map[string]func(*bufio.Writer, []tagVerdict) error{"columns": writeVerdicts, "tabwriter": writeVerdictsTabwriter} {
		b.Run(name, func(b *testing.B) {
			var out bytes.Buffer
			for b.Loop() {
				out.Reset()
				w := bufio.NewWriterSize(&out, 64<<10)
				if err := write(w, vs); err != nil {
					b.Fatal(err)
				}
				w.Flush()
			}
			b.SetBytes(int64(out.Len()))
		})
	}
}
