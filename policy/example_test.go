package policy_test

import (
	"fmt"
	"time"

	"github.com/ferryhq/ferry/policy"
)

func ExamplePolicy_Rank() {
	p, err := policy.New(policy.Spec{
		Semver: ">=1.2.0 <2.0.0",
		Ignore: []string{"*-debug"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := p.Rank([]string{"1.1.0", "v1.2.0", "1.3.0", "1.3.0-debug", "1.4.0-rc.1", "2.0.0", "latest",
		"sha256-4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945.sig"}, nil)
	for _, c := range r.Candidates {
		fmt.Printf("%s (%s)\n", c.Tag, c.Version)
	}
	for _, rej := range r.Rejected {
		fmt.Printf("%.20s: %s\n", rej.Tag, rej.Reason)
	}
	// Output:
	// 1.3.0 (1.3.0)
	// v1.2.0 (1.2.0)
	// 1.1.0: out-of-range
	// 1.3.0-debug: ignored
	// 1.4.0-rc.1: prerelease
	// 2.0.0: out-of-range
	// latest: unparsable
	// sha256-4f53cda18c2ba: signature-tag
}

func ExamplePolicy_Rank_allowGroup() {
	// CI tags like main-<timestamp>-<sha>: order by the timestamp only.
	p, err := policy.New(policy.Spec{
		Numerical: policy.OrderAsc,
		Allow:     `^main-(?P<version>\d+)-[0-9a-f]{7}$`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := p.Rank([]string{"main-1730462400-9f8e7d6", "main-1730548800-0a1b2c3", "pr-12-1730600000-abcdef0"}, nil)
	best, _ := r.Best()
	fmt.Println(best.Tag, best.Version)
	fmt.Println(r.Rejected[0].Tag, r.Rejected[0].Reason)
	// Output:
	// main-1730548800-0a1b2c3 1730548800
	// pr-12-1730600000-abcdef0 no-match
}

func ExamplePolicy_Rank_newestBuild() {
	p, _ := policy.New(policy.Spec{NewestBuild: true})
	t := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	created := map[string]time.Time{"build-a": t, "build-b": t.Add(time.Hour), "ko-build": time.Unix(0, 0)}
	r := p.Rank([]string{"build-a", "build-b", "ko-build", "unknown"}, created)
	for _, c := range r.Candidates {
		fmt.Println(c.Tag)
	}
	for _, rej := range r.Rejected {
		fmt.Println(rej.Tag, rej.Reason)
	}
	// Output:
	// build-b
	// build-a
	// ko-build no-created-time
	// unknown no-created-time
}

func ExampleNew_error() {
	_, err := policy.New(policy.Spec{Semver: "^1", Alphabetical: "asc"})
	fmt.Println(err)
	_, err = policy.New(policy.Spec{Allow: "(?P<version>"})
	fmt.Println(err)
	// Output:
	// policy "semver, alphabetical": more than one kind given; choose exactly one of semver, numerical, alphabetical, newestBuild, digest
	// tags.allow "(?P<version>": not a Go regexp: error parsing regexp: missing closing ): `(?P<version>`
}

func ExamplePolicy_Compare() {
	// A downgrade check: bump must not write an older version than the one running.
	p, _ := policy.New(policy.Spec{Semver: "^1"})
	c, err := p.Compare("1.9.0", "v1.10.0", nil)
	fmt.Println(c, err)
	// Output:
	// -1 <nil>
}

func ExampleBehind() {
	p, _ := policy.New(policy.Spec{Semver: "*"})
	r := p.Rank([]string{"1.0.0", "1.1.0", "v1.1.0", "1.2.0"}, nil)
	fmt.Println(policy.Behind("1.0.0", r), policy.Behind("1.2.0", r), policy.Behind("0.9.0", r))
	// Output:
	// 2 0 -1
}

func ExampleSoak() {
	landed := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
	ok, remaining := policy.Soak(landed, now, 24*time.Hour)
	fmt.Println(ok, remaining)
	// Output:
	// false 6h0m0s
}
