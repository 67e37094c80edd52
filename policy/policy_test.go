package policy_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ferryhq/ferry/policy"
)

var (
	hex64  = strings.Repeat("ab12", 16)
	hex128 = strings.Repeat("cd34", 32)
	t0     = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
)

func mustNew(t testing.TB, s policy.Spec) *policy.Policy {
	t.Helper()
	p, err := policy.New(s)
	if err != nil {
		t.Fatalf("New(%+v): %v", s, err)
	}
	return p
}

// reasons reduces a ranking's rejections to tag → reason, for tables that do not pin details.
func reasons(r policy.Ranking) map[string]policy.Reason {
	m := map[string]policy.Reason{}
	for _, rej := range r.Rejected {
		m[rej.Tag] = rej.Reason
	}
	return m
}

type cands = []policy.Candidate

func TestRank(t *testing.T) {
	const (
		sig  = policy.ReasonSignatureTag
		nf   = policy.ReasonNotFollowed
		ign  = policy.ReasonIgnored
		nm   = policy.ReasonNoMatch
		unp  = policy.ReasonUnparsable
		pre  = policy.ReasonPrerelease
		oor  = policy.ReasonOutOfRange
		noct = policy.ReasonNoCreatedTime
	)
	tests := []struct {
		name     string
		spec     policy.Spec
		tags     []string
		created  map[string]time.Time
		want     cands
		rejected map[string]policy.Reason
	}{
		{
			name: "semver range filters and orders",
			spec: policy.Spec{Semver: ">=1.2.0 <2.0.0"},
			tags: []string{"1.0.0", "1.2.0", "v1.3.0", "2.0.0", "1.3.0-rc.1", "latest", "1.2", "1.10.0", "sha256-" + hex64 + ".sig"},
			want: cands{{"1.10.0", "1.10.0"}, {"v1.3.0", "1.3.0"}, {"1.2.0", "1.2.0"}},
			rejected: map[string]policy.Reason{
				"1.0.0": oor, "2.0.0": oor, "1.3.0-rc.1": pre, "latest": unp, "1.2": unp, "sha256-" + hex64 + ".sig": sig,
			},
		},
		{
			name:     "semver prereleases when asked, in Masterminds order",
			spec:     policy.Spec{Semver: ">=1.2.0 <2.0.0", Prerelease: true},
			tags:     []string{"1.2.0", "1.3.0-rc.1", "1.3.0-rc.2", "1.3.0-beta.10", "1.3.0", "1.1.0-rc.1"},
			want:     cands{{"1.3.0", "1.3.0"}, {"1.3.0-rc.2", "1.3.0-rc.2"}, {"1.3.0-rc.1", "1.3.0-rc.1"}, {"1.3.0-beta.10", "1.3.0-beta.10"}, {"1.2.0", "1.2.0"}},
			rejected: map[string]policy.Reason{"1.1.0-rc.1": oor},
		},
		{
			name:     "semver with prereleases: <2.0.0 admits 2.0.0 prereleases, <2.0.0-0 does not",
			spec:     policy.Spec{Semver: ">=1.0.0 <2.0.0-0", Prerelease: true},
			tags:     []string{"2.0.0-rc.1", "1.9.0"},
			want:     cands{{"1.9.0", "1.9.0"}},
			rejected: map[string]policy.Reason{"2.0.0-rc.1": oor},
		},
		{
			name:     "semver constraint naming a prerelease admits prereleases without the flag",
			spec:     policy.Spec{Semver: ">=1.3.0-0"},
			tags:     []string{"1.3.0-rc.1", "1.2.0", "1.4.0"},
			want:     cands{{"1.4.0", "1.4.0"}, {"1.3.0-rc.1", "1.3.0-rc.1"}},
			rejected: map[string]policy.Reason{"1.2.0": oor},
		},
		{
			name:     "empty spec is semver * without prereleases",
			spec:     policy.Spec{},
			tags:     []string{"1.0.0", "2.0.0-rc.1", "0.0.1", "2.0.0"},
			want:     cands{{"2.0.0", "2.0.0"}, {"1.0.0", "1.0.0"}, {"0.0.1", "0.0.1"}},
			rejected: map[string]policy.Reason{"2.0.0-rc.1": pre},
		},
		{
			name:     "v prefix mix and duplicates: each tag once, aliases tie by tag",
			spec:     policy.Spec{Semver: "*"},
			tags:     []string{"1.2.3", "v1.2.3", "1.2.3", "v1.2.4", "v1.2.4", "V1.2.5", "vv1.2.6"},
			want:     cands{{"v1.2.4", "1.2.4"}, {"1.2.3", "1.2.3"}, {"v1.2.3", "1.2.3"}},
			rejected: map[string]policy.Reason{"V1.2.5": unp, "vv1.2.6": unp},
		},
		{
			name:     "build metadata does not order; ties broken by tag",
			spec:     policy.Spec{Semver: "^1"},
			tags:     []string{"1.2.3+b2", "1.2.3+b10", "1.2.4", "1.2.3-rc.1+b1"},
			want:     cands{{"1.2.4", "1.2.4"}, {"1.2.3+b10", "1.2.3+b10"}, {"1.2.3+b2", "1.2.3+b2"}},
			rejected: map[string]policy.Reason{"1.2.3-rc.1+b1": pre},
		},
		{
			name:     "semver rejects partial, leading-zero and date-like versions",
			spec:     policy.Spec{Semver: ">=1"},
			tags:     []string{"1", "1.2", "01.2.3", "20241101", "1.2.3.4", "1.2.3"},
			want:     cands{{"1.2.3", "1.2.3"}},
			rejected: map[string]policy.Reason{"1": unp, "1.2": unp, "01.2.3": unp, "20241101": unp, "1.2.3.4": unp},
		},
		{
			name:     "semver from the allow group",
			spec:     policy.Spec{Semver: "~1.4", Allow: `^api-v?(?P<version>\d+\.\d+\.\d+)-(amd64|multi)$`},
			tags:     []string{"api-1.4.0-multi", "api-v1.4.2-amd64", "api-1.5.0-multi", "web-1.4.9-multi", "api-1.4.1-arm"},
			want:     cands{{"api-v1.4.2-amd64", "1.4.2"}, {"api-1.4.0-multi", "1.4.0"}},
			rejected: map[string]policy.Reason{"api-1.5.0-multi": oor, "web-1.4.9-multi": nm, "api-1.4.1-arm": nm},
		},
		{
			name:     "numerical asc: greatest is newest, exact beyond float precision",
			spec:     policy.Spec{Numerical: "asc"},
			tags:     []string{"1", "10", "9", "2.5", "02", "abc", "1e5", "-3", "0x10", "1.", ".5", "20240101120000000001", "20240101120000000002", "Inf", "NaN", "+4"},
			want:     cands{{"20240101120000000002", "20240101120000000002"}, {"20240101120000000001", "20240101120000000001"}, {"10", "10"}, {"9", "9"}, {"2.5", "2.5"}, {"02", "02"}, {"1", "1"}, {"-3", "-3"}},
			rejected: map[string]policy.Reason{"abc": unp, "1e5": unp, "0x10": unp, "1.": unp, ".5": unp, "Inf": unp, "NaN": unp, "+4": unp},
		},
		{
			name: "numerical desc: least is newest",
			spec: policy.Spec{Numerical: "desc"},
			tags: []string{"1", "10", "2.5", "-3", "-3.5", "0"},
			want: cands{{"-3.5", "-3.5"}, {"-3", "-3"}, {"0", "0"}, {"1", "1"}, {"2.5", "2.5"}, {"10", "10"}},
		},
		{
			name: "numerical equal values tie by tag",
			spec: policy.Spec{Numerical: "asc", Allow: `^build-(?P<version>[0-9.-]+)$`},
			tags: []string{"build-1.0", "build-1", "build-01", "build-0.10", "build-0.9", "build--0", "build-0"},
			want: cands{{"build-01", "01"}, {"build-1", "1"}, {"build-1.0", "1.0"}, {"build-0.9", "0.9"}, {"build-0.10", "0.10"}, {"build--0", "-0"}, {"build-0", "0"}},
		},
		{
			name: "alphabetical asc: last in byte order is newest",
			spec: policy.Spec{Alphabetical: "asc"},
			tags: []string{"a", "c", "b", "B", "aa"},
			want: cands{{"c", "c"}, {"b", "b"}, {"aa", "aa"}, {"a", "a"}, {"B", "B"}},
		},
		{
			name: "alphabetical desc: first in byte order is newest",
			spec: policy.Spec{Alphabetical: "desc"},
			tags: []string{"a", "c", "b"},
			want: cands{{"a", "a"}, {"b", "b"}, {"c", "c"}},
		},
		{
			name:     "alphabetical on a timestamp group, ignoring the commit part",
			spec:     policy.Spec{Alphabetical: "asc", Allow: `^main-(?P<version>\d{8}T\d{6})-[0-9a-f]{7}$`},
			tags:     []string{"main-20241101T120000-fffffff", "main-20241102T080000-0000000", "feature-20241103T000000-abcdef0", "main-latest"},
			want:     cands{{"main-20241102T080000-0000000", "20241102T080000"}, {"main-20241101T120000-fffffff", "20241101T120000"}},
			rejected: map[string]policy.Reason{"feature-20241103T000000-abcdef0": nm, "main-latest": nm},
		},
		{
			name: "newest-build by created time; missing, zero and epoch times rejected; ties by tag",
			spec: policy.Spec{NewestBuild: true, Ignore: []string{"*.sig"}},
			tags: []string{"old", "new", "twin-b", "twin-a", "missing", "zero", "ko", "x.sig"},
			created: map[string]time.Time{
				"old": t0, "new": t0.Add(2 * time.Hour), "twin-b": t0.Add(time.Hour), "twin-a": t0.Add(time.Hour),
				"zero": {}, "ko": time.Unix(0, 0),
			},
			want:     cands{{"new", "new"}, {"twin-a", "twin-a"}, {"twin-b", "twin-b"}, {"old", "old"}},
			rejected: map[string]policy.Reason{"missing": noct, "zero": noct, "ko": noct, "x.sig": ign},
		},
		{
			name:     "newest-build without any created times rejects everything",
			spec:     policy.Spec{NewestBuild: true},
			tags:     []string{"a", "b"},
			rejected: map[string]policy.Reason{"a": noct, "b": noct},
		},
		{
			name:     "digest follows one tag",
			spec:     policy.Spec{Digest: "main"},
			tags:     []string{"main", "1.0.0", "main-2", "sha256-" + hex64 + ".sig"},
			want:     cands{{"main", "main"}},
			rejected: map[string]policy.Reason{"1.0.0": nf, "main-2": nf, "sha256-" + hex64 + ".sig": sig},
		},
		{
			name:     "digest with the followed tag absent",
			spec:     policy.Spec{Digest: "main"},
			tags:     []string{"1.0.0"},
			rejected: map[string]policy.Reason{"1.0.0": nf},
		},
		{
			name:     "ignore globs",
			spec:     policy.Spec{Semver: "*", Ignore: []string{"latest", "*-debug", "1.0.[0-4]"}},
			tags:     []string{"latest", "1.0.0-debug", "1.0.3", "1.0.5", "latest2"},
			want:     cands{{"1.0.5", "1.0.5"}},
			rejected: map[string]policy.Reason{"latest": ign, "1.0.0-debug": ign, "1.0.3": ign, "latest2": unp},
		},
		{
			name:     "ignore is checked before allow",
			spec:     policy.Spec{Semver: "*", Allow: `^v`, Ignore: []string{"v9*"}},
			tags:     []string{"v9.0.0", "8.0.0", "v1.0.0"},
			want:     cands{{"v1.0.0", "1.0.0"}},
			rejected: map[string]policy.Reason{"v9.0.0": ign, "8.0.0": nm},
		},
		{
			name:     "allow without a version group orders the whole tag",
			spec:     policy.Spec{Semver: "*", Allow: `^1\.`},
			tags:     []string{"1.0.0", "1.1.0", "2.0.0"},
			want:     cands{{"1.1.0", "1.1.0"}, {"1.0.0", "1.0.0"}},
			rejected: map[string]policy.Reason{"2.0.0": nm},
		},
		{
			name:     "allow whose version group matches nothing",
			spec:     policy.Spec{Alphabetical: "asc", Allow: `^(?P<version>[a-z]*)-?x$|^y(?P<other>.)$`},
			tags:     []string{"-x", "abc-x", "yz"},
			want:     cands{{"abc-x", "abc"}},
			rejected: map[string]policy.Reason{"-x": nm, "yz": nm},
		},
		{
			name: "signature, attestation, SBOM and referrers fallback tags always rejected",
			spec: policy.Spec{Alphabetical: "asc"},
			tags: []string{"sha256-" + hex64 + ".sig", "sha256-" + hex64 + ".att", "sha256-" + hex64 + ".sbom", "sha256-" + hex64,
				"sha512-" + hex128 + ".sig", "sha256-" + hex64 + ".foo", "sha256-abc.sig", "sha256-" + strings.ToUpper(hex64) + ".sig", "sha256-" + hex64 + "x"},
			want: cands{{"sha256-abc.sig", "sha256-abc.sig"}, {"sha256-" + hex64 + "x", "sha256-" + hex64 + "x"}, {"sha256-" + strings.ToUpper(hex64) + ".sig", "sha256-" + strings.ToUpper(hex64) + ".sig"}},
			rejected: map[string]policy.Reason{
				"sha256-" + hex64 + ".sig": sig, "sha256-" + hex64 + ".att": sig, "sha256-" + hex64 + ".sbom": sig, "sha256-" + hex64: sig,
				"sha512-" + hex128 + ".sig": sig, "sha256-" + hex64 + ".foo": sig,
			},
		},
		{
			name: "no tags",
			spec: policy.Spec{Semver: "*"},
		},
		{
			name:     "empty tag string is rejected, not a crash",
			spec:     policy.Spec{Numerical: "asc"},
			tags:     []string{""},
			rejected: map[string]policy.Reason{"": unp},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, tc.spec)
			got := p.Rank(tc.tags, tc.created)
			if diff := cmp.Diff(tc.want, got.Candidates, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.rejected, reasons(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("rejections (-want +got):\n%s", diff)
			}
			checkInvariants(t, p, tc.tags, got)
			// The result does not depend on input order.
			rev := slices.Clone(tc.tags)
			slices.Reverse(rev)
			if diff := cmp.Diff(got, p.Rank(rev, tc.created)); diff != "" {
				t.Errorf("reversed input ranks differently (-first +reversed):\n%s", diff)
			}
		})
	}
}

// checkInvariants holds for every policy and input: each distinct tag once, rejections sorted by
// tag, candidates newest first by Compare, and Allows agreeing with Rank (created times aside).
func checkInvariants(t *testing.T, p *policy.Policy, tags []string, got policy.Ranking) {
	t.Helper()
	distinct := map[string]bool{}
	for _, tag := range tags {
		distinct[tag] = true
	}
	seen := map[string]int{}
	for _, c := range got.Candidates {
		seen[c.Tag]++
	}
	for _, r := range got.Rejected {
		seen[r.Tag]++
		if r.Reason == "" || r.Detail == "" {
			t.Errorf("rejection of %q lacks a reason or detail: %+v", r.Tag, r)
		}
	}
	for tag, n := range seen {
		if n != 1 || !distinct[tag] {
			t.Errorf("tag %q appears %d times in the ranking (in input: %v)", tag, n, distinct[tag])
		}
	}
	if len(seen) != len(distinct) {
		t.Errorf("ranking holds %d tags, input %d distinct", len(seen), len(distinct))
	}
	if got.Candidates == nil || got.Rejected == nil {
		t.Errorf("Rank returned a nil list: %#v", got)
	}
	if !slices.IsSortedFunc(got.Rejected, func(a, b policy.Rejection) int { return strings.Compare(a.Tag, b.Tag) }) {
		t.Errorf("rejections not sorted by tag: %v", got.Rejected)
	}
	created := map[string]time.Time{}
	for i := 1; i < len(got.Candidates); i++ {
		a, b := got.Candidates[i-1].Tag, got.Candidates[i].Tag
		if p.Kind() == policy.KindNewestBuild {
			break // Compare would need the created times; the table checks the order.
		}
		c, err := p.Compare(a, b, created)
		if err != nil {
			t.Fatalf("Compare(%q, %q): %v", a, b, err)
		}
		if c < 0 || (c == 0 && a > b) {
			t.Errorf("candidates out of order: %q before %q (Compare = %d)", a, b, c)
		}
	}
	if p.Kind() != policy.KindNewestBuild {
		for _, c := range got.Candidates {
			if r := p.Allows(c.Tag); r != nil {
				t.Errorf("candidate %q not allowed: %v", c.Tag, r)
			}
		}
		for _, r := range got.Rejected {
			if a := p.Allows(r.Tag); a == nil || *a != r {
				t.Errorf("Allows(%q) = %v, Rank rejected it with %+v", r.Tag, a, r)
			}
		}
	}
}

func TestRankDetails(t *testing.T) {
	p := mustNew(t, policy.Spec{Semver: ">=1.2.0 <2.0.0", Allow: `^v?\d`, Ignore: []string{"*-debug"}})
	got := p.Rank([]string{"sha256-" + hex64 + ".sig", "1.2.0-debug", "latest", "1.x.0", "1.3.0-rc.1", "1.0.0", "v1.2.0"}, nil)
	want := policy.Ranking{
		Candidates: []policy.Candidate{{Tag: "v1.2.0", Version: "1.2.0"}},
		Rejected: []policy.Rejection{
			{Tag: "1.0.0", Reason: policy.ReasonOutOfRange, Detail: `1.0.0 is outside ">=1.2.0 <2.0.0"`},
			{Tag: "1.2.0-debug", Reason: policy.ReasonIgnored, Detail: `matches ignore glob "*-debug"`},
			{Tag: "1.3.0-rc.1", Reason: policy.ReasonPrerelease, Detail: "1.3.0-rc.1 is a prerelease; set prerelease to include prereleases"},
			{Tag: "1.x.0", Reason: policy.ReasonUnparsable, Detail: `"1.x.0" is not a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], with or without v: invalid characters in version`},
			{Tag: "latest", Reason: policy.ReasonNoMatch, Detail: `does not match allow "^v?\\d"`},
			{Tag: "sha256-" + hex64 + ".sig", Reason: policy.ReasonSignatureTag, Detail: "a cosign signature tag"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rank (-want +got):\n%s", diff)
	}
}

func TestRankManyTags(t *testing.T) {
	tags := semverTags(5000)
	p := mustNew(t, policy.Spec{Semver: ">=3.0.0 <7.0.0"})
	got := p.Rank(tags, nil)
	checkInvariants(t, p, tags, got)
	best, ok := got.Best()
	// 6.9.9, v6.9.9 and 6.9.9+b tie; the tag decides.
	if diff := cmp.Diff(policy.Candidate{Tag: "6.9.9", Version: "6.9.9"}, best); !ok || diff != "" {
		t.Errorf("Best (-want +got), ok=%v:\n%s", ok, diff)
	}
	// 1,000 versions (majors 0-9), 400 in range, each spelled 5 ways.
	counts := map[string]int{"candidate": len(got.Candidates)}
	for _, r := range got.Rejected {
		counts[string(r.Reason)]++
	}
	want := map[string]int{
		"candidate": 400 * 3, // plain, v and +b
		// x.y.z-rc.1 for 3.0.1 … 7.0.0 would be in range as prereleases; 3.0.0-rc.1 is below it.
		string(policy.ReasonPrerelease): 400,
		string(policy.ReasonOutOfRange): 600*3 + 600,
		string(policy.ReasonUnparsable): 1000, // -junk_
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// semverTags returns n tags in a fixed shuffled order: for i.j.k, "i.j.k", "vi.j.k",
// "i.j.k-rc.1", "i.j.k+b" and "i.j.k-junk_" (underscore: unparsable).
func semverTags(n int) []string {
	tags := make([]string, 0, n)
	for i := 0; len(tags) < n; i++ {
		v := fmt.Sprintf("%d.%d.%d", i/100%10, i/10%10, i%10)
		for _, s := range []string{v, "v" + v, v + "-rc.1", v + "+b", v + "-junk_"} {
			if len(tags) < n {
				tags = append(tags, s)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(tags), func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
	return tags
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		spec  policy.Spec
		field string
		is    error
	}{
		{name: "two kinds", spec: policy.Spec{Semver: "*", Numerical: "asc"}, field: "policy", is: policy.ErrConflictingKinds},
		{name: "three kinds", spec: policy.Spec{Alphabetical: "asc", NewestBuild: true, Digest: "main"}, field: "policy", is: policy.ErrConflictingKinds},
		{name: "bad constraint", spec: policy.Spec{Semver: ">=banana"}, field: "policy.semver"},
		{name: "constraint too long", spec: policy.Spec{Semver: strings.Repeat("1", 600)}, field: "policy.semver"},
		{name: "bad numerical order", spec: policy.Spec{Numerical: "up"}, field: "policy.numerical"},
		{name: "uppercase order", spec: policy.Spec{Alphabetical: "ASC"}, field: "policy.alphabetical"},
		{name: "prerelease on numerical", spec: policy.Spec{Numerical: "asc", Prerelease: true}, field: "policy.prerelease"},
		{name: "bad regexp", spec: policy.Spec{Allow: "(unclosed"}, field: "tags.allow"},
		{name: "bad glob", spec: policy.Spec{Ignore: []string{"ok", "[a-"}}, field: "tags.ignore[1]"},
		{name: "empty glob", spec: policy.Spec{Ignore: []string{""}}, field: "tags.ignore[0]"},
		{name: "digest not a tag", spec: policy.Spec{Digest: "-main"}, field: "policy.digest"},
		{name: "digest too long", spec: policy.Spec{Digest: strings.Repeat("a", 129)}, field: "policy.digest"},
		{name: "digest with a slash", spec: policy.Spec{Digest: "feature/x"}, field: "policy.digest"},
		{name: "digest names a signature tag", spec: policy.Spec{Digest: "sha256-" + hex64 + ".sig"}, field: "policy.digest"},
		{name: "digest excluded by ignore", spec: policy.Spec{Digest: "main", Ignore: []string{"ma*"}}, field: "policy.digest"},
		{name: "digest excluded by allow", spec: policy.Spec{Digest: "main", Allow: "^v"}, field: "policy.digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.New(tc.spec)
			if err == nil {
				t.Fatalf("New(%+v) = %v, want an error", tc.spec, p)
			}
			var se *policy.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, want *policy.SpecError", err, err)
			}
			if diff := cmp.Diff(tc.field, se.Field); diff != "" {
				t.Errorf("field (-want +got):\n%s", diff)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name field %q", err, tc.field)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	tests := []struct {
		name string
		spec policy.Spec
		kind policy.Kind
		str  string
	}{
		{"default", policy.Spec{}, policy.KindSemver, `semver "*"`},
		{"default with prereleases", policy.Spec{Prerelease: true}, policy.KindSemver, `semver "*" with prereleases`},
		{"semver", policy.Spec{Semver: "^1.2 || ~3.1", Allow: "^v", Ignore: []string{"latest"}}, policy.KindSemver, `semver "^1.2 || ~3.1" allow "^v" ignore [latest]`},
		{"numerical", policy.Spec{Numerical: "desc"}, policy.KindNumerical, "numerical desc"},
		{"alphabetical", policy.Spec{Alphabetical: "asc"}, policy.KindAlphabetical, "alphabetical asc"},
		{"newest-build", policy.Spec{NewestBuild: true}, policy.KindNewestBuild, "newest-build"},
		{"digest", policy.Spec{Digest: "main", Allow: "^main$"}, policy.KindDigest, `digest of tag "main" allow "^main$"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, tc.spec)
			if diff := cmp.Diff(tc.kind, p.Kind()); diff != "" {
				t.Errorf("Kind (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.str, p.String()); diff != "" {
				t.Errorf("String (-want +got):\n%s", diff)
			}
			if got, want := p.NeedsCreated(), tc.kind == policy.KindNewestBuild; got != want {
				t.Errorf("NeedsCreated = %v, want %v", got, want)
			}
			if got, want := p.FollowedTag(), tc.spec.Digest; got != want {
				t.Errorf("FollowedTag = %q, want %q", got, want)
			}
		})
	}
}

func TestSpecIsACopy(t *testing.T) {
	ignore := []string{"latest"}
	p := mustNew(t, policy.Spec{Ignore: ignore})
	ignore[0] = "1.0.0"
	s := p.Spec()
	s.Ignore[0] = "2.0.0"
	if r := p.Allows("1.0.0"); r != nil {
		t.Errorf("Allows(1.0.0) = %v after the caller's slice changed", r)
	}
	if diff := cmp.Diff(policy.Spec{Semver: "*", Ignore: []string{"latest"}}, p.Spec()); diff != "" {
		t.Errorf("Spec (-want +got):\n%s", diff)
	}
}

func TestAllows(t *testing.T) {
	semverP := policy.Spec{Semver: ">=1.2.0 <2.0.0", Ignore: []string{"*-debug"}}
	tests := []struct {
		name string
		spec policy.Spec
		tag  string
		want policy.Reason // "" when allowed
	}{
		{"in range", semverP, "1.4.2", ""},
		{"in range with v", semverP, "v1.4.2", ""},
		{"below", semverP, "1.1.9", policy.ReasonOutOfRange},
		{"above", semverP, "2.0.0", policy.ReasonOutOfRange},
		{"prerelease", semverP, "1.5.0-rc.1", policy.ReasonPrerelease},
		{"ignored", semverP, "1.4.2-debug", policy.ReasonIgnored},
		{"unparsable", semverP, "latest", policy.ReasonUnparsable},
		{"signature", semverP, "sha256-" + hex64 + ".sig", policy.ReasonSignatureTag},
		{"newest-build ignores created times", policy.Spec{NewestBuild: true}, "anything", ""},
		{"newest-build still filters", policy.Spec{NewestBuild: true, Allow: "^main-"}, "pr-1", policy.ReasonNoMatch},
		{"digest followed", policy.Spec{Digest: "main"}, "main", ""},
		{"digest other", policy.Spec{Digest: "main"}, "1.0.0", policy.ReasonNotFollowed},
		{"numerical", policy.Spec{Numerical: "asc"}, "12.5", ""},
		{"numerical junk", policy.Spec{Numerical: "asc"}, "12a", policy.ReasonUnparsable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got policy.Reason
			if r := mustNew(t, tc.spec).Allows(tc.tag); r != nil {
				got = r.Reason
				if r.Tag != tc.tag || r.Detail == "" {
					t.Errorf("rejection %+v: want tag %q and a detail", r, tc.tag)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Allows(%q) (-want +got):\n%s", tc.tag, diff)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	created := map[string]time.Time{"a": t0, "b": t0.Add(time.Minute)}
	tests := []struct {
		name    string
		spec    policy.Spec
		a, b    string
		want    int
		wantErr policy.Reason // rejection reason carried by the error
		is      error
	}{
		{name: "semver newer", spec: policy.Spec{Semver: "*"}, a: "1.10.0", b: "v1.9.0", want: 1},
		{name: "semver older", spec: policy.Spec{Semver: "*"}, a: "1.2.0", b: "1.2.1", want: -1},
		{name: "semver alias equal", spec: policy.Spec{Semver: "*"}, a: "v1.2.0", b: "1.2.0", want: 0},
		{name: "semver prerelease older than release", spec: policy.Spec{Semver: "*"}, a: "1.2.0-rc.1", b: "1.2.0", want: -1},
		{name: "outside today's range still compares", spec: policy.Spec{Semver: ">=2.0.0"}, a: "1.0.0", b: "1.1.0", want: -1},
		{name: "ignored tags still compare", spec: policy.Spec{Semver: "*", Ignore: []string{"1.*"}}, a: "1.0.0", b: "0.9.0", want: 1},
		{name: "through the allow group", spec: policy.Spec{Semver: "*", Allow: `^api-(?P<version>.+)$`}, a: "api-2.0.0", b: "api-10.0.0", want: -1},
		{name: "not matching allow", spec: policy.Spec{Semver: "*", Allow: `^api-`}, a: "web-2.0.0", b: "api-1.0.0", wantErr: policy.ReasonNoMatch},
		{name: "unparsable", spec: policy.Spec{Semver: "*"}, a: "1.0.0", b: "latest", wantErr: policy.ReasonUnparsable},
		{name: "signature tag", spec: policy.Spec{Semver: "*"}, a: "sha256-" + hex64 + ".sig", b: "1.0.0", wantErr: policy.ReasonSignatureTag},
		{name: "numerical asc", spec: policy.Spec{Numerical: "asc"}, a: "10", b: "9", want: 1},
		{name: "numerical desc", spec: policy.Spec{Numerical: "desc"}, a: "10", b: "9", want: -1},
		{name: "alphabetical asc", spec: policy.Spec{Alphabetical: "asc"}, a: "b", b: "a", want: 1},
		{name: "alphabetical desc", spec: policy.Spec{Alphabetical: "desc"}, a: "b", b: "a", want: -1},
		{name: "newest-build", spec: policy.Spec{NewestBuild: true}, a: "a", b: "b", want: -1},
		{name: "newest-build missing time", spec: policy.Spec{NewestBuild: true}, a: "a", b: "c", wantErr: policy.ReasonNoCreatedTime},
		{name: "digest has no order", spec: policy.Spec{Digest: "main"}, a: "main", b: "main", is: policy.ErrUnordered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mustNew(t, tc.spec).Compare(tc.a, tc.b, created)
			switch {
			case tc.is != nil:
				if !errors.Is(err, tc.is) {
					t.Fatalf("Compare error = %v, want %v", err, tc.is)
				}
			case tc.wantErr != "":
				var r *policy.Rejection
				if !errors.As(err, &r) {
					t.Fatalf("Compare error = %v (%T), want a *policy.Rejection", err, err)
				}
				if diff := cmp.Diff(tc.wantErr, r.Reason); diff != "" {
					t.Errorf("reason (-want +got):\n%s", diff)
				}
			case err != nil:
				t.Fatalf("Compare: %v", err)
			default:
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Compare(%q, %q) (-want +got):\n%s", tc.a, tc.b, diff)
				}
			}
		})
	}
}

func TestBehind(t *testing.T) {
	p := mustNew(t, policy.Spec{Semver: "*"})
	r := p.Rank([]string{"1.0.0", "v1.1.0", "1.1.0", "1.2.0", "2.0.0", "latest"}, nil)
	tests := []struct {
		current string
		want    int
	}{
		{"2.0.0", 0},
		{"1.2.0", 1},
		{"1.1.0", 2},
		{"v1.1.0", 2},
		{"1.0.0", 3},
		{"latest", -1},
		{"3.0.0", -1},
	}
	for _, tc := range tests {
		t.Run(tc.current, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, policy.Behind(tc.current, r)); diff != "" {
				t.Errorf("Behind(%q) (-want +got):\n%s", tc.current, diff)
			}
		})
	}
	if got := policy.Behind("1.0.0", policy.Ranking{}); got != -1 {
		t.Errorf("Behind in an empty ranking = %d, want -1", got)
	}
}

func TestBest(t *testing.T) {
	if c, ok := (policy.Ranking{}).Best(); ok || c != (policy.Candidate{}) {
		t.Errorf("Best of an empty ranking = %v, %v", c, ok)
	}
}

func TestSoak(t *testing.T) {
	tests := []struct {
		name          string
		landed        time.Time
		d             time.Duration
		wantOK        bool
		wantRemaining time.Duration
	}{
		{"met exactly", t0.Add(-24 * time.Hour), 24 * time.Hour, true, 0},
		{"met long ago", t0.Add(-48 * time.Hour), 24 * time.Hour, true, 0},
		{"not yet", t0.Add(-20 * time.Hour), 24 * time.Hour, false, 4 * time.Hour},
		{"just landed", t0, 24 * time.Hour, false, 24 * time.Hour},
		{"landed in the future (clock skew)", t0.Add(time.Hour), 24 * time.Hour, false, 24 * time.Hour},
		{"unknown landing fails closed", time.Time{}, time.Hour, false, time.Hour},
		{"no gate", t0, 0, true, 0},
		{"negative gate is no gate", time.Time{}, -time.Hour, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, remaining := policy.Soak(tc.landed, t0, tc.d)
			if diff := cmp.Diff([]any{tc.wantOK, tc.wantRemaining}, []any{ok, remaining}); diff != "" {
				t.Errorf("Soak (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRejectionError(t *testing.T) {
	var err error = &policy.Rejection{Tag: "latest", Reason: policy.ReasonUnparsable, Detail: "not a version"}
	if diff := cmp.Diff(`tag "latest": unparsable: not a version`, err.Error()); diff != "" {
		t.Errorf("Error (-want +got):\n%s", diff)
	}
}
