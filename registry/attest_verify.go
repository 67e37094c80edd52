package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// Annotations that name an attestation's predicate type without fetching it: cosign 2 sets the
// first on each layer of the .att image, cosign 3 and GitHub's attest actions the second on the
// bundle's referrer manifest (copied into the referrers index).
const (
	attPredicateAnnotation    = "predicateType"
	bundlePredicateAnnotation = "dev.sigstore.bundle.predicateType"
)

// Stores of attestations, as AttestationResult.Store names them.
const (
	StoreAttTag   = "att-tag"
	StoreReferrer = "referrer"
)

// WithAllAttestations makes Verify fetch and describe every attestation of a digest, required
// or not (ferry verify lists them); by default only the predicate types an entry requires are
// fetched.
func WithAllAttestations() VerifierOption { return func(v *Verifier) { v.allAttestations = true } }

// WithClock sets the time maxAge is measured against (tests); default time.Now.
func WithClock(now func() time.Time) VerifierOption { return func(v *Verifier) { v.now = now } }

// attCandidate is one attestation found for the digest, not yet verified.
type attCandidate struct {
	store, where  string
	annotatedType string // the type its annotation names, or ""
	sig           oci.Signature
	bundle        *sgbundle.Bundle
	checked       map[*verifyEntry]*attChecked
}

// attChecked is a candidate verified against one entry.
type attChecked struct {
	signer string
	err    error // the signature, the subject or the payload did not check out
	st     *statement
	pred   map[string]any
}

// wants reports whether the verifier needs attestations of predicate type t (a type the
// candidate's annotation names; "" for none, which is always fetched).
func (v *Verifier) wants(t string) bool {
	if t == "" || v.allAttestations {
		return true
	}
	_, ok := v.wantTypes[t]
	return ok
}

// attestations returns the attestation candidates from the .att tag, fetched once per Verify.
func (r *verifyRun) attTag() ([]*attCandidate, error) {
	if r.attFetched {
		return r.attList, nil
	}
	r.attFetched = true
	opt := ociremote.WithRemoteOptions(r.ropts...)
	tag, err := ociremote.AttestationTag(r.ref, opt)
	if err != nil {
		return nil, err
	}
	sigs, err := ociremote.Signatures(tag, opt)
	if err != nil {
		return nil, err
	}
	list, err := sigs.Get()
	if err != nil {
		return nil, err
	}
	for i, s := range list {
		ann, err := s.Annotations()
		if err != nil {
			return nil, err
		}
		t := ann[attPredicateAnnotation]
		if !r.v.wants(t) {
			r.skipped = appendUnique(r.skipped, t)
			continue
		}
		c, err := r.v.cachedPayload(s)
		if err != nil {
			return nil, err
		}
		r.attList = append(r.attList, &attCandidate{store: StoreAttTag, where: fmt.Sprintf("layer %d of %s", i+1, tag.TagStr()), annotatedType: t, sig: c})
	}
	return r.attList, nil
}

// candidates returns the attestations to look at for e, in the order that costs fewest
// requests: referrers first when they were already listed for signatures, then the .att tag,
// then referrers.
func (r *verifyRun) candidates(ctx context.Context, e *verifyEntry, enough func([]*attCandidate) bool) ([]*attCandidate, error) {
	var out []*attCandidate
	if r.bundlesFetched {
		out = append(out, r.bundleAtts...)
		if !r.v.allAttestations && enough(out) {
			return out, nil
		}
	}
	atts, err := r.attTag()
	if err != nil {
		return nil, fmt.Errorf("fetching cosign attestations (%s): %w", strings.Replace(r.ref.DigestStr(), ":", "-", 1)+".att", err)
	}
	out = append(out, atts...)
	if r.bundlesFetched || (!r.v.allAttestations && enough(out)) {
		return out, nil
	}
	if err := r.fetchBundles(ctx); err != nil {
		return nil, fmt.Errorf("fetching Sigstore bundles: %w", err)
	}
	return append(out, r.bundleAtts...), nil
}

// check verifies c against e once and remembers the outcome.
func (r *verifyRun) check(ctx context.Context, e *verifyEntry, c *attCandidate) *attChecked {
	if ch, ok := c.checked[e]; ok {
		return ch
	}
	ch := &attChecked{}
	var raw []byte
	if c.sig != nil {
		ch.signer, raw, ch.err = r.v.verifyAttestation(ctx, e, c.sig, r.h)
	} else {
		ch.signer, ch.err = r.v.verifyBundleSignature(ctx, e, c.bundle, r.h)
		if ch.err == nil {
			raw = c.bundle.GetDsseEnvelope().GetPayload()
		}
	}
	if ch.err == nil {
		ch.st, ch.pred, ch.err = parseStatement(raw)
		if ch.err == nil && !ch.st.names(r.h.String()) {
			ch.err = fmt.Errorf("%w: the statement's subjects do not name %s", errDigestMismatch, r.h)
		}
		if ch.err != nil {
			ch.st, ch.pred = nil, nil
		}
	}
	if c.checked == nil {
		c.checked = map[*verifyEntry]*attChecked{}
	}
	c.checked[e] = ch
	return ch
}

// checkAttestations checks e's required attestations. It returns the results, the refusal
// detail when one is not met (empty when all are), and an error when the registry failed.
func (r *verifyRun) checkAttestations(ctx context.Context, e *verifyEntry) ([]AttestationResult, string, error) {
	now := r.v.now()
	passed := func(c *attCandidate, req *attestReq) bool {
		ch := r.check(ctx, e, c)
		return ch.err == nil && ch.st.PredicateType == req.uri && req.evaluate(ch.pred, now).problem == ""
	}
	enough := func(cs []*attCandidate) bool {
	reqs:
		for _, req := range e.attest {
			for _, c := range cs {
				if (c.annotatedType == "" || c.annotatedType == req.uri) && passed(c, req) {
					continue reqs
				}
			}
			return false
		}
		return true
	}
	cs, err := r.candidates(ctx, e, enough)
	if err != nil {
		return nil, "", err
	}
	results := r.describe(ctx, e, cs, now)
	for _, req := range e.attest {
		if detail := r.unmet(ctx, e, req, cs, now); detail != "" {
			return results, detail, nil
		}
	}
	return results, "", nil
}

// unmet returns why req is not met by any candidate, or "" when one meets it.
func (r *verifyRun) unmet(ctx context.Context, e *verifyEntry, req *attestReq, cs []*attCandidate, now time.Time) string {
	var typed []*attCandidate
	var seen []string
	for _, c := range cs {
		if c.annotatedType != "" && c.annotatedType != req.uri {
			seen = appendUnique(seen, c.annotatedType)
			continue
		}
		ch := r.check(ctx, e, c)
		switch {
		case ch.err != nil && c.annotatedType == req.uri:
			typed = append(typed, c)
		case ch.err != nil:
			// Unannotated and unverifiable: its type is unknown, so it counts for every type.
			typed = append(typed, c)
		case ch.st.PredicateType == req.uri:
			if req.evaluate(ch.pred, now).problem == "" {
				return ""
			}
			typed = append(typed, c)
		default:
			seen = appendUnique(seen, ch.st.PredicateType)
		}
	}
	if len(typed) == 0 {
		for _, t := range r.skipped {
			seen = appendUnique(seen, t)
		}
		found := "none"
		if len(seen) > 0 {
			found = strings.Join(seen, ", ")
		}
		return fmt.Sprintf("%s: no such attestation for %s (attestations found: %s)", req.uri, r.h, found)
	}
	var problems []string
	for _, c := range typed {
		ch := r.check(ctx, e, c)
		if ch.err == nil && ch.st.PredicateType == req.uri {
			// A verified one that did not match says the most: name its first failing field.
			return fmt.Sprintf("%s: %s (%s)", req.uri, req.evaluate(ch.pred, now).problem, c.where)
		}
		problems = append(problems, fmt.Sprintf("%s: %v", c.where, ch.err))
	}
	return fmt.Sprintf("%s: none verified with %s: %s", req.uri, e.name, strings.Join(problems, "; "))
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// describe reports each candidate as e sees it.
func (r *verifyRun) describe(ctx context.Context, e *verifyEntry, cs []*attCandidate, now time.Time) []AttestationResult {
	var out []AttestationResult
	for _, c := range cs {
		ch := r.check(ctx, e, c)
		res := AttestationResult{PredicateType: c.annotatedType, Store: c.store, Where: c.where}
		if ch.err != nil {
			res.Problem = ch.err.Error()
			res.Required = e.requires(c.annotatedType) != nil
			out = append(out, res)
			continue
		}
		res.PredicateType, res.Verified, res.Signer = ch.st.PredicateType, true, ch.signer
		req := e.requires(res.PredicateType)
		if req == nil {
			req = &attestReq{uri: res.PredicateType, maxSev: -1}
		} else {
			res.Required = true
		}
		ev := req.evaluate(ch.pred, now)
		res.Said, res.Problem, res.Passed = ev.describe(req.uri), ev.problem, res.Required && ev.problem == ""
		out = append(out, res)
	}
	return out
}

func (e *verifyEntry) requires(uri string) *attestReq {
	for _, req := range e.attest {
		if req.uri == uri {
			return req
		}
	}
	return nil
}

// provenanceOf returns the repository and ref the first verified, passing provenance names.
func provenanceOf(results []AttestationResult) string {
	for _, res := range results {
		if res.Verified && res.Problem == "" && (res.PredicateType == PredicateSLSAProvenance1 || res.PredicateType == PredicateSLSAProvenance02) {
			if src, ok := strings.CutPrefix(res.Said, "built from "); ok {
				src, _, _ = strings.Cut(src, "; ")
				return src
			}
		}
	}
	return ""
}

// verifyAttestation checks one cosign 2 attestation (a DSSE envelope in the .att image) against
// one entry with cosign's own verifier and its in-toto subject check, and returns who signed
// and the statement.
func (v *Verifier) verifyAttestation(ctx context.Context, e *verifyEntry, att oci.Signature, h v1.Hash) (string, []byte, error) {
	pl, err := att.Payload()
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", errBadPayload, err)
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(pl, &env); err != nil {
		return "", nil, fmt.Errorf("%w: not a DSSE envelope: %v", errBadPayload, err)
	}
	if env.PayloadType != ctypes.IntotoPayloadType {
		return "", nil, fmt.Errorf("%w: payload type %q, want %q", errBadPayload, env.PayloadType, ctypes.IntotoPayloadType)
	}
	raw, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", errBadPayload, err)
	}
	co, signer, err := v.checkOpts(e, att)
	if err != nil {
		return "", nil, err
	}
	co.ClaimVerifier = cosign.IntotoSubjectClaimVerifier
	if _, err := cosign.VerifyBlobAttestation(ctx, att, h, co); err != nil {
		if strings.Contains(err.Error(), "no matching subject digest") {
			return "", nil, fmt.Errorf("%w: the statement names another digest", errDigestMismatch)
		}
		if e.key != nil {
			return "", nil, classifyKeyError(err)
		}
		return "", nil, fmt.Errorf("%w: %v", errCertificate, err)
	}
	return signer, raw, nil
}

// checkOpts builds cosign's options for checking sig (a signature or an attestation of the
// cosign 2 layout) against e: the key or the identity, the trusted root, and whether the
// transparency log or a signed timestamp is required. It returns who signed as far as the
// certificate says.
func (v *Verifier) checkOpts(e *verifyEntry, sig oci.Signature) (*cosign.CheckOpts, string, error) {
	rb, err := sig.Bundle()
	if err != nil {
		return nil, "", fmt.Errorf("%w: reading the transparency-log bundle: %v", errBadPayload, err)
	}
	co := &cosign.CheckOpts{}
	if e.key != nil {
		co.SigVerifier = e.key
		if rb == nil {
			if e.RequireTlog {
				return nil, "", fmt.Errorf("%w, and requireTlog is set", errNoTlog)
			}
			co.IgnoreTlog = true
		} else if co.TrustedMaterial, err = v.trustedMaterial(e); err != nil {
			return nil, "", err
		}
		return co, e.name, nil
	}
	cert, err := sig.Cert()
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", errKeylessNoCert, err)
	}
	if cert == nil {
		return nil, "", fmt.Errorf("%w on the signature (key-signed?)", errKeylessNoCert)
	}
	summary, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", errCertificate, err)
	}
	if err := e.matchIdentity(summary); err != nil {
		return nil, "", err
	}
	k := e.Keyless
	ts, err := sig.RFC3161Timestamp()
	if err != nil {
		return nil, "", fmt.Errorf("%w: reading the signed timestamp: %v", errBadPayload, err)
	}
	if co.TrustedMaterial, err = v.trustedMaterial(e); err != nil {
		return nil, "", err
	}
	co.Identities = []cosign.Identity{{Subject: k.Identity, SubjectRegExp: k.IdentityRegexp, Issuer: k.Issuer, IssuerRegExp: k.IssuerRegexp}}
	co.IgnoreSCT = k.InsecureIgnoreSCT
	co.UseSignedTimestamps = ts != nil
	switch {
	case k.InsecureIgnoreTlog:
		co.IgnoreTlog = true
	case rb != nil:
	case ts != nil:
		co.IgnoreTlog = true
	default:
		return nil, "", fmt.Errorf("%w or signed timestamp (a keyless signature needs one unless insecureIgnoreTlog)", errNoTlog)
	}
	return co, describeCert(summary), nil
}

// payloadSig is a signature layer whose payload was read from the cache.
type payloadSig struct {
	ociSignature // its Signature method would clash with a field named Signature
	payload      []byte
}

type ociSignature = oci.Signature

func (p payloadSig) Payload() ([]byte, error) { return p.payload, nil }

// cachedPayload reads an attestation layer's payload through the digest cache: a layer's bytes
// never change for its digest, so a run that saw it once does not fetch it again (the bytes are
// checked against the digest on the way out of the cache, and verified as always).
func (v *Verifier) cachedPayload(s oci.Signature) (oci.Signature, error) {
	d, err := s.Digest()
	if err != nil {
		return nil, err
	}
	if b, ok := v.blobs.readBlob(d); ok {
		return payloadSig{ociSignature: s, payload: b}, nil
	}
	b, err := s.Payload()
	if err != nil {
		return nil, err
	}
	v.blobs.writeBlob(d, b)
	return payloadSig{ociSignature: s, payload: b}, nil
}

// manifestByDigest reads a manifest named by digest (a referrer's) through the digest cache.
func (v *Verifier) manifestByDigest(repo name.Repository, d v1.Hash, ropts []remote.Option) (*v1.Manifest, error) {
	raw, ok := v.blobs.readBlob(d)
	if !ok {
		desc, err := remote.Get(repo.Digest(d.String()), ropts...)
		if err != nil {
			return nil, err
		}
		raw = desc.Manifest
		v.blobs.writeBlob(d, raw) // kept only when the bytes are d's
	}
	return v1.ParseManifest(bytes.NewReader(raw))
}

// blobByDigest reads a small blob (a bundle) through the digest cache; go-containerregistry
// checks a fetched blob against its digest, and the cache checks what it returns.
func (v *Verifier) blobByDigest(repo name.Repository, d v1.Hash, ropts []remote.Option) ([]byte, error) {
	if b, ok := v.blobs.readBlob(d); ok {
		return b, nil
	}
	l, err := remote.Layer(repo.Digest(d.String()), ropts...)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxCachedBlob))
	if err != nil {
		return nil, err
	}
	v.blobs.writeBlob(d, b)
	return b, nil
}
