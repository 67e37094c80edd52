package registry

import (
	"cmp"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// BundleArtifactType is the artifactType of the referrer manifests in which cosign 3 stores a
// Sigstore bundle.
const BundleArtifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"

const emptyConfigType = "application/vnd.oci.empty.v1+json"

// Verifier checks cosign signatures of image digests against a list of VerifyEntry; any one
// entry that verifies is enough. It is safe for concurrent use.
type Verifier struct {
	entries []*verifyEntry
	remote  []remote.Option
	// remoteFor adds options for one repository (the client's authenticated transport).
	remoteFor func(context.Context, name.Repository) ([]remote.Option, error)
	log       *slog.Logger

	// wantTypes are the predicate types some entry requires; allAttestations fetches all.
	wantTypes       map[string]struct{}
	allAttestations bool
	now             func() time.Time
	blobs           *diskCache // nil: attestation payloads are not cached

	publicGood     func() (root.TrustedMaterial, error)
	publicGoodOnce sync.Once
	publicGoodTM   root.TrustedMaterial
	publicGoodErr  error
}

type verifyEntry struct {
	VerifyEntry
	attest   []*attestReq
	name     string               // how the signer is named in results and refusals
	key      signature.Verifier   // key entries
	trusted  root.TrustedMaterial // nil: the public-good root
	identity *verify.CertificateIdentity
}

// VerifierOption configures a Verifier.
type VerifierOption func(*Verifier)

// WithRemoteOptions sets the go-containerregistry options (auth, transport, retries, context is
// added per call) used to fetch signatures.
func WithRemoteOptions(opts ...remote.Option) VerifierOption {
	return func(v *Verifier) { v.remote = append(v.remote, opts...) }
}

// WithRemoteOptionsFor adds, per call, options for the repository being verified: the registry
// client's RemoteOptionsFor, so that signature requests reuse the connection handshake (ping
// and token) the client already made for that repository.
func WithRemoteOptionsFor(f func(context.Context, name.Repository) ([]remote.Option, error)) VerifierOption {
	return func(v *Verifier) { v.remoteFor = f }
}

// WithLogger sets where warnings go (the insecure-ignore-tlog warning, among others). The
// default discards them; the CLI passes its stderr logger.
func WithLogger(l *slog.Logger) VerifierOption {
	return func(v *Verifier) {
		if l != nil {
			v.log = l
		}
	}
}

// WithCache keeps attestation payloads in c's cache directory, by digest, across runs.
func WithCache(c *Client) VerifierOption {
	return func(v *Verifier) {
		if c != nil {
			v.blobs = c.cache
		}
	}
}

// withPublicGoodRoot replaces the loader of the Sigstore public-good trusted root (tests).
func withPublicGoodRoot(f func() (root.TrustedMaterial, error)) VerifierOption {
	return func(v *Verifier) { v.publicGood = f }
}

// NewVerifier checks the entries and loads their keys and trusted roots: a key that cannot be
// read or is not a PEM public key, an unset env:// variable, a regexp that does not compile, an
// entry with both or neither of key and keyless, a trusted root that does not parse, or no
// entries at all is an error here, not at the first Verify.
func NewVerifier(entries []VerifyEntry, opts ...VerifierOption) (*Verifier, error) {
	v := &Verifier{
		log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		publicGood: cosign.TrustedRoot,
		now:        time.Now,
		wantTypes:  map[string]struct{}{},
	}
	for _, o := range opts {
		o(v)
	}
	if len(entries) == 0 {
		return nil, errors.New("no verify entries: give a key or a keyless identity (or skip verification explicitly)")
	}
	for i, e := range entries {
		ve, err := newVerifyEntry(e)
		if err != nil {
			return nil, fmt.Errorf("verify entry %d: %w", i+1, err)
		}
		if e.Keyless != nil && e.Keyless.InsecureIgnoreTlog {
			v.log.Warn("transparency-log and timestamp checks are off for a keyless entry (insecureIgnoreTlog): a certificate is only checked against the current time",
				"entry", i+1, "signer", ve.name)
		}
		for j, a := range e.Attestations {
			req, err := compileAttestation(a)
			if err != nil {
				return nil, fmt.Errorf("verify entry %d: attestation %d: %w", i+1, j+1, err)
			}
			ve.attest = append(ve.attest, req)
			v.wantTypes[req.uri] = struct{}{}
		}
		v.entries = append(v.entries, ve)
	}
	return v, nil
}

func newVerifyEntry(e VerifyEntry) (*verifyEntry, error) {
	ve := &verifyEntry{VerifyEntry: e}
	switch {
	case e.Key != "" && e.Keyless != nil:
		return nil, errors.New("has both key and keyless: give one")
	case e.Key == "" && e.Keyless == nil:
		return nil, errors.New("has neither key nor keyless: give one")
	case e.Key != "":
		raw, err := readKey(e.Key)
		if err != nil {
			return nil, err
		}
		// cryptoutils + signature.LoadVerifier is what cosign's LoadPublicKeyRaw does; calling
		// them directly keeps cosign's KMS and Kubernetes key providers out of the binary
		// (a third smaller, and about 5 ms less start-up on every run).
		pub, perr := cryptoutils.UnmarshalPEMToPublicKey(raw)
		if perr != nil {
			return nil, fmt.Errorf("key %s is not a PEM public key: %w", cmp.Or(e.Name, e.Key), perr)
		}
		if ve.key, err = signature.LoadVerifier(pub, crypto.SHA256); err != nil {
			return nil, fmt.Errorf("key %s is not a PEM public key: %w", cmp.Or(e.Name, e.Key), err)
		}
		ve.name = "key " + cmp.Or(e.Name, e.Key)
		if e.TrustedRoot != "" {
			if ve.trusted, err = loadTrustedRoot(e.TrustedRoot); err != nil {
				return nil, err
			}
		}
		return ve, nil
	}
	k := e.Keyless
	if e.RequireTlog {
		return nil, errors.New("requireTlog is for key entries: keyless entries always require the transparency log (or a signed timestamp) unless insecureIgnoreTlog")
	}
	if e.TrustedRoot != "" {
		return nil, errors.New("trustedRoot of a keyless entry goes under keyless")
	}
	if (k.Identity == "") == (k.IdentityRegexp == "") {
		return nil, errors.New("keyless needs exactly one of identity and identityRegexp")
	}
	if (k.Issuer == "") == (k.IssuerRegexp == "") {
		return nil, errors.New("keyless needs exactly one of issuer and issuerRegexp")
	}
	san, err := verify.NewSANMatcher(k.Identity, k.IdentityRegexp)
	if err != nil {
		return nil, fmt.Errorf("identityRegexp %q: %w", k.IdentityRegexp, err)
	}
	iss, err := verify.NewIssuerMatcher(k.Issuer, k.IssuerRegexp)
	if err != nil {
		return nil, fmt.Errorf("issuerRegexp %q: %w", k.IssuerRegexp, err)
	}
	id, err := verify.NewCertificateIdentity(san, iss, certificate.Extensions{})
	if err != nil {
		return nil, err
	}
	ve.identity = &id
	ve.name = "identity " + firstNonEmpty(k.Identity, "~"+k.IdentityRegexp) + " issuer " + firstNonEmpty(k.Issuer, "~"+k.IssuerRegexp)
	if k.TrustedRoot != "" {
		if ve.trusted, err = loadTrustedRoot(k.TrustedRoot); err != nil {
			return nil, err
		}
	}
	return ve, nil
}

func readKey(ref string) ([]byte, error) {
	if v, ok := strings.CutPrefix(ref, "env://"); ok {
		val, set := os.LookupEnv(v)
		if v == "" || !set || strings.TrimSpace(val) == "" {
			return nil, fmt.Errorf("key %s: environment variable %s is not set", ref, v)
		}
		return []byte(val), nil
	}
	raw, err := os.ReadFile(ref)
	if err != nil {
		return nil, fmt.Errorf("reading key %s: %w", ref, err)
	}
	return raw, nil
}

func loadTrustedRoot(path string) (root.TrustedMaterial, error) {
	tr, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	return tr, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" && x != "~" {
			return x
		}
	}
	return ""
}

// trustedMaterial returns e's trusted root, loading the public-good root the first time one is
// needed.
func (v *Verifier) trustedMaterial(e *verifyEntry) (root.TrustedMaterial, error) {
	if e.trusted != nil {
		return e.trusted, nil
	}
	v.publicGoodOnce.Do(func() {
		v.publicGoodTM, v.publicGoodErr = v.publicGood()
	})
	if v.publicGoodErr != nil {
		return nil, fmt.Errorf("loading the Sigstore public-good trusted root (give a trusted root file instead where there is no network): %w", v.publicGoodErr)
	}
	return v.publicGoodTM, nil
}

// Verify checks the signatures of ref's digest, in both layouts: cosign 2's `sha256-<hex>.sig`
// tag and cosign 3's Sigstore bundles among the digest's referrers (the referrers API, or the
// `sha256-<hex>` tag index on registries without it). The first signature that verifies with
// an entry whose required attestations are met is enough; the returned Verification names that
// digest and its signer.
//
// Any other outcome is a *RefusalError: ReasonUnsigned when there are no signatures,
// ReasonWrongSigner when none verifies (the detail says what failed for each),
// ReasonAttestation when a signature verified but a required attestation is missing or does not
// match, ReasonRegistryError when fetching fails — verification fails closed.
func (v *Verifier) Verify(ctx context.Context, ref name.Digest) (*Verification, error) {
	refuse := func(reason, detail string, err error) error {
		return &RefusalError{Image: ref.Context().Name(), Digest: ref.DigestStr(), Reason: reason, Detail: detail, Err: err}
	}
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, refuse(ReasonWrongSigner, "bad digest", err)
	}
	ropts := append(append([]remote.Option{}, v.remote...), remote.WithContext(ctx))
	if v.remoteFor != nil {
		extra, err := v.remoteFor(ctx, ref.Context())
		if err != nil {
			return nil, refuse(ReasonRegistryError, "connecting to the registry: "+err.Error(), err)
		}
		ropts = append(ropts, extra...)
	}
	r := &verifyRun{v: v, ref: ref, h: h, ropts: ropts}

	// cosign 2: sha256-<hex>.sig
	sigList, err := v.signatures(ctx, ref, ropts)
	if err != nil {
		return nil, refuse(ReasonRegistryError, "fetching cosign signatures: "+err.Error(), err)
	}
	for i, sig := range sigList {
		where := fmt.Sprintf("signature %d of %s", i+1, sigTagName(ref))
		for _, e := range v.entries {
			signer, err := v.verifySignature(ctx, e, sig, h)
			if ver, err := r.accept(ctx, where, e, signer, err); ver != nil || err != nil {
				return ver, err
			}
		}
	}

	// cosign 3: Sigstore bundles as referrers.
	if err := r.fetchBundles(ctx); err != nil {
		return nil, refuse(ReasonRegistryError, "fetching Sigstore bundles: "+err.Error(), err)
	}
	for _, b := range r.bundleBad {
		r.problems = append(r.problems, b.Error())
		r.errs = append(r.errs, b)
	}
	for _, b := range r.bundleSigs {
		where := "bundle " + b.digest
		for _, e := range v.entries {
			signer, err := v.verifyBundle(ctx, e, b.bundle, h)
			if ver, err := r.accept(ctx, where, e, signer, err); ver != nil || err != nil {
				return ver, err
			}
		}
	}

	switch {
	case r.attProblem != "":
		err := refuse(ReasonAttestation, r.attProblem, nil)
		err.(*RefusalError).Attestations = r.attResults
		return nil, err
	case len(sigList) == 0 && len(r.bundleSigs) == 0 && len(r.bundleBad) == 0:
		return nil, refuse(ReasonUnsigned, "no cosign signatures (no "+sigTagName(ref)+" tag, no Sigstore bundle referrers)", nil)
	}
	return nil, refuse(ReasonWrongSigner, "no signature verified: "+strings.Join(r.problems, "; "), errors.Join(r.errs...))
}

// verifyRun is the state of one Verify: what was fetched, and what failed.
type verifyRun struct {
	v     *Verifier
	ref   name.Digest
	h     v1.Hash
	ropts []remote.Option

	problems []string
	errs     []error

	attFetched bool
	attList    []*attCandidate

	bundlesFetched bool
	bundleSigs     []fetchedBundle
	bundleAtts     []*attCandidate
	bundleBad      []error

	skipped    []string // predicate types seen in annotations and not fetched (nothing wants them)
	attChecked map[*verifyEntry]bool
	attProblem string // the first entry's unmet attestation
	attResults []AttestationResult
}

// accept takes the outcome of checking one signature with entry e: a failure is noted; a
// signature that verified is accepted when e's attestations are met. It returns the
// Verification, or a refusal that ends Verify (a registry error), or neither to go on.
func (r *verifyRun) accept(ctx context.Context, where string, e *verifyEntry, signer string, err error) (*Verification, error) {
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("%s, %s: %v", where, e.name, err))
		r.errs = append(r.errs, err)
		return nil, nil
	}
	ver := &Verification{Digest: r.h.String(), Signer: signer}
	if len(e.attest) == 0 && !r.v.allAttestations {
		return ver, nil
	}
	if r.attChecked[e] {
		return nil, nil // this entry's attestations were found wanting already
	}
	if r.attChecked == nil {
		r.attChecked = map[*verifyEntry]bool{}
	}
	r.attChecked[e] = true
	results, problem, err := r.checkAttestations(ctx, e)
	switch {
	case err != nil && len(e.attest) == 0:
		// Only listing (WithAllAttestations) for an entry that requires none: not a refusal.
		r.v.log.Warn("could not list the image's attestations", "image", r.ref.String(), "err", err)
		return ver, nil
	case err != nil:
		return nil, &RefusalError{Image: r.ref.Context().Name(), Digest: r.ref.DigestStr(), Reason: ReasonRegistryError, Detail: err.Error(), Err: err}
	case problem != "":
		if r.attProblem == "" {
			r.attProblem, r.attResults = problem+" (entry "+e.name+")", results
		}
		return nil, nil
	}
	ver.Attestations = results
	if ver.Source = provenanceOf(results); ver.Source != "" {
		ver.Signer += " (built from " + ver.Source + ")"
	}
	return ver, nil
}

// fetchBundles reads the digest's Sigstore bundle referrers once, and sorts them into
// signatures (cosign's sign predicate) and attestations (any other predicate).
func (r *verifyRun) fetchBundles(ctx context.Context) error {
	if r.bundlesFetched {
		return nil
	}
	bundles, bad, skipped, err := r.v.bundles(ctx, r.ref, r.ropts)
	if err != nil {
		return err
	}
	for _, t := range skipped {
		r.skipped = appendUnique(r.skipped, t)
	}
	r.bundlesFetched, r.bundleBad = true, bad
	for _, b := range bundles {
		if t := peekPredicateType(b.bundle); t != "" && t != ctypes.CosignSignPredicateType {
			r.bundleAtts = append(r.bundleAtts, &attCandidate{store: StoreReferrer, where: "referrer " + b.digest, annotatedType: t, bundle: b.bundle})
			continue
		}
		r.bundleSigs = append(r.bundleSigs, b)
	}
	return nil
}

// peekPredicateType reads, without verifying, the predicate type of a bundle's DSSE statement;
// "" when it has none.
func peekPredicateType(b *sgbundle.Bundle) string {
	env := b.GetDsseEnvelope()
	if env == nil {
		return ""
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(env.Payload, &st) != nil {
		return ""
	}
	return st.PredicateType
}

func sigTagName(ref name.Digest) string {
	return strings.Replace(ref.DigestStr(), ":", "-", 1) + ".sig"
}

// signatures fetches cosign 2 signatures with their payloads, so that every registry read
// happens here and a registry failure cannot pass for a bad signature.
func (v *Verifier) signatures(ctx context.Context, ref name.Digest, ropts []remote.Option) ([]oci.Signature, error) {
	if v.blobs != nil && v.remoteFor != nil {
		ropts = append(ropts[:len(ropts):len(ropts)], remote.WithContext(cacheDigests(ctx)))
	}
	opt := ociremote.WithRemoteOptions(ropts...)
	st, err := ociremote.SignatureTag(ref, opt)
	if err != nil {
		return nil, err
	}
	var at name.Reference = st
	if v.blobs != nil && v.remoteFor != nil {
		// What is learned (the tag, its manifest and payloads) is written once, as the
		// repository's pack; a failure to write it costs requests next time, nothing else.
		end := v.blobs.batch(packKey(st.Context()))
		defer func() { _ = end() }()
	}
	if v.blobs != nil && v.remoteFor != nil && v.blobs.sigTagSeen(st) {
		// Read before: a HEAD of the tag says which manifest it holds now; that manifest and
		// its layers are read by digest, which the client's digestCache answers while the
		// signature is unchanged. A signature removed is a 404 here, as without a cache.
		// A registry that cannot answer the HEAD (405, 501, no digest) is asked by tag; any
		// other failure is the registry's, already retried, and fails the verification.
		desc, err := remote.Head(st, ropts...)
		var te *transport.Error
		var ue *url.Error
		switch {
		case err == nil:
			if sigs, ok := v.blobs.cachedSignatures(packKey(st.Context()), desc.Digest); ok {
				return sigs, nil
			}
			at = st.Context().Digest(desc.Digest.String())
		case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
			return nil, nil
		case errors.As(err, &te) && te.StatusCode != http.StatusMethodNotAllowed && te.StatusCode != http.StatusNotImplemented,
			errors.As(err, &ue), ctx.Err() != nil:
			return nil, err
		}
	}
	sigs, err := ociremote.Signatures(at, opt)
	if err != nil {
		return nil, err
	}
	list, err := sigs.Get()
	if err != nil {
		return nil, err
	}
	out := make([]oci.Signature, 0, len(list))
	for _, s := range list {
		c, err := static.Copy(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

type fetchedBundle struct {
	digest string
	bundle *sgbundle.Bundle
}

// bundles fetches the Sigstore bundles among ref's referrers. Registry errors are returned as
// err; referrers that are not readable bundles are returned as bad.
func (v *Verifier) bundles(_ context.Context, ref name.Digest, ropts []remote.Option) (out []fetchedBundle, bad []error, skipped []string, err error) {
	idx, err := remote.Referrers(ref, ropts...)
	if err != nil {
		return nil, nil, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, nil, err
	}
	for _, desc := range im.Manifests {
		explicit := desc.ArtifactType == BundleArtifactType
		// Some registries (go-containerregistry's own among them) report the config media type
		// instead of the manifest's artifactType: look inside those.
		if !explicit && desc.ArtifactType != "" && desc.ArtifactType != string(types.OCIConfigJSON) && desc.ArtifactType != emptyConfigType {
			continue
		}
		if t := desc.Annotations[bundlePredicateAnnotation]; t != "" && t != ctypes.CosignSignPredicateType && !v.wants(t) {
			skipped = append(skipped, t)
			continue // an attestation nothing asks for: not fetched
		}
		man, err := v.manifestByDigest(ref.Context(), desc.Digest, ropts)
		if err != nil {
			return nil, nil, nil, err
		}
		layers := man.Layers
		if !explicit && (len(layers) != 1 || !strings.HasPrefix(string(layers[0].MediaType), "application/vnd.dev.sigstore.bundle")) {
			continue
		}
		if len(layers) != 1 {
			bad = append(bad, fmt.Errorf("bundle %s: bad payload: %d layers, want 1", desc.Digest, len(layers)))
			continue
		}
		raw, err := v.blobByDigest(ref.Context(), layers[0].Digest, ropts)
		if err != nil {
			return nil, nil, nil, err
		}
		b := &sgbundle.Bundle{}
		if err := b.UnmarshalJSON(raw); err != nil {
			bad = append(bad, fmt.Errorf("bundle %s: bad payload: %w", desc.Digest, err))
			continue
		}
		out = append(out, fetchedBundle{digest: desc.Digest.String(), bundle: b})
	}
	return out, bad, skipped, nil
}

// Failure descriptions that start each problem in a refusal's detail.
var (
	errNoMatchingKey   = errors.New("no matching key")
	errIdentity        = errors.New("identity mismatch")
	errIssuer          = errors.New("issuer mismatch")
	errBadPayload      = errors.New("bad payload")
	errDigestMismatch  = errors.New("digest mismatch")
	errNoTlog          = errors.New("no transparency-log entry")
	errCertificate     = errors.New("certificate check failed")
	errKeylessNoCert   = errors.New("no certificate")
	errNotCosignSigned = errors.New("not a cosign signature")
)

// verifySignature checks one cosign 2 signature against one entry with cosign's own
// VerifyImageSignature, after cheap checks that name what is wrong.
func (v *Verifier) verifySignature(ctx context.Context, e *verifyEntry, sig oci.Signature, h v1.Hash) (string, error) {
	pl, err := sig.Payload()
	if err != nil {
		return "", fmt.Errorf("%w: %v", errBadPayload, err)
	}
	var sci payload.SimpleContainerImage
	if err := json.Unmarshal(pl, &sci); err != nil {
		return "", fmt.Errorf("%w: %v", errBadPayload, err)
	}
	if got := sci.Critical.Image.DockerManifestDigest; got != h.String() {
		return "", fmt.Errorf("%w: the signed payload names %q", errDigestMismatch, got)
	}
	co, signer, err := v.checkOpts(e, sig)
	if err != nil {
		return "", err
	}
	co.ClaimVerifier = cosign.SimpleClaimVerifier
	if _, err := cosign.VerifyImageSignature(ctx, sig, h, co); err != nil {
		if e.key != nil {
			return "", classifyKeyError(err)
		}
		return "", fmt.Errorf("%w: %v", errCertificate, err)
	}
	return signer, nil
}

func (e *verifyEntry) matchIdentity(s certificate.Summary) error {
	if err := e.identity.SubjectAlternativeName.Verify(s); err != nil {
		return fmt.Errorf("%w: certificate identity %q, want %s", errIdentity, s.SubjectAlternativeName, firstNonEmpty(e.Keyless.Identity, "~"+e.Keyless.IdentityRegexp))
	}
	if err := e.identity.Issuer.Verify(s); err != nil {
		return fmt.Errorf("%w: certificate issuer %q, want %s", errIssuer, s.Issuer, firstNonEmpty(e.Keyless.Issuer, "~"+e.Keyless.IssuerRegexp))
	}
	return nil
}

func describeCert(s certificate.Summary) string {
	return fmt.Sprintf("%s (issuer %s)", s.SubjectAlternativeName, s.Issuer)
}

func classifyKeyError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "invalid or missing digest in claim"):
		return fmt.Errorf("%w: %v", errDigestMismatch, err)
	case strings.Contains(msg, "bundle"), strings.Contains(msg, "tlog"), strings.Contains(msg, "rekor"):
		return fmt.Errorf("transparency-log entry check failed: %w", err)
	default:
		return fmt.Errorf("%w (signed by another key, or the payload was altered): %w", errNoMatchingKey, err)
	}
}

// verifyBundle checks one Sigstore bundle signature against one entry: verifyBundleSignature,
// and cosign's sign predicate.
func (v *Verifier) verifyBundle(ctx context.Context, e *verifyEntry, b *sgbundle.Bundle, h v1.Hash) (string, error) {
	signer, err := v.verifyBundleSignature(ctx, e, b, h)
	if err != nil {
		return "", err
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return "", fmt.Errorf("%w: the bundle holds no DSSE envelope", errNotCosignSigned)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		return "", fmt.Errorf("%w: %v", errBadPayload, err)
	}
	if st.PredicateType != ctypes.CosignSignPredicateType {
		return "", fmt.Errorf("%w: predicate type %q, want %q", errNotCosignSigned, st.PredicateType, ctypes.CosignSignPredicateType)
	}
	return signer, nil
}

// verifyBundleSignature checks one Sigstore bundle against one entry with cosign's
// VerifyNewBundle (sigstore-go's verifier), bound to digest h.
func (v *Verifier) verifyBundleSignature(ctx context.Context, e *verifyEntry, b *sgbundle.Bundle, h v1.Hash) (string, error) {
	digest, err := hex.DecodeString(h.Hex)
	if err != nil {
		return "", err
	}
	tlogs, err := b.TlogEntries()
	if err != nil {
		return "", fmt.Errorf("%w: %v", errBadPayload, err)
	}
	stamps, err := b.Timestamps()
	if err != nil {
		return "", fmt.Errorf("%w: %v", errBadPayload, err)
	}
	co := &cosign.CheckOpts{}
	signer := e.name
	if e.key != nil {
		co.SigVerifier = e.key
		if len(tlogs) == 0 {
			if e.RequireTlog {
				return "", fmt.Errorf("%w, and requireTlog is set", errNoTlog)
			}
			co.IgnoreTlog = true
			co.TrustedMaterial = &root.BaseTrustedMaterial{}
		} else if co.TrustedMaterial, err = v.trustedMaterial(e); err != nil {
			return "", err
		}
		if b.VerificationMaterial.GetPublicKey() == nil {
			return "", fmt.Errorf("%w: the bundle carries a certificate, not a key hint", errNoMatchingKey)
		}
	} else {
		vc, err := b.VerificationContent()
		if err != nil {
			return "", fmt.Errorf("%w: %v", errBadPayload, err)
		}
		cert := vc.Certificate()
		if cert == nil {
			return "", fmt.Errorf("%w in the bundle (key-signed?)", errKeylessNoCert)
		}
		summary, err := certificate.SummarizeCertificate(cert)
		if err != nil {
			return "", fmt.Errorf("%w: %v", errCertificate, err)
		}
		if err := e.matchIdentity(summary); err != nil {
			return "", err
		}
		signer = describeCert(summary)
		k := e.Keyless
		if co.TrustedMaterial, err = v.trustedMaterial(e); err != nil {
			return "", err
		}
		co.Identities = []cosign.Identity{{Subject: k.Identity, SubjectRegExp: k.IdentityRegexp, Issuer: k.Issuer, IssuerRegExp: k.IssuerRegexp}}
		co.IgnoreSCT = k.InsecureIgnoreSCT
		co.UseSignedTimestamps = len(stamps) > 0
		switch {
		case k.InsecureIgnoreTlog:
			co.IgnoreTlog = true
		case len(tlogs) > 0:
		case len(stamps) > 0:
			co.IgnoreTlog = true
		default:
			return "", fmt.Errorf("%w or signed timestamp (a keyless signature needs one unless insecureIgnoreTlog)", errNoTlog)
		}
	}
	if _, err := cosign.VerifyNewBundle(ctx, co, verify.WithArtifactDigest(h.Algorithm, digest), b); err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "artifact digest") || strings.Contains(msg, "statement"):
			return "", fmt.Errorf("%w: %v", errDigestMismatch, err)
		case strings.Contains(msg, "log"):
			return "", fmt.Errorf("transparency-log entry check failed: %w", err)
		case e.key != nil:
			return "", fmt.Errorf("%w: %v", errNoMatchingKey, err)
		default:
			return "", fmt.Errorf("%w: %v", errCertificate, err)
		}
	}
	return signer, nil
}
