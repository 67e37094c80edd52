package sigtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	intotov1 "github.com/in-toto/attestation/go/v1"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
)

// Signer says who signs a bundle: a key pair, or (when Key is nil) a fresh key with a
// certificate that CA issues for Identity and Issuer.
type Signer struct {
	Key              *KeyPair
	CA               *CA
	Identity, Issuer string
}

// SignBundle signs ref's digest in cosign 3's layout: a Sigstore bundle (v0.3) whose DSSE
// envelope holds an in-toto statement with cosign's sign predicate and ref's digest as subject,
// written with cosign's own referrer writer (artifactType
// application/vnd.dev.sigstore.bundle.v0.3+json). go-containerregistry uses the referrers API
// when the registry has it, else the `sha256-<hex>` tag index. Keyless bundles are logged in
// s.CA's transparency log unless WithoutTlog is given; key bundles only with WithTlog.
func SignBundle(ctx context.Context, ref name.Digest, s Signer, opts ...Option) error {
	alg, hexDigest, ok := strings.Cut(ref.DigestStr(), ":")
	if !ok {
		return fmt.Errorf("digest %q has no algorithm", ref.DigestStr())
	}
	statement := &intotov1.Statement{
		Type:          intotov1.StatementTypeUri,
		Subject:       []*intotov1.ResourceDescriptor{{Digest: map[string]string{alg: hexDigest}}},
		PredicateType: ctypes.CosignSignPredicateType,
	}
	pl, err := protojson.Marshal(statement)
	if err != nil {
		return err
	}
	return writeBundle(ctx, ref, s, ctypes.CosignSignPredicateType, pl, makeOptions(opts))
}

// AttestBundle attests ref's digest in the layout of cosign 3's `attest` and GitHub's
// attest-build-provenance with push-to-registry: a Sigstore bundle whose DSSE envelope holds an
// in-toto statement of predicateType with predicate (JSON), written as a referrer annotated
// with its predicate type. WithSubject names another digest in the statement; the tlog
// options are as for SignBundle.
func AttestBundle(ctx context.Context, ref name.Digest, s Signer, predicateType string, predicate []byte, opts ...Option) error {
	o := makeOptions(opts)
	pl, err := statementJSON(ref, predicateType, predicate, o)
	if err != nil {
		return err
	}
	return writeBundle(ctx, ref, s, predicateType, pl, o)
}

func writeBundle(ctx context.Context, ref name.Digest, s Signer, predicateType string, pl []byte, o *options) error {
	var err error
	bopts := sign.BundleOptions{Context: ctx}
	var kp sign.Keypair
	log := o.tlog
	if s.Key != nil {
		if kp, err = newKeypair(s.Key); err != nil {
			return err
		}
	} else {
		if s.CA == nil {
			return fmt.Errorf("signing %s: a Signer needs a Key or a CA", ref)
		}
		if kp, err = sign.NewEphemeralKeypair(nil); err != nil {
			return err
		}
		bopts.CertificateProvider = certProvider{ca: s.CA, identity: s.Identity, issuer: s.Issuer}
		if log == nil && !o.noTlog {
			log = s.CA
		}
	}
	if log != nil {
		bopts.TransparencyLogs = []sign.Transparency{sign.NewRekor(&sign.RekorOptions{Client: log, Version: 1})}
	}
	pb, err := sign.Bundle(&sign.DSSEData{Data: pl, PayloadType: ctypes.IntotoPayloadType}, kp, bopts)
	if err != nil {
		return fmt.Errorf("signing bundle for %s: %w", ref, err)
	}
	raw, err := protojson.Marshal(pb)
	if err != nil {
		return err
	}
	ropts := append([]remote.Option{remote.WithContext(ctx)}, o.remote...)
	if err := ociremote.WriteAttestationNewBundleFormat(ref, raw, predicateType, ociremote.WithRemoteOptions(ropts...)); err != nil {
		return fmt.Errorf("writing bundle for %s: %w", ref, err)
	}
	return nil
}

type certProvider struct {
	ca               *CA
	identity, issuer string
}

func (c certProvider) GetCertificate(_ context.Context, kp sign.Keypair, _ *sign.CertificateProviderOptions) ([]byte, error) {
	cert, err := c.ca.issue(kp.GetPublicKey(), c.identity, c.issuer)
	if err != nil {
		return nil, err
	}
	return cert.Raw, nil
}

// keypair adapts a KeyPair to sigstore-go's signer.
type keypair struct {
	key  *KeyPair
	sv   signature.SignerVerifier
	hint []byte
}

func newKeypair(k *KeyPair) (*keypair, error) {
	sv, err := k.signer()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(k.Private.Public())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return &keypair{key: k, sv: sv, hint: []byte(base64.StdEncoding.EncodeToString(sum[:]))}, nil
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	return protocommon.HashAlgorithm_SHA2_256
}
func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}
func (k *keypair) GetHint() []byte                { return k.hint }
func (k *keypair) GetKeyAlgorithm() string        { return "ECDSA" }
func (k *keypair) GetPublicKey() crypto.PublicKey { return k.key.Private.Public() }
func (k *keypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(k.key.Private.Public())
	return string(b), err
}
func (k *keypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	sum := sha256.Sum256(data)
	sig, err := k.sv.SignMessage(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	return sig, sum[:], nil
}

var _ sign.Keypair = (*keypair)(nil)
