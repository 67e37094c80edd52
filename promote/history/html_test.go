package history

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
)

func writeHTML(t testing.TB, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func parseHTML(t testing.TB, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// sel is a tiny CSS-like selector: a tag ("" for any), classes, and attribute values.
type sel struct {
	tag     string
	classes []string
	attrs   map[string]string
}

func (s sel) match(n *html.Node) bool {
	if n.Type != html.ElementNode || (s.tag != "" && n.Data != s.tag) {
		return false
	}
	have := strings.Fields(attr(n, "class"))
	for _, c := range s.classes {
		if !contains(have, c) {
			return false
		}
	}
	for k, v := range s.attrs {
		if got, ok := attrOK(n, k); !ok || got != v {
			return false
		}
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

// all returns the nodes under n that s matches, in document order.
func all(n *html.Node, s sel) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if s.match(d) {
			out = append(out, d)
		}
	}
	return out
}

func one(t testing.TB, n *html.Node, s sel) *html.Node {
	t.Helper()
	got := all(n, s)
	if len(got) != 1 {
		t.Fatalf("%+v: %d matches, want 1", s, len(got))
	}
	return got[0]
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attr(n *html.Node, key string) string { v, _ := attrOK(n, key); return v }

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func texts(ns []*html.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, text(n))
	}
	return out
}

var (
	envSection = sel{tag: "section", classes: []string{"env"}}
	eventMark  = sel{tag: "circle", classes: []string{"event"}}
)

// eventRows are the rows of table#events.
func eventRows(t testing.TB, doc *html.Node) []*html.Node {
	t.Helper()
	var out []*html.Node
	for _, tr := range all(one(t, doc, sel{tag: "table", attrs: map[string]string{"id": "events"}}), sel{tag: "tr"}) {
		if _, ok := attrOK(tr, "data-env"); ok {
			out = append(out, tr)
		}
	}
	return out
}

func byEnv(env string) sel {
	return sel{tag: "section", classes: []string{"env"}, attrs: map[string]string{"data-env": env}}
}

func marksOf(how string) sel { return sel{tag: "circle", classes: []string{"event", how}} }

// summaryFigures reads table#summary: environment → data-k → text.
func summaryFigures(t testing.TB, doc *html.Node) map[string]map[string]string {
	t.Helper()
	tbl := one(t, doc, sel{tag: "table", attrs: map[string]string{"id": "summary"}})
	out := map[string]map[string]string{}
	for _, tr := range all(tbl, sel{tag: "tr"}) {
		env, ok := attrOK(tr, "data-env")
		if !ok {
			continue
		}
		out[env] = map[string]string{}
		for _, td := range all(tr, sel{tag: "td"}) {
			if k, ok := attrOK(td, "data-k"); ok {
				out[env][k] = text(td)
			}
		}
	}
	return out
}

// sampleFigures are testdata/sample.json's summary as the page prints it.
var sampleFigures = map[string]map[string]string{
	"dev": {"deployments": "10", "perWeek": "1.7", "leadTimeMedian": "0m", "rollbacks": "0",
		"changeFailureRate": "0%", "timeToRestoreMedian": "-"},
	"staging": {"deployments": "12", "perWeek": "2.0", "leadTimeMedian": "22h10m", "rollbacks": "1",
		"changeFailureRate": "9%", "timeToRestoreMedian": "3h10m"},
	"prod": {"deployments": "10", "perWeek": "1.7", "leadTimeMedian": "2d5h", "rollbacks": "1",
		"changeFailureRate": "11%", "timeToRestoreMedian": "2h25m"},
}

// checkSamplePage checks the page of testdata/sample.json, as written or as a browser
// rendered it.
func checkSamplePage(t *testing.T, doc *html.Node) {
	t.Helper()
	var envs []string
	for _, s := range all(doc, envSection) {
		envs = append(envs, attr(s, "data-env"))
	}
	if diff := cmp.Diff([]string{"dev", "staging", "prod"}, envs); diff != "" {
		t.Errorf("env sections (-want +got):\n%s", diff)
	}
	type counts struct{ Marks, Rollbacks, Manual int }
	want := map[string]counts{"dev": {10, 0, 0}, "staging": {12, 1, 0}, "prod": {10, 1, 1}}
	got := map[string]counts{}
	for env := range want {
		s := one(t, doc, byEnv(env))
		got[env] = counts{len(all(s, eventMark)), len(all(s, marksOf(HowRollback))), len(all(s, marksOf(HowManual)))}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("marks per environment (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sampleFigures, summaryFigures(t, doc)); diff != "" {
		t.Errorf("summary table (-want +got):\n%s", diff)
	}
	if n := len(eventRows(t, doc)); n != 32 {
		t.Errorf("events table: %d rows, want 32", n)
	}
}

func TestWriteHTMLSample(t *testing.T) {
	rep := readSample(t)
	page := writeHTML(t, rep)
	doc := parseHTML(t, page)
	checkSamplePage(t, doc)

	if got, want := text(one(t, one(t, doc, sel{tag: "head"}), sel{tag: "title"})), "ferry history · 2026-03-02 → 2026-04-13"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	if got := text(one(t, doc, sel{attrs: map[string]string{"id": "window"}})); !strings.Contains(got, "2026-03-02 → 2026-04-13 · 42 days · 32 changes") {
		t.Errorf("window line = %q", got)
	}
	// Weekly ticks on Mondays, from Since to Until.
	ticks := texts(all(one(t, doc, byEnv("dev")), sel{tag: "text", classes: []string{"tick-label"}}))
	if diff := cmp.Diff([]string{"Mar 2", "Mar 9", "Mar 16", "Mar 23", "Mar 30", "Apr 6", "Apr 13"}, ticks); diff != "" {
		t.Errorf("ticks (-want +got):\n%s", diff)
	}
	// The row labels name the images and the version each runs now.
	prod := one(t, doc, byEnv("prod"))
	if diff := cmp.Diff([]string{"api", "web", "worker"}, texts(all(prod, sel{tag: "text", classes: []string{"row-label"}}))); diff != "" {
		t.Errorf("prod rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1.9.1", "3.4.0", "0.15.0"}, texts(all(prod, sel{tag: "text", classes: []string{"row-current"}}))); diff != "" {
		t.Errorf("prod current versions (-want +got):\n%s", diff)
	}
	// The prod rollback: its tooltip, its place on the axis, and drawn apart from the
	// promotion it undid two and a half hours earlier.
	rb := one(t, prod, marksOf(HowRollback))
	tip := text(one(t, rb, sel{tag: "title"}))
	for _, s := range []string{"api: 1.10.0@sha256:84e17c94df12 → 1.9.1@sha256:", "rollback", "2026-04-06 18:25 UTC", "commit 9f135831b8 by Dana Kim"} {
		if !strings.Contains(tip, s) {
			t.Errorf("rollback tooltip %q lacks %q", tip, s)
		}
	}
	if got, want := num(t, rb, "cx"), plotLeft+(35*24+18+25.0/60)/(42*24)*(plotRight-plotLeft); got < want-0.1 || got > want+0.1 {
		t.Errorf("rollback cx = %v, want %.1f", got, want)
	}
	var promo *html.Node
	for _, m := range all(prod, marksOf(HowPromote)) {
		if strings.Contains(text(m), "2026-04-06 16:00 UTC") {
			promo = m
		}
	}
	if promo == nil {
		t.Fatal("no mark for the prod promotion of 2026-04-06 16:00")
	}
	if num(t, rb, "cy") == num(t, promo, "cy") {
		t.Errorf("the rollback is drawn over the promotion it undid (both at cy %s)", attr(rb, "cy"))
	}
	// The events table is newest first.
	rows := eventRows(t, doc)
	var times []string
	for _, r := range rows {
		times = append(times, text(all(r, sel{tag: "td"})[0]))
	}
	for i := 1; i < len(times); i++ {
		if times[i] > times[i-1] {
			t.Fatalf("events table not newest first: %s after %s", times[i], times[i-1])
		}
	}
	if got, want := text(rows[0]), "2026-04-09 09:20stagingapipromote1.10.0 → 1.10.1devrelease-keyless23h20m94e33e3060ferry[bot]"; got != want {
		t.Errorf("first row = %q, want %q", got, want)
	}
}

func num(t testing.TB, n *html.Node, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(attr(n, key), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.Data, key, attr(n, key), err)
	}
	return v
}

// checkSelfContained fails when the page could run script or fetch anything.
func checkSelfContained(t *testing.T, page []byte) {
	t.Helper()
	low := strings.ToLower(string(page))
	for _, s := range []string{"<script", "javascript:", "url(", "@import", "<link", "<img", "<iframe", "<object", "<embed"} {
		if strings.Contains(low, s) {
			t.Errorf("page contains %q", s)
		}
	}
	for n := range parseHTML(t, page).Descendants() {
		for _, a := range n.Attr {
			if k := strings.ToLower(a.Key); k == "src" || k == "href" || k == "srcset" || k == "action" || k == "xlink:href" || strings.HasPrefix(k, "on") {
				t.Errorf("<%s> has attribute %s=%q", n.Data, a.Key, a.Val)
			}
		}
		if n.Type == html.ElementNode && n.Data == "meta" && attr(n, "http-equiv") == "Content-Security-Policy" {
			if !strings.HasPrefix(attr(n, "content"), "default-src 'none';") {
				t.Errorf("CSP = %q", attr(n, "content"))
			}
		}
	}
	if !bytes.Contains(page, []byte(`<meta http-equiv="Content-Security-Policy"`)) {
		t.Error("no Content-Security-Policy")
	}
}

func TestWriteHTMLSelfContained(t *testing.T) {
	checkSelfContained(t, writeHTML(t, readSample(t)))
}

func TestWriteHTMLEscapes(t *testing.T) {
	const (
		img    = `<img src=x onerror=alert(1)>`
		env    = `"><script>alert(1)</script>`
		author = `</title><script>alert(2)</script> https://evil.example/x.js`
		ref    = `ghcr.io/acme/x:"onmouseover="alert(3)`
	)
	at := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	rep := &Report{
		Since: at.Add(-24 * time.Hour), Until: at.Add(24 * time.Hour),
		Events: []Event{{Time: at, Commit: "c1", Author: author, Environment: env, Image: img,
			From: ref, To: ref + "2", How: HowManual}},
		Summary: []Summary{{Environment: env, Deployments: 1}},
	}
	page := writeHTML(t, rep)
	checkSelfContained(t, page)
	doc := parseHTML(t, page)
	mark := one(t, doc, eventMark)
	if got := attr(mark, "data-image"); got != img {
		t.Errorf("data-image = %q, want %q", got, img)
	}
	if got := text(one(t, mark, sel{tag: "title"})); !strings.Contains(got, author) || !strings.HasPrefix(got, img+": ") {
		t.Errorf("tooltip = %q", got)
	}
	if got := attr(one(t, doc, envSection), "data-env"); got != env {
		t.Errorf("data-env = %q, want %q", got, env)
	}
	row := eventRows(t, doc)[0]
	tds := texts(all(row, sel{tag: "td"}))
	if tds[1] != env || tds[2] != img || tds[9] != author {
		t.Errorf("events row = %q", tds)
	}
	if got, want := attr(all(row, sel{tag: "code"})[0], "title"), `"onmouseover="alert(3)`; got != want {
		t.Errorf("from title = %q, want %q", got, want)
	}
}

func TestWriteHTMLCases(t *testing.T) {
	since := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	until := since.Add(14 * 24 * time.Hour)
	ev := func(at time.Duration, commit, env, img, how string) Event {
		return Event{Time: since.Add(at), Commit: commit, Author: "a", Environment: env, Image: img,
			How: how, From: img + ":1", To: img + ":2"}
	}
	longRef := "registry.example.com/" + strings.Repeat("team/", 20) + "api:1.2.3-rc.4+build.5678@sha256:" + strings.Repeat("ab", 32)
	longName := "a-very-long-image-name-for-the-label-column"
	for _, tc := range []struct {
		name  string
		rep   Report
		check func(t *testing.T, page []byte, doc *html.Node)
	}{
		{name: "no events", rep: Report{Since: since, Until: until, Summary: []Summary{{Environment: "prod"}}},
			check: func(t *testing.T, page []byte, doc *html.Node) {
				got := text(one(t, doc, sel{attrs: map[string]string{"id": "no-events"}}))
				if want := "No changes to the environments' images between 2026-01-05 and 2026-01-19."; strings.TrimSpace(got) != want {
					t.Errorf("empty message = %q, want %q", got, want)
				}
				if n := len(all(doc, envSection)) + len(all(doc, eventMark)) + len(all(doc, sel{tag: "table", attrs: map[string]string{"id": "events"}})); n != 0 {
					t.Errorf("%d sections, marks or events tables, want none", n)
				}
				if got := summaryFigures(t, doc)["prod"]["deployments"]; got != "0" {
					t.Errorf("prod deployments = %q, want 0", got)
				}
			}},
		{name: "one event", rep: Report{Since: since, Until: until, Events: []Event{ev(7*24*time.Hour, "c1", "prod", "api", HowBump)}},
			check: func(t *testing.T, page []byte, doc *html.Node) {
				s := one(t, doc, byEnv("prod"))
				if got := text(one(t, s, sel{tag: "h2"})); got != "prod1 change" {
					t.Errorf("heading = %q", got)
				}
				m := one(t, s, marksOf(HowBump))
				if got, want := num(t, m, "cx"), (plotLeft+plotRight)/2.0; got != want { // halfway
					t.Errorf("cx = %v, want %v", got, want)
				}
				// No rollback or manual change: the legend shows neither.
				if got := texts(all(doc, sel{tag: "circle", classes: []string{"swatch"}})); len(got) != 1 {
					t.Errorf("legend has %d entries, want 1", len(got))
				}
			}},
		{name: "events at the same time", rep: Report{Since: since, Until: until, Events: []Event{
			ev(time.Hour, "c3", "prod", "api", HowRollback), ev(time.Hour, "c2", "prod", "api", HowPromote),
			ev(time.Hour, "c1", "prod", "api", HowBump), ev(time.Hour, "c1", "prod", "web", HowBump)}},
			check: func(t *testing.T, page []byte, doc *html.Node) {
				ys := map[string]bool{}
				for _, m := range all(doc, sel{tag: "circle", classes: []string{"event"}, attrs: map[string]string{"data-image": "api"}}) {
					ys[attr(m, "cx")+","+attr(m, "cy")] = true
				}
				if len(ys) != 3 {
					t.Errorf("three api marks at the same time take %d places, want 3: %v", len(ys), ys)
				}
				if n := len(all(doc, eventMark)); n != 4 {
					t.Errorf("%d marks, want 4", n)
				}
			}},
		{name: "long references and names", rep: Report{Since: since, Until: until, Events: []Event{{
			Time: since.Add(time.Hour), Commit: strings.Repeat("f", 40), Environment: "prod", Image: longName,
			From: longRef, To: longRef, How: HowWatch}}},
			check: func(t *testing.T, page []byte, doc *html.Node) {
				if bytes.Contains(page, []byte(strings.Repeat("ab", 32))) {
					t.Error("the page prints a whole digest")
				}
				if got, want := attr(all(eventRows(t, doc)[0], sel{tag: "code"})[0], "title"), "1.2.3-rc.4+build.5678@sha256:abababababab"; got != want {
					t.Errorf("ref title = %q, want %q", got, want)
				}
				label := text(one(t, doc, sel{tag: "text", classes: []string{"row-label"}}))
				if !strings.HasSuffix(label, "…") || len([]rune(label)) != labelRunes {
					t.Errorf("row label = %q, want %d runes ending in …", label, labelRunes)
				}
				if got := attr(one(t, doc, sel{tag: "g", classes: []string{"row"}}), "data-image"); got != longName {
					t.Errorf("row data-image = %q", got)
				}
			}},
		{name: "no window: the axis spans the events", rep: Report{Events: []Event{
			ev(0, "c1", "prod", "api", HowBump)}},
			check: func(t *testing.T, page []byte, doc *html.Node) {
				if got, want := num(t, one(t, doc, eventMark), "cx"), (plotLeft+plotRight)/2.0; got != want {
					t.Errorf("cx = %v, want %v", got, want)
				}
				if n := len(all(doc, sel{tag: "text", classes: []string{"tick-label"}})); n < 2 {
					t.Errorf("%d ticks, want some", n)
				}
			}},
		{name: "events outside the window stay on the axis", rep: Report{Since: since, Until: until, Events: []Event{
			ev(15*24*time.Hour, "c2", "prod", "api", HowBump), ev(-24*time.Hour, "c1", "prod", "api", HowBump)}},
			check: func(t *testing.T, page []byte, doc *html.Node) {
				for _, m := range all(doc, eventMark) {
					if x := num(t, m, "cx"); x < plotLeft || x > plotRight {
						t.Errorf("cx = %v, outside the plot", x)
					}
				}
			}},
		{name: "environments the summary does not name come last", rep: Report{Since: since, Until: until,
			Summary: []Summary{{Environment: "prod"}, {Environment: "dev"}},
			Events: []Event{ev(time.Hour, "c1", "zeta", "api", HowBump), ev(2*time.Hour, "c2", "alpha", "api", HowBump),
				ev(3*time.Hour, "c3", "dev", "api", HowBump)}},
			check: func(t *testing.T, page []byte, doc *html.Node) {
				var envs []string
				for _, s := range all(doc, envSection) {
					envs = append(envs, attr(s, "data-env"))
				}
				if diff := cmp.Diff([]string{"prod", "dev", "alpha", "zeta"}, envs); diff != "" {
					t.Errorf("sections (-want +got):\n%s", diff)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := writeHTML(t, &tc.rep)
			checkSelfContained(t, page)
			for _, bad := range []string{"NaN", "Inf", "%!"} {
				if bytes.Contains(page, []byte(bad)) {
					t.Errorf("page contains %q", bad)
				}
			}
			tc.check(t, page, parseHTML(t, page))
		})
	}
}

// manyEvents is n events over 90 days, in 3 environments and 20 images, newest first.
func manyEvents(n int) *Report {
	until := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	since := until.Add(-90 * 24 * time.Hour)
	rep := &Report{Since: since, Until: until}
	step := 90 * 24 * time.Hour / time.Duration(n)
	hows := []string{HowWatch, HowPromote, HowPromote, HowBump, HowManual, HowRollback}
	for i := range n {
		img := fmt.Sprintf("service-%02d", i%20)
		ref := func(v int) string {
			return fmt.Sprintf("ghcr.io/acme/%s:1.%d.0@sha256:%064x", img, v, v*7919+i%20)
		}
		rep.Events = append(rep.Events, Event{
			Time: until.Add(-time.Duration(i) * step), Commit: fmt.Sprintf("%040x", i),
			Author: "ferry[bot]", Environment: []string{"dev", "staging", "prod"}[i%3], Image: img,
			From: ref(n - i - 1), To: ref(n - i), How: hows[i%len(hows)], Source: "registry", Signer: "release-keyless",
			LeadTime: durPtr(time.Duration(i%50) * time.Hour),
		})
	}
	rep.Summary = summarize(rep.Events, []string{"dev", "staging", "prod"}, since, until)
	return rep
}

// TestWriteHTMLManyEvents draws every mark of 5,000 events and keeps the page to a few MB.
func TestWriteHTMLManyEvents(t *testing.T) {
	rep := manyEvents(5000)
	page := writeHTML(t, rep)
	const limit = 4 << 20
	t.Logf("5,000 events: %d bytes", len(page))
	if len(page) > limit {
		t.Errorf("page of 5,000 events is %d bytes, want at most %d", len(page), limit)
	}
	doc := parseHTML(t, page)
	marks := all(doc, eventMark)
	if len(marks) != 5000 {
		t.Errorf("%d marks, want 5000", len(marks))
	}
	for _, m := range marks {
		if x := num(t, m, "cx"); x < plotLeft || x > plotRight {
			t.Fatalf("cx = %v, outside the plot", x)
		}
	}
	if n := len(eventRows(t, doc)); n != 5000 {
		t.Errorf("%d rows, want 5000", n)
	}
}

func TestWriteHTMLDeterministic(t *testing.T) {
	rep := readSample(t)
	if a, b := writeHTML(t, rep), writeHTML(t, rep); !bytes.Equal(a, b) {
		t.Error("two renderings of one report differ")
	}
}

func BenchmarkWriteHTML5000(b *testing.B) {
	rep := manyEvents(5000)
	for b.Loop() {
		if err := rep.WriteHTML(&bytes.Buffer{}); err != nil {
			b.Fatal(err)
		}
	}
}
