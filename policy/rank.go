package policy

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Reason is a short fixed word saying why a tag is not a candidate.
type Reason string

// Rejection reasons, in the order a tag is checked.
const (
	// ReasonSignatureTag: cosign's own tags (sha256-<hex>.sig, .att, .sbom) and OCI referrers
	// fallback tags (sha256-<hex>); always rejected, whatever the policy says.
	ReasonSignatureTag Reason = "signature-tag"
	// ReasonNotFollowed: a digest policy follows another tag.
	ReasonNotFollowed Reason = "not-followed"
	// ReasonIgnored: the tag matches an ignore glob.
	ReasonIgnored Reason = "ignored"
	// ReasonNoMatch: the tag does not match the allow regexp (or its "version" group is empty).
	ReasonNoMatch Reason = "no-match"
	// ReasonUnparsable: the version is not a version of the policy's kind.
	ReasonUnparsable Reason = "unparsable"
	// ReasonPrerelease: a semver prerelease, and the policy does not include prereleases.
	ReasonPrerelease Reason = "prerelease"
	// ReasonOutOfRange: a semver version outside the constraint.
	ReasonOutOfRange Reason = "out-of-range"
	// ReasonNoCreatedTime: newest-build without a usable created time for the tag.
	ReasonNoCreatedTime Reason = "no-created-time"
)

// Candidate is a tag the policy accepts.
type Candidate struct {
	Tag string `json:"tag"`
	// Version is what is ordered: for semver the canonical version (no "v", e.g. "1.4.2-rc.1");
	// otherwise the allow regexp's "version" group, or the whole tag.
	Version string `json:"version"`
}

// Rejection says why a tag is not a candidate. It is also the error Compare returns for a tag
// it cannot order.
type Rejection struct {
	Tag    string `json:"tag"`
	Reason Reason `json:"reason"`
	Detail string `json:"detail"`
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("tag %q: %s: %s", r.Tag, r.Reason, r.Detail)
}

// Ranking is the outcome of Rank. Every distinct input tag is in exactly one of the two lists.
type Ranking struct {
	// Candidates, best (newest) first. Equal versions are ordered by tag, byte-wise ascending.
	Candidates []Candidate `json:"candidates"`
	// Rejected, sorted by tag byte-wise.
	Rejected []Rejection `json:"rejected"`
}

// Best returns the newest candidate, and false when there is none.
func (r Ranking) Best() (Candidate, bool) {
	if len(r.Candidates) == 0 {
		return Candidate{}, false
	}
	return r.Candidates[0], true
}

// key is a parsed version, comparable under the policy's kind.
type key struct {
	tag     string
	version string
	sv      *semver.Version
	num     decimal
	created time.Time
}

// Rank filters tags and orders those that pass, newest first. created holds image created
// times by tag and is read only by the newest-build kind (nil otherwise is fine). Duplicate tags
// count once. The result does not depend on the order of tags.
func (p *Policy) Rank(tags []string, created map[string]time.Time) Ranking {
	seen := make(map[string]struct{}, len(tags))
	keys := make([]key, 0, len(tags))
	rejected := []Rejection{}
	for _, tag := range tags {
		if _, dup := seen[tag]; dup {
			continue
		}
		seen[tag] = struct{}{}
		k, rej := p.evaluate(tag, created, true, true)
		if rej != nil {
			rejected = append(rejected, *rej)
			continue
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := p.compareKeys(b, a); c != 0 {
			return c
		}
		return strings.Compare(a.tag, b.tag)
	})
	slices.SortFunc(rejected, func(a, b Rejection) int { return strings.Compare(a.Tag, b.Tag) })
	r := Ranking{Candidates: make([]Candidate, len(keys)), Rejected: rejected}
	for i, k := range keys {
		r.Candidates[i] = Candidate{Tag: k.tag, Version: k.version}
	}
	return r
}

// Allows returns nil when the policy accepts tag (signature tags, digest's followed tag, ignore,
// allow, parsing, semver range and prereleases), and the Rejection otherwise. It does not look
// at created times: for newest-build, callers can fetch created times only for allowed tags.
func (p *Policy) Allows(tag string) *Rejection {
	_, rej := p.evaluate(tag, nil, true, false)
	return rej
}

// Compare orders two tags by the policy: positive when a is newer than b, negative when older,
// 0 when equal versions. It extracts and parses versions as Rank does but ignores the range,
// prerelease and ignore filters, so a tag outside today's range still compares (for downgrade
// checks). A tag it cannot order is returned as a *Rejection error; a digest policy returns
// ErrUnordered.
func (p *Policy) Compare(a, b string, created map[string]time.Time) (int, error) {
	if p.kind == KindDigest {
		return 0, ErrUnordered
	}
	ka, rej := p.evaluate(a, created, false, true)
	if rej != nil {
		return 0, rej
	}
	kb, rej := p.evaluate(b, created, false, true)
	if rej != nil {
		return 0, rej
	}
	return p.compareKeys(ka, kb), nil
}

// Behind counts the versions newer than current: the distinct Versions of the candidates ranked
// before current's tag, other than current's own (so aliases such as "v1.2.3" and "1.2.3" count
// once, and never against each other). It returns -1 when current is not a candidate, since the
// ranking alone cannot place it.
func Behind(current string, r Ranking) int {
	i := slices.IndexFunc(r.Candidates, func(c Candidate) bool { return c.Tag == current })
	if i < 0 {
		return -1
	}
	newer := map[string]struct{}{}
	for _, c := range r.Candidates[:i] {
		if c.Version != r.Candidates[i].Version {
			newer[c.Version] = struct{}{}
		}
	}
	return len(newer)
}

// evaluate runs the checks in the order of the Reason constants. filters=false skips ignore,
// range and prerelease (Compare); withCreated=false skips the created-time check (Allows).
func (p *Policy) evaluate(tag string, created map[string]time.Time, filters, withCreated bool) (key, *Rejection) {
	reject := func(r Reason, format string, args ...any) (key, *Rejection) {
		return key{}, &Rejection{Tag: tag, Reason: r, Detail: fmt.Sprintf(format, args...)}
	}
	if d, ok := signatureTag(tag); ok {
		return reject(ReasonSignatureTag, "%s", d)
	}
	if p.kind == KindDigest && tag != p.spec.Digest {
		return reject(ReasonNotFollowed, "the policy follows tag %q", p.spec.Digest)
	}
	var version string
	var rej *Rejection
	if filters {
		version, rej = p.filter(tag)
	} else {
		version, rej = p.extract(tag)
	}
	if rej != nil {
		return key{}, rej
	}
	k := key{tag: tag, version: version}
	switch p.kind {
	case KindSemver:
		bare := strings.TrimPrefix(version, "v")
		v, err := semver.StrictNewVersion(bare)
		if err != nil {
			return reject(ReasonUnparsable, "%q is not a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], with or without v: %v", version, err)
		}
		k.sv = v
		k.version = bare // strict parsing: the input is already the canonical form
		if filters && !p.constraint.Check(v) {
			if v.Prerelease() != "" && p.withPre.Check(v) {
				return reject(ReasonPrerelease, "%s is a prerelease; set prerelease to include prereleases", k.version)
			}
			return reject(ReasonOutOfRange, "%s is outside %q", k.version, p.spec.Semver)
		}
	case KindNumerical:
		n, ok := parseDecimal(version)
		if !ok {
			return reject(ReasonUnparsable, "%q is not a number (digits, optionally a sign and a decimal point)", version)
		}
		k.num = n
	case KindNewestBuild:
		if withCreated {
			t, ok := created[tag]
			switch {
			case !ok || t.IsZero():
				return reject(ReasonNoCreatedTime, "no created time for this tag")
			case t.Unix() == 0:
				return reject(ReasonNoCreatedTime, "created time is the Unix epoch (a reproducible build, e.g. ko or Bazel), which cannot order builds")
			}
			k.created = t
		}
	}
	return k, nil
}

// filter applies ignore then allow, and returns the version to order.
func (p *Policy) filter(tag string) (string, *Rejection) {
	for _, g := range p.ignore {
		if ok, _ := path.Match(g, tag); ok {
			return "", &Rejection{Tag: tag, Reason: ReasonIgnored, Detail: fmt.Sprintf("matches ignore glob %q", g)}
		}
	}
	return p.extract(tag)
}

// extract applies the allow regexp and returns its "version" group, or the whole tag.
func (p *Policy) extract(tag string) (string, *Rejection) {
	if p.allow == nil {
		return tag, nil
	}
	m := p.allow.FindStringSubmatchIndex(tag)
	if m == nil {
		return "", &Rejection{Tag: tag, Reason: ReasonNoMatch, Detail: fmt.Sprintf("does not match allow %q", p.spec.Allow)}
	}
	if p.versionIdx < 0 {
		return tag, nil
	}
	lo, hi := m[2*p.versionIdx], m[2*p.versionIdx+1]
	if lo < 0 || lo == hi {
		return "", &Rejection{Tag: tag, Reason: ReasonNoMatch, Detail: fmt.Sprintf("allow %q matches but its group \"version\" is empty", p.spec.Allow)}
	}
	return tag[lo:hi], nil
}

// compareKeys is positive when a is newer than b.
func (p *Policy) compareKeys(a, b key) int {
	switch p.kind {
	case KindSemver:
		return a.sv.Compare(b.sv)
	case KindNumerical:
		c := a.num.compare(b.num)
		if p.desc {
			return -c
		}
		return c
	case KindAlphabetical:
		c := strings.Compare(a.version, b.version)
		if p.desc {
			return -c
		}
		return c
	case KindNewestBuild:
		return a.created.Compare(b.created)
	}
	return 0
}

// signatureTag reports whether tag is one of cosign's own tags or an OCI referrers fallback
// tag: <alg>-<hex digest>, optionally followed by a suffix such as .sig, .att or .sbom.
func signatureTag(tag string) (string, bool) {
	for _, alg := range []struct {
		prefix string
		hexLen int
	}{{"sha256-", 64}, {"sha512-", 128}} {
		rest, ok := strings.CutPrefix(tag, alg.prefix)
		if !ok || len(rest) < alg.hexLen || !isHex(rest[:alg.hexLen]) {
			continue
		}
		switch suffix := rest[alg.hexLen:]; suffix {
		case "":
			return "an OCI referrers fallback tag (signatures and attestations of a digest)", true
		case ".sig":
			return "a cosign signature tag", true
		case ".att":
			return "a cosign attestation tag", true
		case ".sbom":
			return "a cosign SBOM tag", true
		default:
			if suffix[0] == '.' {
				return fmt.Sprintf("a cosign-style artifact tag (%s) of a digest", suffix), true
			}
		}
	}
	return "", false
}

func isSignatureTag(tag string) bool {
	_, ok := signatureTag(tag)
	return ok
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// decimal is an exact decimal number: integer digits without leading zeros, fraction digits
// without trailing zeros. Zero is never negative.
type decimal struct {
	neg       bool
	int, frac string
}

// parseDecimal accepts -?[0-9]+(\.[0-9]+)? of any length.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		d.neg, s = true, rest
	}
	i, f, hasDot := strings.Cut(s, ".")
	if i == "" || !allDigits(i) || (hasDot && (f == "" || !allDigits(f))) {
		return decimal{}, false
	}
	d.int = strings.TrimLeft(i, "0")
	d.frac = strings.TrimRight(f, "0")
	if d.int == "" && d.frac == "" {
		d.neg = false
	}
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (a decimal) compare(b decimal) int {
	if a.neg != b.neg {
		if a.neg {
			return -1
		}
		return 1
	}
	c := cmp.Compare(len(a.int), len(b.int))
	if c == 0 {
		c = strings.Compare(a.int, b.int)
	}
	if c == 0 {
		c = strings.Compare(a.frac, b.frac)
	}
	if a.neg {
		return -c
	}
	return c
}
