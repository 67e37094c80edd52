package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/ferryhq/ferry/policy"
)

// FuzzRank ranks arbitrary tags under each kind and checks the invariants: no panic, every
// distinct tag exactly once, sorted output, and Allows agreeing with Rank.
func FuzzRank(f *testing.F) {
	f.Add("1.0.0\nv1.2.0\n1.2.0-rc.1\nlatest\nsha256-"+hex64+".sig", uint8(0), `^v?(?P<version>.*)$`, "*-debug")
	f.Add("10\n9\n-1.5\n1e3\n007", uint8(1), "", "")
	f.Add("a\nb\n\x00\n\xff\nB", uint8(2), `(?P<version>[a-z]+)`, "[a-c]")
	f.Add("main\nmain\n1.0.0", uint8(4), "", "1.*")
	f.Add("1.2.3+b\n1.2.3\n1.2.3\n99999999999999999999.0.0", uint8(5), "", "")
	f.Fuzz(func(t *testing.T, tagList string, kind uint8, allow, ignore string) {
		specs := []policy.Spec{
			{Semver: ">=1.0.0 <3.0.0"},
			{Numerical: "asc"},
			{Alphabetical: "desc"},
			{NewestBuild: true},
			{Digest: "main"},
			{Semver: "*", Prerelease: true},
		}
		s := specs[int(kind)%len(specs)]
		s.Allow = allow
		if ignore != "" {
			s.Ignore = []string{ignore}
		}
		p, err := policy.New(s)
		if err != nil {
			var se *policy.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("New error %v is %T, want *policy.SpecError", err, err)
			}
			return
		}
		tags := strings.Split(tagList, "\n")
		created := map[string]time.Time{}
		for i, tag := range tags {
			if i%3 != 0 {
				created[tag] = time.Unix(int64(i%5)*1000, 0)
			}
		}
		got := p.Rank(tags, created)
		checkInvariants(t, p, tags, got)
		for _, c := range got.Candidates {
			if p.Kind() == policy.KindSemver {
				// Version is the canonical form, as semver would print it.
				if v, err := semver.StrictNewVersion(c.Version); err != nil || v.String() != c.Version {
					t.Errorf("candidate %q has version %q, not canonical (%v)", c.Tag, c.Version, err)
				}
			}
			if b := policy.Behind(c.Tag, got); b < 0 || b >= len(got.Candidates) {
				t.Errorf("Behind(%q) = %d with %d candidates", c.Tag, b, len(got.Candidates))
			}
		}
	})
}

// FuzzNew feeds arbitrary field values to New: it returns a Policy or a *SpecError naming a
// field, never panics, and a Policy it returns ranks without panicking.
func FuzzNew(f *testing.F) {
	f.Add(">=1.2.0 <2.0.0", "", "", "", `^v(?P<version>.+)$`, "latest", false, false)
	f.Add("", "asc", "", "", "", "", false, false)
	f.Add("", "", "desc", "", "(", "[", true, false)
	f.Add("", "", "", "main", "", "", false, true)
	f.Add("1.2.3 - 2.3.4 || ^5", "", "", "", "", "*-rc*", true, false)
	f.Fuzz(func(t *testing.T, sv, num, alpha, digest, allow, ignore string, pre, newest bool) {
		s := policy.Spec{Semver: sv, Numerical: num, Alphabetical: alpha, Digest: digest, Allow: allow, Prerelease: pre, NewestBuild: newest}
		if ignore != "" {
			s.Ignore = []string{ignore}
		}
		p, err := policy.New(s)
		if err != nil {
			var se *policy.SpecError
			if !errors.As(err, &se) || se.Field == "" {
				t.Fatalf("New error %v (%T): want a *policy.SpecError with a field", err, err)
			}
			return
		}
		_ = p.String()
		tags := []string{sv, num, alpha, digest, allow, ignore, "1.0.0", "v2.0.0-rc.1", "main"}
		checkInvariants(t, p, tags, p.Rank(tags, nil))
	})
}
