package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Predicate types ferry knows by name. A predicate type may be given as a full URI or as one of
// cosign's short names (the names `cosign attest --type` takes).
const (
	PredicateSLSAProvenance02 = "https://slsa.dev/provenance/v0.2"
	PredicateSLSAProvenance1  = "https://slsa.dev/provenance/v1"
	PredicateVuln             = "https://cosign.sigstore.dev/attestation/vuln/v1"
	PredicateCustom           = "https://cosign.sigstore.dev/attestation/v1"
	PredicateSPDX             = "https://spdx.dev/Document"
	PredicateCycloneDX        = "https://cyclonedx.org/bom"
	PredicateLink             = "https://in-toto.io/Link/v1"
	PredicateOpenVEX          = "https://openvex.dev/ns"
)

// predicateShortNames are cosign's short names for predicate types.
var predicateShortNames = map[string]string{
	"slsaprovenance":   PredicateSLSAProvenance02,
	"slsaprovenance02": PredicateSLSAProvenance02,
	"slsaprovenance1":  PredicateSLSAProvenance1,
	"vuln":             PredicateVuln,
	"custom":           PredicateCustom,
	"spdx":             PredicateSPDX,
	"spdxjson":         PredicateSPDX,
	"cyclonedx":        PredicateCycloneDX,
	"link":             PredicateLink,
	"openvex":          PredicateOpenVEX,
}

// PredicateTypeURI resolves a predicate type as written in ferry.yaml: one of cosign's short
// names (slsaprovenance, slsaprovenance02, slsaprovenance1, vuln, custom, spdx, spdxjson,
// cyclonedx, link, openvex) or a URI with a scheme, returned as is.
func PredicateTypeURI(s string) (string, error) {
	if u, ok := predicateShortNames[s]; ok {
		return u, nil
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || scheme == "" || rest == "" || strings.ContainsAny(s, " \t\n") {
		names := make([]string, 0, len(predicateShortNames))
		for n := range predicateShortNames {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", fmt.Errorf("predicate type %q is neither a URI nor one of cosign's names (%s)", s, strings.Join(names, ", "))
	}
	return s, nil
}

// Attestation is one attestation a verify entry requires: present for the digest, signed by the
// entry's key or identity, of PredicateType, and matching.
type Attestation struct {
	// PredicateType is a URI or one of cosign's short names (see PredicateTypeURI).
	PredicateType string
	// Match lists dotted paths into the predicate and what each must be: an exact string, or a
	// regular expression between slashes (/^refs/heads/main$/). Checked in order.
	Match []FieldMatch
	// MaxSeverity (vulnerability predicates): no finding above it; one of none, low, medium,
	// high, critical.
	MaxSeverity string
	// MaxAge (vulnerability predicates): the scan finished at most this long ago.
	MaxAge time.Duration
}

// FieldMatch is one dotted path into a predicate and what it must be.
type FieldMatch struct {
	Path string // dotted keys; a number indexes a list: materials.0.uri
	Want string // exact text, or /regexp/
}

// severities in ascending order; a finding's severity that is none of these (or "unknown")
// ranks as critical, so that an unrated finding never slips under a limit.
var severities = []string{"none", "low", "medium", "high", "critical"}

var severityAliases = map[string]int{
	"none": 0, "negligible": 0, "info": 0, "informational": 0,
	"low": 1, "medium": 2, "moderate": 2, "high": 3, "important": 3, "critical": 4,
}

// SeverityRank returns the rank of a maxSeverity value (none < low < medium < high < critical).
func SeverityRank(s string) (int, error) {
	for i, v := range severities {
		if strings.EqualFold(s, v) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("severity %q is not one of %s", s, strings.Join(severities, ", "))
}

func findingRank(s string) int {
	if r, ok := severityAliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return r
	}
	return len(severities) - 1
}

// attestReq is an Attestation compiled.
type attestReq struct {
	Attestation
	uri     string
	matches []fieldMatcher
	maxSev  int // -1: no limit
}

type fieldMatcher struct {
	FieldMatch
	path []string
	re   *regexp.Regexp // nil: exact
}

func (m fieldMatcher) ok(got string) bool {
	if m.re != nil {
		return m.re.MatchString(got)
	}
	return got == m.Want
}

// compileAttestation checks one Attestation: a predicate type, paths, regexps and limits that
// are wrong are errors here, before any image is looked at.
func compileAttestation(a Attestation) (*attestReq, error) {
	uri, err := PredicateTypeURI(a.PredicateType)
	if err != nil {
		return nil, err
	}
	r := &attestReq{Attestation: a, uri: uri, maxSev: -1}
	for _, m := range a.Match {
		fm, err := compileFieldMatch(m)
		if err != nil {
			return nil, err
		}
		r.matches = append(r.matches, fm)
	}
	if (a.MaxSeverity != "" || a.MaxAge != 0) && uri != PredicateVuln {
		return nil, fmt.Errorf("maxSeverity and maxAge apply to vulnerability predicates (%s), not %s", PredicateVuln, uri)
	}
	if a.MaxSeverity != "" {
		if r.maxSev, err = SeverityRank(a.MaxSeverity); err != nil {
			return nil, err
		}
	}
	if a.MaxAge < 0 {
		return nil, fmt.Errorf("maxAge %s is negative", a.MaxAge)
	}
	return r, nil
}

// CompileFieldMatch checks a match rule's path and, for a /regexp/, compiles it.
func compileFieldMatch(m FieldMatch) (fieldMatcher, error) {
	fm := fieldMatcher{FieldMatch: m}
	if m.Path == "" {
		return fm, errors.New("match: empty path")
	}
	for _, seg := range strings.Split(m.Path, ".") {
		if seg == "" {
			return fm, fmt.Errorf("match: %q is not a dotted path", m.Path)
		}
		fm.path = append(fm.path, seg)
	}
	if re, ok := IsRegexpMatch(m.Want); ok {
		c, err := regexp.Compile(re)
		if err != nil {
			return fm, fmt.Errorf("match %s: %q is not a valid regular expression: %w", m.Path, m.Want, err)
		}
		fm.re = c
	}
	return fm, nil
}

// IsRegexpMatch reports whether a match value is a /regexp/ and returns the expression.
func IsRegexpMatch(want string) (string, bool) {
	if len(want) >= 2 && strings.HasPrefix(want, "/") && strings.HasSuffix(want, "/") {
		return want[1 : len(want)-1], true
	}
	return "", false
}

// statement is the part of an in-toto statement ferry reads.
type statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

func parseStatement(raw []byte) (*statement, map[string]any, error) {
	var st statement
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, nil, fmt.Errorf("not an in-toto statement: %w", err)
	}
	var pred map[string]any
	if len(st.Predicate) > 0 && !bytes.Equal(st.Predicate, []byte("null")) {
		d := json.NewDecoder(bytes.NewReader(st.Predicate))
		d.UseNumber()
		if err := d.Decode(&pred); err != nil {
			return nil, nil, fmt.Errorf("predicate is not a JSON object: %w", err)
		}
	}
	return &st, pred, nil
}

// names reports whether the statement's subjects include digest ("sha256:<hex>").
func (st *statement) names(digest string) bool {
	alg, hex, _ := strings.Cut(digest, ":")
	for _, s := range st.Subject {
		if strings.EqualFold(s.Digest[alg], hex) {
			return true
		}
	}
	return false
}

// lookup follows a dotted path into a decoded JSON value.
func lookup(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// text is how a predicate value compares with a match: strings as they are, numbers as written,
// booleans and null as JSON words, lists and objects as compact JSON.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// evaluation is what one attestation's predicate said, against one requirement.
type evaluation struct {
	problem  string // "": it passed
	fields   map[string]string
	findings map[string]int
	scanned  time.Time
	source   string
}

// evaluate checks a predicate against r at time now.
func (r *attestReq) evaluate(pred map[string]any, now time.Time) evaluation {
	ev := evaluation{source: provenanceSource(r.uri, pred)}
	for _, m := range r.matches {
		v, ok := lookup(pred, m.path)
		if !ok {
			ev.problem = fmt.Sprintf("%s is missing, want %s", m.Path, m.Want)
			return ev
		}
		got := text(v)
		if ev.fields == nil {
			ev.fields = map[string]string{}
		}
		ev.fields[m.Path] = got
		if !m.ok(got) {
			ev.problem = fmt.Sprintf("%s is %q, want %s", m.Path, got, m.Want)
			return ev
		}
	}
	if r.uri != PredicateVuln {
		return ev
	}
	ev.findings, ev.scanned = vulnSummary(pred)
	if r.maxSev >= 0 {
		for rank := len(severities) - 1; rank > r.maxSev; rank-- {
			if n := ev.findings[severities[rank]]; n > 0 {
				ev.problem = fmt.Sprintf("%d finding(s) of severity %s, above maxSeverity %s", n, severities[rank], severities[r.maxSev])
				return ev
			}
		}
	}
	if r.MaxAge > 0 {
		switch {
		case ev.scanned.IsZero():
			ev.problem = "metadata.scanFinishedOn is missing, and maxAge needs the scan's time"
		case now.Sub(ev.scanned) > r.MaxAge:
			ev.problem = fmt.Sprintf("metadata.scanFinishedOn is %s, older than maxAge %s", ev.scanned.UTC().Format(time.RFC3339), r.MaxAge)
		}
	}
	return ev
}

// vulnSummary counts a cosign vulnerability predicate's findings by severity and reads when the
// scan finished. Scanners put their own report under scanner.result (Trivy:
// Results[].Vulnerabilities[].Severity; Grype: matches[].vulnerability.severity); every string
// "severity" key in it, in any case, is one finding.
func vulnSummary(pred map[string]any) (map[string]int, time.Time) {
	counts := map[string]int{}
	if res, ok := lookup(pred, []string{"scanner", "result"}); ok {
		countSeverities(res, counts, 0)
	}
	var scanned time.Time
	for _, p := range [][]string{{"metadata", "scanFinishedOn"}, {"metadata", "scanStartedOn"}} {
		if v, ok := lookup(pred, p); ok {
			if s, ok := v.(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					scanned = t
					break
				}
			}
		}
	}
	return counts, scanned
}

func countSeverities(v any, counts map[string]int, depth int) {
	if depth > 64 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && strings.EqualFold(k, "severity") {
				counts[severities[findingRank(s)]]++
				continue
			}
			countSeverities(val, counts, depth+1)
		}
	case []any:
		for _, val := range x {
			countSeverities(val, counts, depth+1)
		}
	}
}

// provenanceSource names the source repository and ref a SLSA provenance predicate says the
// image was built from ("https://github.com/acme/api@refs/heads/main"), or "".
func provenanceSource(uri string, pred map[string]any) string {
	str := func(path ...string) string {
		v, _ := lookup(pred, path)
		s, _ := v.(string)
		return s
	}
	switch uri {
	case PredicateSLSAProvenance1:
		if repo := str("buildDefinition", "externalParameters", "workflow", "repository"); repo != "" {
			if ref := str("buildDefinition", "externalParameters", "workflow", "ref"); ref != "" {
				return repo + "@" + ref
			}
			return repo
		}
		return gitURI(str("buildDefinition", "resolvedDependencies", "0", "uri"))
	case PredicateSLSAProvenance02:
		return gitURI(str("invocation", "configSource", "uri"))
	}
	return ""
}

// gitURI turns an SPDX-style download location (git+https://host/repo@ref) into host/repo@ref.
func gitURI(s string) string {
	return strings.TrimPrefix(s, "git+")
}

// describe says what an evaluated predicate said, in one line.
func (ev evaluation) describe(uri string) string {
	var parts []string
	if ev.source != "" {
		parts = append(parts, "built from "+ev.source)
	}
	keys := make([]string, 0, len(ev.fields))
	for k := range ev.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, ev.fields[k]))
	}
	if uri == PredicateVuln {
		var f []string
		for i := len(severities) - 1; i >= 0; i-- {
			if n := ev.findings[severities[i]]; n > 0 {
				f = append(f, fmt.Sprintf("%d %s", n, severities[i]))
			}
		}
		if len(f) == 0 {
			parts = append(parts, "no findings")
		} else {
			parts = append(parts, "findings: "+strings.Join(f, ", "))
		}
		if !ev.scanned.IsZero() {
			parts = append(parts, "scanned "+ev.scanned.UTC().Format(time.RFC3339))
		}
	}
	return strings.Join(parts, "; ")
}
