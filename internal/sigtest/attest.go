package sigtest

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/rekor/pkg/types/dsse"
	dssev001 "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
)

// WithSubject makes an attestation's statement name d instead of the image it is attached to
// (an attestation for another digest).
func WithSubject(d name.Digest) Option { return func(o *options) { o.subject = &d } }

// statementJSON is an in-toto v1 statement about ref (or o.subject) with the given predicate.
func statementJSON(ref name.Digest, predicateType string, predicate []byte, o *options) ([]byte, error) {
	subj := ref
	if o.subject != nil {
		subj = *o.subject
	}
	alg, hexDigest, ok := strings.Cut(subj.DigestStr(), ":")
	if !ok {
		return nil, fmt.Errorf("digest %q has no algorithm", subj.DigestStr())
	}
	if !json.Valid(predicate) {
		return nil, fmt.Errorf("predicate for %s is not JSON", ref)
	}
	return json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": subj.Context().Name(), "digest": map[string]string{alg: hexDigest}}},
		"predicateType": predicateType,
		"predicate":     json.RawMessage(predicate),
	})
}

// AttestWithKey attests ref's digest with key in cosign 2's layout, as `cosign attest --key`
// does: a DSSE envelope of an in-toto statement, attached as a layer (annotated with its
// predicate type) of the `sha256-<hex>.att` tag alongside the attestations already there.
// WithTlog records it in the CA's log (a dsse entry, as cosign 2.6 uploads).
func AttestWithKey(ctx context.Context, ref name.Digest, key *KeyPair, predicateType string, predicate []byte, opts ...Option) error {
	o := makeOptions(opts)
	sv, err := key.signer()
	if err != nil {
		return err
	}
	return attestCosign2(ctx, ref, sv, key.PublicPEM, nil, nil, o.tlog, predicateType, predicate, o)
}

// AttestKeyless attests ref's digest with a fresh key and a certificate ca issues for identity
// and issuer, in cosign 2's layout; logged in ca's transparency log unless WithoutTlog.
func AttestKeyless(ctx context.Context, ref name.Digest, ca *CA, identity, issuer, predicateType string, predicate []byte, opts ...Option) error {
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
	return attestCosign2(ctx, ref, sv, certPEM, certPEM, chainPEM, log, predicateType, predicate, o)
}

func attestCosign2(ctx context.Context, ref name.Digest, sv signature.SignerVerifier, verifierPEM, certPEM, chainPEM []byte, log *CA, predicateType string, predicate []byte, o *options) error {
	st, err := statementJSON(ref, predicateType, predicate, o)
	if err != nil {
		return err
	}
	env, err := sigdsse.WrapSigner(sv, ctypes.IntotoPayloadType).SignMessage(bytes.NewReader(st))
	if err != nil {
		return fmt.Errorf("attesting %s: %w", ref, err)
	}
	sopts := []static.Option{static.WithLayerMediaType(ctypes.DssePayloadType), static.WithAnnotations(map[string]string{"predicateType": predicateType})}
	if certPEM != nil {
		sopts = append(sopts, static.WithCertChain(certPEM, chainPEM))
	}
	if log != nil {
		pe, err := types.NewProposedEntry(ctx, dsse.KIND, dssev001.APIVERSION, types.ArtifactProperties{ArtifactBytes: env, PublicKeyBytes: [][]byte{verifierPEM}})
		if err != nil {
			return fmt.Errorf("proposing log entry: %w", err)
		}
		entry, err := log.logEntry(ctx, pe)
		if err != nil {
			return err
		}
		sopts = append(sopts, static.WithBundle(cbundle.EntryToBundle(entry)))
	}
	if o.tamper {
		if env, err = tamperEnvelope(env); err != nil {
			return err
		}
	}
	att, err := static.NewAttestation(env, sopts...)
	if err != nil {
		return err
	}
	return attach(ctx, ref, o, "attestation", func(se oci.SignedEntity) (oci.SignedEntity, error) {
		return mutate.AttachAttestationToEntity(se, att)
	}, ociremote.WriteAttestations)
}

// tamperEnvelope changes the signed statement inside a DSSE envelope, keeping its signature.
func tamperEnvelope(env []byte) ([]byte, error) {
	var e map[string]any
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, err
	}
	pl, _ := e["payload"].(string)
	raw, err := base64.StdEncoding.DecodeString(pl)
	if err != nil {
		return nil, err
	}
	raw = append(bytes.TrimRight(raw, "}"), []byte(`,"tampered":true}`)...)
	e["payload"] = base64.StdEncoding.EncodeToString(raw)
	return json.Marshal(e)
}
