package policy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Kind is how a policy orders versions.
type Kind string

// The kinds of policy. Exactly one applies to a Policy.
const (
	KindSemver       Kind = "semver"
	KindNumerical    Kind = "numerical"
	KindAlphabetical Kind = "alphabetical"
	KindNewestBuild  Kind = "newest-build"
	KindDigest       Kind = "digest"
)

// Orders for the numerical and alphabetical kinds.
const (
	// OrderAsc: the greatest value is the newest (Flux's order: asc).
	OrderAsc = "asc"
	// OrderDesc: the least value is the newest (Flux's order: desc).
	OrderDesc = "desc"
)

// DefaultSemver is the constraint used when a Spec names no kind: every release version.
const DefaultSemver = "*"

// Spec is a policy as ferry.yaml or the command line states it. Exactly one kind field is set
// (Semver, Numerical, Alphabetical, NewestBuild, Digest); a Spec with none means semver
// DefaultSemver, every release version. Field names in errors are ferry.yaml's keys.
type Spec struct {
	// Semver is a Masterminds/semver/v3 constraint, e.g. ">=1.2.0 <2.0.0"; "" means not this kind.
	Semver string
	// Prerelease includes prerelease versions in a semver policy. Without it a prerelease is
	// only a candidate when the constraint itself names a prerelease (e.g. ">=1.0.0-0"), as in
	// Masterminds' and Flux's semantics.
	Prerelease bool
	// Numerical is "asc" (greatest number newest) or "desc" (least number newest).
	Numerical string
	// Alphabetical is "asc" (last in byte order newest) or "desc" (first in byte order newest).
	Alphabetical string
	// NewestBuild orders by the image's created time, which the caller supplies.
	NewestBuild bool
	// Digest follows one mutable tag (e.g. "main"): the only candidate is that tag, and what
	// changes is the digest it points at, which the caller resolves.
	Digest string
	// Allow is a regexp a tag must match; its named group "version", when present, is the
	// part that is ordered. Unanchored, as in Go's regexp: write ^…$ to match whole tags.
	Allow string
	// Ignore lists globs (path.Match syntax: *, ?, [a-z]) of tags to leave out.
	Ignore []string
}

// SpecError is a Spec that cannot make a Policy. Field is the ferry.yaml key at fault, as a
// path within the image entry: "policy.semver", "policy.numerical", "policy.alphabetical",
// "policy.digest", "policy.prerelease", "tags.allow", "tags.ignore[i]", or "policy" when kinds
// conflict (Value then lists them).
type SpecError struct {
	Field string
	Value string
	Err   error
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("%s %q: %v", e.Field, e.Value, e.Err)
}

func (e *SpecError) Unwrap() error { return e.Err }

// Sentinel errors wrapped by SpecError and returned by Compare.
var (
	// ErrConflictingKinds: a Spec names more than one kind.
	ErrConflictingKinds = errors.New("more than one kind given; choose exactly one of semver, numerical, alphabetical, newestBuild, digest")
	// ErrUnordered: the policy has no order between versions (the digest kind).
	ErrUnordered = errors.New("a digest policy follows one tag and has no order between versions")
)

// Policy filters and orders tags. It is immutable and safe for concurrent use.
type Policy struct {
	spec       Spec
	kind       Kind
	constraint *semver.Constraints // semver
	withPre    *semver.Constraints // semver, IncludePrerelease set: tells prerelease from out-of-range
	desc       bool                // numerical, alphabetical: the least value is the newest
	allow      *regexp.Regexp
	versionIdx int // index of the "version" group in allow, or -1
	ignore     []string

	// Rank's fast path and the fixed rejection details, made once so a tag costs no
	// formatting (see semver.go).
	fast              *constraints // semver; nil: call Masterminds for each check
	detailOutside     string
	detailNotFollowed string
	detailNoMatch     string
	detailEmptyGroup  string
	detailIgnored     []string // by index in ignore
}

// New validates s and returns its Policy. A bad constraint, order, regexp, glob or digest tag,
// or more than one kind, is a *SpecError naming the field.
func New(s Spec) (*Policy, error) {
	s.Ignore = slices.Clone(s.Ignore)
	p := &Policy{spec: s, versionIdx: -1}
	for _, step := range []func() error{p.chooseKind, p.compileOrder, p.compileFilters, p.checkFollowedTag} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// chooseKind sets the one kind the spec names (semver with DefaultSemver when it names none).
func (p *Policy) chooseKind() error {
	s := p.spec
	var kinds []string
	for _, k := range []struct {
		set  bool
		name string
		kind Kind
	}{
		{s.Semver != "", "semver", KindSemver},
		{s.Numerical != "", "numerical", KindNumerical},
		{s.Alphabetical != "", "alphabetical", KindAlphabetical},
		{s.NewestBuild, "newestBuild", KindNewestBuild},
		{s.Digest != "", "digest", KindDigest},
	} {
		if k.set {
			kinds = append(kinds, k.name)
			p.kind = k.kind
		}
	}
	switch len(kinds) {
	case 0:
		p.kind = KindSemver
		p.spec.Semver = DefaultSemver
	case 1:
	default:
		return &SpecError{Field: "policy", Value: strings.Join(kinds, ", "), Err: ErrConflictingKinds}
	}
	if s.Prerelease && p.kind != KindSemver {
		return &SpecError{Field: "policy.prerelease", Value: "true", Err: fmt.Errorf("only a semver policy has prereleases; remove it or use semver")}
	}
	return nil
}

// compileOrder validates the kind's own setting: the semver constraint, the order, or the
// followed tag.
func (p *Policy) compileOrder() error {
	s := p.spec
	switch p.kind {
	case KindSemver:
		c, err := semver.NewConstraint(s.Semver)
		if err != nil {
			return &SpecError{Field: "policy.semver", Value: s.Semver, Err: fmt.Errorf("not a semver constraint (e.g. \">=1.2.0 <2.0.0\", \"^1.4\", \"~2.1\"): %w", err)}
		}
		p.constraint = c
		pre := *c
		pre.IncludePrerelease = true
		p.withPre = &pre
		if s.Prerelease {
			p.constraint = p.withPre
		}
		if fast, ok := readConstraints(c); ok {
			p.fast = fast
		}
		p.detailOutside = " is outside " + strconv.Quote(s.Semver)
	case KindNumerical:
		desc, err := parseOrder(s.Numerical)
		if err != nil {
			return &SpecError{Field: "policy.numerical", Value: s.Numerical, Err: err}
		}
		p.desc = desc
	case KindAlphabetical:
		desc, err := parseOrder(s.Alphabetical)
		if err != nil {
			return &SpecError{Field: "policy.alphabetical", Value: s.Alphabetical, Err: err}
		}
		p.desc = desc
	case KindDigest:
		if !validTag(s.Digest) {
			return &SpecError{Field: "policy.digest", Value: s.Digest, Err: fmt.Errorf("not a tag name (letters, digits, _ . -, at most 128, not starting with . or -)")}
		}
		if isSignatureTag(s.Digest) {
			return &SpecError{Field: "policy.digest", Value: s.Digest, Err: fmt.Errorf("names a cosign signature tag, not an image tag")}
		}
	}
	return nil
}

// compileFilters compiles tags.allow and checks tags.ignore, with their rejection details.
func (p *Policy) compileFilters() error {
	s := p.spec
	if s.Allow != "" {
		re, err := regexp.Compile(s.Allow)
		if err != nil {
			return &SpecError{Field: "tags.allow", Value: s.Allow, Err: fmt.Errorf("not a Go regexp: %w", err)}
		}
		p.allow = re
		p.versionIdx = re.SubexpIndex("version")
		p.detailNoMatch = fmt.Sprintf("does not match allow %q", s.Allow)
		p.detailEmptyGroup = fmt.Sprintf("allow %q matches but its group \"version\" is empty", s.Allow)
	}
	for i, g := range s.Ignore {
		if g == "" {
			return &SpecError{Field: fmt.Sprintf("tags.ignore[%d]", i), Value: g, Err: fmt.Errorf("empty glob")}
		}
		if _, err := path.Match(g, ""); err != nil {
			return &SpecError{Field: fmt.Sprintf("tags.ignore[%d]", i), Value: g, Err: fmt.Errorf("not a glob (*, ?, [a-z]): %w", err)}
		}
		p.ignore = append(p.ignore, g)
		p.detailIgnored = append(p.detailIgnored, fmt.Sprintf("matches ignore glob %q", g))
	}
	return nil
}

// checkFollowedTag refuses a digest policy whose followed tag its own filters exclude: nothing
// could ever match.
func (p *Policy) checkFollowedTag() error {
	if p.kind != KindDigest {
		return nil
	}
	s := p.spec
	p.detailNotFollowed = fmt.Sprintf("the policy follows tag %q", s.Digest)
	if _, reason, detail := p.filter(s.Digest); reason != "" {
		return &SpecError{Field: "policy.digest", Value: s.Digest, Err: fmt.Errorf("the followed tag is excluded by the policy itself: %s (%s)", reason, detail)}
	}
	return nil
}

func parseOrder(s string) (desc bool, err error) {
	switch s {
	case OrderAsc:
		return false, nil
	case OrderDesc:
		return true, nil
	}
	return false, fmt.Errorf("want %q (greatest is newest) or %q (least is newest)", OrderAsc, OrderDesc)
}

// Kind reports the policy's kind.
func (p *Policy) Kind() Kind { return p.kind }

// Spec returns the Spec the policy was made from, with the default kind filled in.
func (p *Policy) Spec() Spec {
	s := p.spec
	s.Ignore = slices.Clone(s.Ignore)
	return s
}

// NeedsCreated reports whether Rank and Compare need created times (the newest-build kind).
// Callers may fetch them only for tags that Allows accepts.
func (p *Policy) NeedsCreated() bool { return p.kind == KindNewestBuild }

// FollowedTag returns the tag a digest policy follows, or "" for other kinds.
func (p *Policy) FollowedTag() string {
	if p.kind == KindDigest {
		return p.spec.Digest
	}
	return ""
}

// String describes the policy in one line, e.g. `semver ">=1.2.0 <2.0.0" allow "^v" ignore [latest]`.
func (p *Policy) String() string {
	var b strings.Builder
	switch p.kind {
	case KindSemver:
		fmt.Fprintf(&b, "semver %q", p.spec.Semver)
		if p.spec.Prerelease {
			b.WriteString(" with prereleases")
		}
	case KindNumerical:
		fmt.Fprintf(&b, "numerical %s", p.spec.Numerical)
	case KindAlphabetical:
		fmt.Fprintf(&b, "alphabetical %s", p.spec.Alphabetical)
	case KindNewestBuild:
		b.WriteString("newest-build")
	case KindDigest:
		fmt.Fprintf(&b, "digest of tag %q", p.spec.Digest)
	}
	if p.spec.Allow != "" {
		fmt.Fprintf(&b, " allow %q", p.spec.Allow)
	}
	if len(p.spec.Ignore) > 0 {
		fmt.Fprintf(&b, " ignore %v", p.spec.Ignore)
	}
	return b.String()
}

// validTag reports whether s is an OCI tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func validTag(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
