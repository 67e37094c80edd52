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
	"os"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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

	publicGood     func() (root.TrustedMaterial, error)
	publicGoodOnce sync.Once
	publicGoodTM   root.TrustedMaterial
	publicGoodErr  error
}

type verifyEntry struct {
	VerifyEntry
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
// any entry is enough; the returned Verification names that digest and its signer.
//
// Any other outcome is a *RefusalError: ReasonUnsigned when there are no signatures,
// ReasonWrongSigner when none verifies (the detail says what failed for each),
// ReasonRegistryError when fetching signatures fails — verification fails closed.
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

	var problems []string
	var errs []error
	fail := func(where string, e *verifyEntry, err error) {
		problems = append(problems, fmt.Sprintf("%s, %s: %v", where, e.name, err))
		errs = append(errs, err)
	}

	// cosign 2: sha256-<hex>.sig
	sigList, err := v.signatures(ref, ropts)
	if err != nil {
		return nil, refuse(ReasonRegistryError, "fetching cosign signatures: "+err.Error(), err)
	}
	for i, sig := range sigList {
		where := fmt.Sprintf("signature %d of %s", i+1, sigTagName(ref))
		for _, e := range v.entries {
			signer, err := v.verifySignature(ctx, e, sig, h)
			if err != nil {
				fail(where, e, err)
				continue
			}
			return &Verification{Digest: h.String(), Signer: signer}, nil
		}
	}

	// cosign 3: Sigstore bundles as referrers.
	bundles, bad, err := v.bundles(ctx, ref, ropts)
	if err != nil {
		return nil, refuse(ReasonRegistryError, "fetching Sigstore bundles: "+err.Error(), err)
	}
	for _, b := range bad {
		problems = append(problems, b.Error())
		errs = append(errs, b)
	}
	for _, b := range bundles {
		where := "bundle " + b.digest
		for _, e := range v.entries {
			signer, err := v.verifyBundle(ctx, e, b.bundle, h)
			if err != nil {
				fail(where, e, err)
				continue
			}
			return &Verification{Digest: h.String(), Signer: signer}, nil
		}
	}

	if len(sigList) == 0 && len(bundles) == 0 && len(bad) == 0 {
		return nil, refuse(ReasonUnsigned, "no cosign signatures (no "+sigTagName(ref)+" tag, no Sigstore bundle referrers)", nil)
	}
	return nil, refuse(ReasonWrongSigner, "no signature verified: "+strings.Join(problems, "; "), errors.Join(errs...))
}

func sigTagName(ref name.Digest) string {
	return strings.Replace(ref.DigestStr(), ":", "-", 1) + ".sig"
}

// signatures fetches cosign 2 signatures with their payloads, so that every registry read
// happens here and a registry failure cannot pass for a bad signature.
func (v *Verifier) signatures(ref name.Digest, ropts []remote.Option) ([]oci.Signature, error) {
	opt := ociremote.WithRemoteOptions(ropts...)
	st, err := ociremote.SignatureTag(ref, opt)
	if err != nil {
		return nil, err
	}
	sigs, err := ociremote.Signatures(st, opt)
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
func (v *Verifier) bundles(_ context.Context, ref name.Digest, ropts []remote.Option) (out []fetchedBundle, bad []error, err error) {
	idx, err := remote.Referrers(ref, ropts...)
	if err != nil {
		return nil, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	for _, desc := range im.Manifests {
		explicit := desc.ArtifactType == BundleArtifactType
		// Some registries (go-containerregistry's own among them) report the config media type
		// instead of the manifest's artifactType: look inside those.
		if !explicit && desc.ArtifactType != "" && desc.ArtifactType != string(types.OCIConfigJSON) && desc.ArtifactType != emptyConfigType {
			continue
		}
		bref := ref.Context().Digest(desc.Digest.String())
		img, err := remote.Image(bref, ropts...)
		if err != nil {
			return nil, nil, err
		}
		layers, err := img.Layers()
		if err != nil {
			return nil, nil, err
		}
		if !explicit {
			if len(layers) != 1 {
				continue
			}
			mt, err := layers[0].MediaType()
			if err != nil {
				return nil, nil, err
			}
			if !strings.HasPrefix(string(mt), "application/vnd.dev.sigstore.bundle") {
				continue
			}
		}
		if len(layers) != 1 {
			bad = append(bad, fmt.Errorf("bundle %s: bad payload: %d layers, want 1", desc.Digest, len(layers)))
			continue
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			return nil, nil, err
		}
		raw, err := io.ReadAll(io.LimitReader(rc, 1<<22))
		rc.Close()
		if err != nil {
			return nil, nil, err
		}
		b := &sgbundle.Bundle{}
		if err := b.UnmarshalJSON(raw); err != nil {
			bad = append(bad, fmt.Errorf("bundle %s: bad payload: %w", desc.Digest, err))
			continue
		}
		out = append(out, fetchedBundle{digest: desc.Digest.String(), bundle: b})
	}
	return out, bad, nil
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
	rb, err := sig.Bundle()
	if err != nil {
		return "", fmt.Errorf("%w: reading the transparency-log bundle: %v", errBadPayload, err)
	}
	co := &cosign.CheckOpts{ClaimVerifier: cosign.SimpleClaimVerifier}
	signer := e.name
	if e.key != nil {
		co.SigVerifier = e.key
		if rb == nil {
			if e.RequireTlog {
				return "", fmt.Errorf("%w, and requireTlog is set", errNoTlog)
			}
			co.IgnoreTlog = true
		} else {
			if co.TrustedMaterial, err = v.trustedMaterial(e); err != nil {
				return "", err
			}
		}
		if _, err := cosign.VerifyImageSignature(ctx, sig, h, co); err != nil {
			return "", classifyKeyError(err)
		}
		return signer, nil
	}

	cert, err := sig.Cert()
	if err != nil {
		return "", fmt.Errorf("%w: %v", errKeylessNoCert, err)
	}
	if cert == nil {
		return "", fmt.Errorf("%w on the signature (key-signed?)", errKeylessNoCert)
	}
	summary, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errCertificate, err)
	}
	if err := e.matchIdentity(summary); err != nil {
		return "", err
	}
	k := e.Keyless
	ts, err := sig.RFC3161Timestamp()
	if err != nil {
		return "", fmt.Errorf("%w: reading the signed timestamp: %v", errBadPayload, err)
	}
	if co.TrustedMaterial, err = v.trustedMaterial(e); err != nil {
		return "", err
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
		return "", fmt.Errorf("%w or signed timestamp (a keyless signature needs one unless insecureIgnoreTlog)", errNoTlog)
	}
	if _, err := cosign.VerifyImageSignature(ctx, sig, h, co); err != nil {
		return "", fmt.Errorf("%w: %v", errCertificate, err)
	}
	return describeCert(summary), nil
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

// verifyBundle checks one Sigstore bundle against one entry with cosign's VerifyNewBundle
// (sigstore-go's verifier), bound to digest h, and requires cosign's sign predicate.
func (v *Verifier) verifyBundle(ctx context.Context, e *verifyEntry, b *sgbundle.Bundle, h v1.Hash) (string, error) {
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
