package policy

import (
	"regexp"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
)

// This file evaluates Masterminds/semver/v3 semantics without allocating: Rank parses thousands
// of tags, and Masterminds' Constraints.Check builds an error value (fmt.Errorf, Version.String)
// for every failed comparison even though Check returns only a bool. Masterminds stays the
// reference: it parses the constraint (New rejects what it rejects), and fuzz tests in
// semver_internal_test.go check parse, Compare and Check against it. Where this code cannot
// read Masterminds' parsed constraint, the policy falls back to calling Masterminds itself.

// version is a strict semantic version with the fields Masterminds' Version compares; build
// metadata never takes part in ordering or constraints, so it is not kept.
type version struct {
	major, minor, patch uint64
	pre                 string
}

// parseStrict accepts exactly what semver.StrictNewVersion accepts and returns the same
// major, minor, patch and prerelease. It does not allocate: pre is a substring of s.
func parseStrict(s string) (version, bool) {
	if len(s) == 0 || len(s) > semver.MaxVersionLen {
		return version{}, false
	}
	// StrictNewVersion splits into three at the first two dots; metadata ("+") and then the
	// prerelease ("-") are cut from the third part only.
	major, rest, ok := strings.Cut(s, ".")
	if !ok {
		return version{}, false
	}
	minor, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return version{}, false
	}
	patch := rest
	if i := strings.IndexByte(patch, '+'); i >= 0 {
		if !validIdentifiers(patch[i+1:], false) {
			return version{}, false
		}
		patch = patch[:i]
	}
	var v version
	if i := strings.IndexByte(patch, '-'); i >= 0 {
		v.pre = patch[i+1:]
		if !validIdentifiers(v.pre, true) {
			return version{}, false
		}
		patch = patch[:i]
	}
	if v.major, ok = parseSegment(major); !ok {
		return version{}, false
	}
	if v.minor, ok = parseSegment(minor); !ok {
		return version{}, false
	}
	if v.patch, ok = parseSegment(patch); !ok {
		return version{}, false
	}
	return v, true
}

// parseSegment parses a numeric segment: digits, no leading zero, fitting in a uint64.
func parseSegment(s string) (uint64, bool) {
	if len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	return parseUint(s)
}

// parseUint is strconv.ParseUint(s, 10, 64) without the error value.
func parseUint(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// validIdentifiers checks dot-separated identifiers of [0-9A-Za-z-], none empty; numeric
// identifiers of a prerelease must not have a leading zero.
func validIdentifiers(s string, prerelease bool) bool {
	for {
		id, rest, more := strings.Cut(s, ".")
		if id == "" {
			return false
		}
		numeric := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				numeric = false
			default:
				return false
			}
		}
		if prerelease && numeric && len(id) > 1 && id[0] == '0' {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// compare is Masterminds' Version.Compare.
func (v version) compare(o version) int {
	switch {
	case v.major != o.major:
		return cmpUint(v.major, o.major)
	case v.minor != o.minor:
		return cmpUint(v.minor, o.minor)
	case v.patch != o.patch:
		return cmpUint(v.patch, o.patch)
	}
	switch {
	case v.pre == "" && o.pre == "":
		return 0
	case v.pre == "":
		return 1
	case o.pre == "":
		return -1
	}
	return comparePrerelease(v.pre, o.pre)
}

func cmpUint(a, b uint64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// comparePrerelease is Masterminds' comparePrerelease: dot-separated parts compared in turn
// (a missing part is ""), without splitting into slices.
func comparePrerelease(a, b string) int {
	moreA, moreB := true, true
	for moreA || moreB {
		var pa, pb string
		if moreA {
			pa, a, moreA = strings.Cut(a, ".")
		}
		if moreB {
			pb, b, moreB = strings.Cut(b, ".")
		}
		if d := comparePrePart(pa, pb); d != 0 {
			return d
		}
	}
	return 0
}

// comparePrePart is Masterminds' comparePrePart: numbers (those that fit a uint64) sort
// before words, numbers by value, words byte-wise; "" sorts first.
func comparePrePart(s, o string) int {
	if s == o {
		return 0
	}
	if s == "" {
		return -1
	}
	if o == "" {
		return 1
	}
	oi, oNum := parseUint(o)
	si, sNum := parseUint(s)
	switch {
	case !oNum && !sNum:
		if s > o {
			return 1
		}
		return -1
	case !oNum:
		return -1
	case !sNum:
		return 1
	}
	if si > oi {
		return 1
	}
	return -1
}

// constraints is a Masterminds Constraints read back into plain values: OR groups of AND
// primitives.
type constraints struct {
	groups      [][]primitive
	containsPre []bool // a group with a prerelease in a primitive admits prereleases
}

// primitive is one comparison, with the fields of Masterminds' unexported constraint.
type primitive struct {
	op                            string // one of the keys of primitiveOps
	con                           version
	dirty, minorDirty, patchDirty bool
}

// primitiveOps maps Masterminds' operators to the operator this file evaluates.
var primitiveOps = map[string]string{
	"": "=", "=": "=", "!=": "!=", ">": ">", "<": "<", ">=": ">=", "=>": ">=",
	"<=": "<=", "=<": "<=", "~": "~", "~>": "~", "^": "^",
}

// cvPattern is the version part of a Masterminds constraint (its cvRegex), anchored.
var cvPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?` +
		`(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?` +
		`(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$`)
})

// readConstraints reads c back from its String form ("op+version" primitives joined by " ",
// groups by " || "), deriving each primitive as Masterminds' parseConstraint does. It
// returns false when the form is not what it expects; the caller then uses c itself.
func readConstraints(c *semver.Constraints) (*constraints, bool) {
	s := c.String()
	if s == "" {
		return nil, false
	}
	var cs constraints
	for _, group := range strings.Split(s, " || ") {
		var g []primitive
		hasPre := false
		for _, prim := range strings.Split(group, " ") {
			p, ok := readPrimitive(prim)
			if !ok {
				return nil, false
			}
			hasPre = hasPre || p.con.pre != ""
			g = append(g, p)
		}
		cs.groups = append(cs.groups, g)
		cs.containsPre = append(cs.containsPre, hasPre)
	}
	return &cs, true
}

func readPrimitive(s string) (primitive, bool) {
	orig := strings.TrimLeft(s, "=!<>~^")
	op, ok := primitiveOps[s[:len(s)-len(orig)]]
	if !ok {
		return primitive{}, false
	}
	p := primitive{op: op}
	m := cvPattern().FindStringSubmatch(orig)
	if m == nil {
		return primitive{}, false
	}
	ver := orig
	switch {
	case isX(m[1]) || m[1] == "":
		ver, p.dirty = "0.0.0"+m[4], true
	case isX(strings.TrimPrefix(m[2], ".")) || m[2] == "":
		ver, p.dirty, p.minorDirty = m[1]+".0.0"+m[4], true, true
	case isX(strings.TrimPrefix(m[3], ".")) || m[3] == "":
		ver, p.dirty, p.patchDirty = m[1]+m[2]+".0"+m[4], true, true
	}
	con, err := semver.NewVersion(ver)
	if err != nil {
		return primitive{}, false
	}
	p.con = version{major: con.Major(), minor: con.Minor(), patch: con.Patch(), pre: con.Prerelease()}
	return p, true
}

func isX(s string) bool { return s == "x" || s == "X" || s == "*" }

// check is Masterminds' Constraints.Check, with includePre its IncludePrerelease.
func (cs *constraints) check(v version, includePre bool) bool {
	for i, g := range cs.groups {
		pre := includePre || cs.containsPre[i]
		ok := true
		for _, p := range g {
			if !p.check(v, pre) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// check is the Masterminds constraint function for p.op, keeping only its bool.
func (p *primitive) check(v version, includePre bool) bool {
	if v.pre != "" && !includePre {
		return false
	}
	c := p.con
	switch p.op {
	case "=":
		if p.dirty {
			return p.tilde(v)
		}
		return v.compare(c) == 0
	case "!=":
		if p.dirty {
			if c.major != v.major {
				return true
			}
			if c.minor != v.minor && !p.minorDirty {
				return true
			} else if p.minorDirty {
				return false
			} else if c.patch != v.patch && !p.patchDirty {
				return true
			} else if p.patchDirty {
				if v.pre != "" || c.pre != "" {
					return comparePrerelease(v.pre, c.pre) != 0
				}
				return false
			}
		}
		return v.compare(c) != 0
	case ">":
		if !p.dirty {
			return v.compare(c) == 1
		}
		switch {
		case v.major > c.major:
			return true
		case v.major < c.major, p.minorDirty:
			return false
		case p.patchDirty:
			return v.minor > c.minor
		}
		return v.compare(c) == 1
	case "<":
		return v.compare(c) < 0
	case ">=":
		return v.compare(c) >= 0
	case "<=":
		if !p.dirty {
			return v.compare(c) <= 0
		}
		if v.major > c.major || v.major == c.major && v.minor > c.minor && !p.minorDirty {
			return false
		}
		return true
	case "~":
		return p.tilde(v)
	case "^":
		if v.compare(c) < 0 {
			return false
		}
		if c.major > 0 || p.minorDirty {
			return v.major == c.major
		}
		if v.major > 0 {
			return false
		}
		if c.minor > 0 || p.patchDirty {
			return v.minor == c.minor
		}
		if v.minor > 0 {
			return false
		}
		return c.patch == v.patch
	}
	return false
}

// tilde is Masterminds' constraintTilde after its prerelease check.
func (p *primitive) tilde(v version) bool {
	c := p.con
	if v.compare(c) < 0 {
		return false
	}
	if c.major == 0 && c.minor == 0 && c.patch == 0 && !p.minorDirty && !p.patchDirty {
		return true
	}
	if v.major != c.major {
		return false
	}
	return v.minor == c.minor || p.minorDirty
}
