package history

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func dur(d time.Duration) *Duration { return durPtr(d) }

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *Duration
		want string
	}{
		{"unknown", nil, "-"},
		{"zero", dur(0), "0m"},
		{"under half a minute rounds down", dur(29 * time.Second), "0m"},
		{"half a minute rounds up", dur(30 * time.Second), "1m"},
		{"minutes", dur(59 * time.Minute), "59m"},
		{"hours and minutes", dur(90 * time.Minute), "1h30m"},
		{"whole hours", dur(5 * time.Hour), "5h0m"},
		{"days and hours", dur(26 * time.Hour), "1d2h"},
		{"days drop the minutes", dur(49*time.Hour + 59*time.Minute), "2d1h"},
		{"rounding carries into days", dur(47*time.Hour + 59*time.Minute + 40*time.Second), "2d0h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatDuration(tc.in); got != tc.want {
				t.Errorf("FormatDuration(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestPercent(t *testing.T) {
	for in, want := range map[float64]string{0: "0%", 0.5: "50%", 1.0 / 9: "11%", 1: "100%"} {
		if got := Percent(in); got != want {
			t.Errorf("Percent(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestMedian(t *testing.T) {
	h := time.Hour
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want *Duration
	}{
		{"none", nil, nil},
		{"one", []time.Duration{3 * h}, dur(3 * h)},
		{"two: the mean of both", []time.Duration{h, 3 * h}, dur(2 * h)},
		{"odd, unsorted", []time.Duration{5 * h, h, 3 * h}, dur(3 * h)},
		{"even, unsorted", []time.Duration{4 * h, h, 3 * h, 2 * h}, dur(150 * time.Minute)},
		{"duplicates", []time.Duration{h, h, 7 * h}, dur(h)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, median(tc.in)); diff != "" {
				t.Errorf("median(%v) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// smallHistory is two weeks of one promotion chain dev → staging → prod, with a rollback and
// a manual change in prod, and versions whose arrival in dev is outside the window. The
// expected figures below are worked out by hand from it.
func smallHistory() (*Report, []string, Chains) {
	since := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ev := func(at time.Duration, commit, env, img, how, from, fromD, to, toD string) Event {
		return Event{Time: since.Add(at), Commit: commit, Author: "a", Environment: env, Image: img,
			How: how, From: from, FromDigest: fromD, To: to, ToDigest: toD}
	}
	rep := &Report{
		Since: since, Until: since.Add(14 * day),
		// In the walk's order, newest commit first, as package promote reads them.
		Events: []Event{
			// An image removed: no digest, no lead time.
			ev(8*day, "c7", "dev", "worker", HowManual, "worker:1", "k1", "", ""),
			// api:3 reached dev before the window.
			ev(7*day, "c6", "staging", "api", HowPromote, "api:2", "d2", "api:3", "d3"),
			// A hand edit to a digest dev never ran.
			ev(5*day+6*time.Hour, "c5", "prod", "web", HowManual, "web:8", "w8", "web:9", "w9"),
			// Rolled back from api:2, which reached prod a day earlier; api:1 reached dev
			// before the window, so the rollback's own lead time is unknown.
			ev(4*day, "c4", "prod", "api", HowRollback, "api:2", "d2", "api:1", "d1"),
			ev(3*day, "c3", "prod", "api", HowPromote, "api:1", "d1", "api:2", "d2"),
			ev(2*day+12*time.Hour, "c2", "staging", "api", HowPromote, "api:1", "d1", "api:2", "d2"),
			ev(day, "c1", "dev", "api", HowWatch, "api:1", "d1", "api:2", "d2"),
		},
	}
	return rep, []string{"dev", "staging", "prod"}, Chains{"dev": "dev", "staging": "dev", "prod": "dev"}
}

func TestFinishLeadTimes(t *testing.T) {
	rep, envs, chains := smallHistory()
	Finish(rep, envs, chains, nil)
	type lead struct {
		Commit string
		Lead   *Duration
	}
	var got []lead
	for _, e := range rep.Events {
		got = append(got, lead{e.Commit, e.LeadTime})
	}
	want := []lead{ // newest first
		{"c7", nil},
		{"c6", nil},
		{"c5", nil},
		{"c4", nil},
		{"c3", dur(48 * time.Hour)},
		{"c2", dur(36 * time.Hour)},
		{"c1", dur(0)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lead times (-want +got):\n%s", diff)
	}
}

func TestFinishSummary(t *testing.T) {
	rep, envs, chains := smallHistory()
	Finish(rep, envs, chains, nil)
	want := []Summary{
		{Environment: "dev", Deployments: 2, PerWeek: 1, LeadTimeMedian: dur(0)},
		{Environment: "staging", Deployments: 2, PerWeek: 1, LeadTimeMedian: dur(36 * time.Hour)},
		{Environment: "prod", Deployments: 3, PerWeek: 1.5, LeadTimeMedian: dur(48 * time.Hour),
			Rollbacks: 1, ChangeFailureRate: 0.5, TimeToRestoreMedian: dur(24 * time.Hour)},
	}
	if diff := cmp.Diff(want, rep.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

func TestSummarizeEdges(t *testing.T) {
	at := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	rb := Event{Time: at.Add(time.Hour), Environment: "prod", Image: "api", How: HowRollback, From: "api:2", To: "api:1"}
	for _, tc := range []struct {
		name         string
		ev           []Event
		since, until time.Time
		want         Summary
	}{
		{name: "no events, empty window", since: at, until: at,
			want: Summary{Environment: "prod"}},
		// Only a rollback: no other deployment to count it against, and the version rolled
		// back from arrived before the window.
		{name: "only a rollback", ev: []Event{rb}, since: at, until: at.Add(7 * 24 * time.Hour),
			want: Summary{Environment: "prod", Deployments: 1, PerWeek: 1, Rollbacks: 1}},
		// Without digests, versions match by reference.
		{name: "rollback matched by reference", since: at, until: at.Add(14 * 24 * time.Hour),
			ev: []Event{rb, {Time: at, Environment: "prod", Image: "api", How: HowPromote, From: "api:1", To: "api:2"}},
			want: Summary{Environment: "prod", Deployments: 2, PerWeek: 1, Rollbacks: 1, ChangeFailureRate: 1,
				TimeToRestoreMedian: dur(time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(tc.ev, []string{"prod"}, tc.since, tc.until)
			if diff := cmp.Diff([]Summary{tc.want}, got); diff != "" {
				t.Errorf("summarize (-want +got):\n%s", diff)
			}
		})
	}
}

// readSample reads testdata/sample.json: six weeks of three images through dev → staging →
// prod, with two rollbacks and a manual change.
func readSample(t testing.TB) *Report {
	t.Helper()
	b, err := os.ReadFile("testdata/sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("reading testdata/sample.json: %v", err)
	}
	return &rep
}

// TestSampleIsFinished recomputes the sample's lead times and summary from its events, so
// the figures the HTML tests expect follow the rules above.
func TestSampleIsFinished(t *testing.T) {
	want := readSample(t)
	got := readSample(t)
	got.Summary = nil
	for i := range got.Events {
		got.Events[i].LeadTime = nil
	}
	Finish(got, []string{"dev", "staging", "prod"}, Chains{"dev": "dev", "staging": "dev", "prod": "dev"}, nil)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("testdata/sample.json is not what Finish makes of its events (-file +Finish):\n%s", diff)
	}
}
