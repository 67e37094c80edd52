package policy

import (
	"testing"

	"github.com/Masterminds/semver/v3"
)

// The fast semver path must agree with Masterminds/semver/v3 everywhere: these tests use
// Masterminds as the oracle for parsing, ordering and constraint checks.

var oracleVersions = []string{
	"0.0.0", "0.0.1", "0.1.0", "0.1.1", "0.2.3", "1.0.0", "1.0.0-0", "1.0.0-alpha", "1.0.0-alpha.1",
	"1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0+build.1",
	"1.2.0", "1.2.3", "1.2.3-rc.1", "1.2.3-rc.1+b", "1.2.4", "1.3.0", "1.3.0-0", "1.10.0",
	"2.0.0", "2.0.0-0", "2.0.0-rc.1", "2.1.0", "3.0.0", "10.20.30", "1.0.0--", "1.0.0-a-b.c-d",
	"1.0.0-99999999999999999999", "1.0.0-18446744073709551615", "1.0.0-18446744073709551616",
	"18446744073709551615.0.0", "1.0.0-1.2", "1.0.0-1.a", "1.0.0-a.1", "1.0.0-x.7.z.92",
}

var oracleConstraints = []string{
	"*", "x", ">=1.2.0 <2.0.0", ">=1.0.0", "^1.2", "^1.2.3", "^0.2.3", "^0.0.3", "^0.0", "^0", "^0.x",
	"^1.x", "~1.2", "~1.2.3", "~1", "~0.0.0", "~0", "~>2.x", "1.2.x", "1.x", "=1.2.3", "1.2.3",
	"!=1.2.3", "!=1.x", "!=1.2.x", "!=1.2.x-rc.1", ">1.2", ">1", ">1.2.3", ">x", "<1.2", "<=1.2",
	"<=1", "=<1.2.3", "=>1.2.3", "<2.0.0-0", "<2.0.0", ">=1.0.0-0", ">=1.0.0-rc.1 <1.0.0",
	"1.2 - 1.4.5", "1.2.3 - 2.3.4 || ^5", ">=1.2.0, <2.0.0", ">= 1.2.0 , < 2.0.0", "v1.2.3", "^v1.2",
	">1.2.3-alpha.1", "~1.2.3-beta", "^1.2.3-beta", "<=1.2.3+meta", "1.2.3+meta", "!=0.0.0",
	"<1.x-alpha", ">=x.1", "X.X.X", "~x", "^x", ">=1.2.x <=1.4", "=1.x.x", "1.2.*",
}

func TestParseStrictAgreesWithMasterminds(t *testing.T) {
	extra := []string{"", "1", "1.2", "v1.2.3", "01.2.3", "1.02.3", "1.2.03", "1.2.3-01", "1.2.3-",
		"1.2.3+", "1.2.3-a..b", "1.2.3+a..b", "1.2.3+01", "1.2.3-a+b+c", "1.2.3+b-c", "1.2-a.3",
		"1.2.3-é", "1..2.3", "1.2.3.4", "18446744073709551616.0.0", "a.b.c", "1.2.3-rc_1"}
	for _, s := range append(extra, oracleVersions...) {
		checkParse(t, s)
	}
}

func checkParse(t *testing.T, s string) {
	t.Helper()
	got, ok := parseStrict(s)
	mv, err := semver.StrictNewVersion(s)
	if ok != (err == nil) {
		t.Fatalf("parseStrict(%q) ok=%v, StrictNewVersion error %v", s, ok, err)
	}
	if !ok {
		return
	}
	want := version{major: mv.Major(), minor: mv.Minor(), patch: mv.Patch(), pre: mv.Prerelease()}
	if got != want {
		t.Fatalf("parseStrict(%q) = %+v, StrictNewVersion %+v", s, got, want)
	}
}

func TestCompareAgreesWithMasterminds(t *testing.T) {
	for _, a := range oracleVersions {
		for _, b := range oracleVersions {
			checkCompare(t, a, b)
		}
	}
}

func checkCompare(t *testing.T, a, b string) {
	t.Helper()
	va, okA := parseStrict(a)
	vb, okB := parseStrict(b)
	if !okA || !okB {
		return
	}
	want := semver.MustParse(a).Compare(semver.MustParse(b))
	if got := va.compare(vb); got != want {
		t.Fatalf("compare(%q, %q) = %d, Masterminds %d", a, b, got, want)
	}
}

func TestCheckAgreesWithMasterminds(t *testing.T) {
	for _, c := range oracleConstraints {
		mc, err := semver.NewConstraint(c)
		if err != nil {
			t.Fatalf("NewConstraint(%q): %v", c, err)
		}
		if _, ok := readConstraints(mc); !ok {
			t.Errorf("readConstraints(%q) = false: the constraint would take the slow path", c)
		}
		for _, v := range oracleVersions {
			checkConstraint(t, c, v)
		}
	}
}

// checkConstraint compares the fast check with Masterminds' Check, with and without
// prereleases, when both c and v parse.
func checkConstraint(t *testing.T, c, v string) {
	t.Helper()
	mc, err := semver.NewConstraint(c)
	if err != nil {
		return
	}
	mv, err := semver.StrictNewVersion(v)
	if err != nil {
		return
	}
	fast, ok := readConstraints(mc)
	if !ok {
		return // the policy calls Masterminds itself
	}
	sv, _ := parseStrict(v)
	for _, pre := range []bool{false, true} {
		cc := *mc
		cc.IncludePrerelease = pre
		if got, want := fast.check(sv, pre), cc.Check(mv); got != want {
			t.Fatalf("check(%q, %q, prerelease=%v) = %v, Masterminds %v", c, v, pre, got, want)
		}
	}
}

func FuzzSemverAgreesWithMasterminds(f *testing.F) {
	for i, c := range oracleConstraints {
		f.Add(c, oracleVersions[i%len(oracleVersions)], oracleVersions[(i*7)%len(oracleVersions)])
	}
	f.Fuzz(func(t *testing.T, c, a, b string) {
		checkParse(t, a)
		checkParse(t, b)
		checkCompare(t, a, b)
		checkConstraint(t, c, a)
		checkConstraint(t, c, b)
	})
}

func BenchmarkCheck(b *testing.B) {
	mc, err := semver.NewConstraint(">=3.0.0 <7.0.0")
	if err != nil {
		b.Fatal(err)
	}
	fast, _ := readConstraints(mc)
	v, _ := parseStrict("1.2.3")
	mv := semver.MustParse("1.2.3")
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fast.check(v, false)
		}
	})
	b.Run("masterminds", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mc.Check(mv)
		}
	})
}
