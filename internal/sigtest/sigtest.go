// Package sigtest signs images the way cosign does, with keys and a certificate authority made on
// the spot, so that tests (and `ferry demo`) can exercise verification against a real registry
// without any network. Nothing here is fetched: keys, certificates, the transparency log and the
// trusted root are all generated in memory.
//
// Two layouts are written:
//   - cosign 2: a simple-signing payload signed and attached as a layer of the
//     `sha256-<hex>.sig` tag (SignWithKey, SignKeyless);
//   - cosign 3: a Sigstore bundle (v0.3, DSSE envelope of an in-toto statement with cosign's
//     sign predicate) stored as an OCI referrer of the image (SignBundle), which go-containerregistry
//     writes through the referrers API or, when the registry lacks it, the `sha256-<hex>` tag index.
//
// Attestations come in the same two layouts: a DSSE envelope on the `sha256-<hex>.att` tag
// (AttestWithKey, AttestKeyless; what cosign 2's `attest` writes), and a bundle referrer with
// any predicate (AttestBundle; cosign 3 and GitHub's attest actions).
package sigtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// KeyPair is a cosign-style ECDSA P-256 key pair.
type KeyPair struct {
	Private   *ecdsa.PrivateKey
	PublicPEM []byte
}

// NewKeyPair generates a key pair with cosign's own key generator.
func NewKeyPair() (*KeyPair, error) {
	priv, err := cosign.GeneratePrivateKey()
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return &KeyPair{Private: priv, PublicPEM: pub}, nil
}

// WritePublicKey writes the PEM public key to path (what `cosign generate-key-pair` names cosign.pub).
func (k *KeyPair) WritePublicKey(path string) error {
	return os.WriteFile(path, k.PublicPEM, 0o644)
}

func (k *KeyPair) signer() (signature.SignerVerifier, error) {
	return signature.LoadECDSASignerVerifier(k.Private, crypto.SHA256)
}

// Option adjusts one signing call.
type Option func(*options)

type options struct {
	remote  []remote.Option
	tlog    *CA
	noTlog  bool
	tamper  bool
	payload []byte
	subject *name.Digest
}

// WithRemoteOptions passes go-containerregistry options (transport, auth) to the registry writes.
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(o *options) { o.remote = append(o.remote, opts...) }
}

// WithTlog records the signature in ca's transparency log and attaches the log entry (a Rekor
// bundle for cosign 2, a tlog entry with inclusion proof and promise for cosign 3). Key
// signatures have no log entry unless this is given (like `cosign sign --tlog-upload=false`).
func WithTlog(ca *CA) Option { return func(o *options) { o.tlog = ca } }

// WithoutTlog leaves a keyless signature out of the transparency log.
func WithoutTlog() Option { return func(o *options) { o.noTlog = true } }

// WithTamperedPayload changes the signed payload after signing, so the signature no longer
// matches it (cosign 2 layout).
func WithTamperedPayload() Option { return func(o *options) { o.tamper = true } }

// WithPayload signs the given payload instead of cosign's simple-signing payload for the
// digest (cosign 2 layout).
func WithPayload(p []byte) Option { return func(o *options) { o.payload = p } }

func makeOptions(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	return o
}

// SignWithKey signs ref's digest with key in cosign 2's layout: the simple-signing payload cosign
// writes, attached to the `sha256-<hex>.sig` tag alongside any signatures already there.
func SignWithKey(ctx context.Context, ref name.Digest, key *KeyPair, opts ...Option) error {
	o := makeOptions(opts)
	sv, err := key.signer()
	if err != nil {
		return err
	}
	return signCosign2(ctx, ref, sv, key.PublicPEM, nil, nil, o.tlog, o)
}

// SignKeyless signs ref's digest with a fresh key and a certificate that ca issues for identity
// (a URI or an email address) and issuer, in cosign 2's layout. The signature is recorded in
// ca's transparency log unless WithoutTlog is given.
func SignKeyless(ctx context.Context, ref name.Digest, ca *CA, identity, issuer string, opts ...Option) error {
	o := makeOptions(opts)
	leaf, priv, err := ca.IssueCertificate(identity, issuer)
	if err != nil {
		return err
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return err
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(leaf)
	if err != nil {
		return err
	}
	chainPEM, err := cryptoutils.MarshalCertificatesToPEM(ca.Chain())
	if err != nil {
		return err
	}
	log := ca
	if o.noTlog {
		log = nil
	}
	return signCosign2(ctx, ref, sv, certPEM, certPEM, chainPEM, log, o)
}

func signCosign2(ctx context.Context, ref name.Digest, sv signature.SignerVerifier, verifierPEM, certPEM, chainPEM []byte, log *CA, o *options) error {
	pl := o.payload
	if pl == nil {
		var err error
		pl, err = (&payload.Cosign{Image: ref}).MarshalJSON()
		if err != nil {
			return fmt.Errorf("building payload for %s: %w", ref, err)
		}
	}
	sig, err := sv.SignMessage(bytes.NewReader(pl))
	if err != nil {
		return fmt.Errorf("signing %s: %w", ref, err)
	}
	var sopts []static.Option
	if certPEM != nil {
		sopts = append(sopts, static.WithCertChain(certPEM, chainPEM))
	}
	if log != nil {
		entry, err := log.logHashedRekord(ctx, pl, sig, verifierPEM)
		if err != nil {
			return err
		}
		sopts = append(sopts, static.WithBundle(cbundle.EntryToBundle(entry)))
	}
	if o.tamper {
		pl = append(bytes.TrimRight(pl, "}"), []byte(`,"tampered":true}`)...)
	}
	ociSig, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(sig), sopts...)
	if err != nil {
		return err
	}
	return attach(ctx, ref, o, "signature", func(se oci.SignedEntity) (oci.SignedEntity, error) {
		return mutate.AttachSignatureToEntity(se, ociSig)
	}, ociremote.WriteSignatures)
}

// attach reads what the registry holds for ref (or starts from nothing), adds one signature or
// attestation to it with add, and writes the result back with write, as cosign sign and cosign
// attest do.
func attach(ctx context.Context, ref name.Digest, o *options, what string,
	add func(oci.SignedEntity) (oci.SignedEntity, error),
	write func(name.Repository, oci.SignedEntity, ...ociremote.Option) error) error {
	ropts := append([]remote.Option{remote.WithContext(ctx)}, o.remote...)
	rOpt := ociremote.WithRemoteOptions(ropts...)
	se, err := ociremote.SignedEntity(ref, rOpt)
	if err != nil {
		var nf *ociremote.EntityNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("reading %s: %w", ref, err)
		}
		se = ociremote.SignedUnknown(ref, rOpt)
	}
	if se, err = add(se); err != nil {
		return err
	}
	if err := write(ref.Repository, se, rOpt); err != nil {
		return fmt.Errorf("writing %s of %s: %w", what, ref, err)
	}
	return nil
}
