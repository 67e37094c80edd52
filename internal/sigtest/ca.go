package sigtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/go-openapi/strfmt"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/pki"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1" // registers the entry kind
	"github.com/sigstore/rekor/pkg/types/hashedrekord"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1" // registers the entry kind
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
)

// CA is a private Sigstore made for a test: a root certificate authority with a Fulcio-style
// intermediate that issues short-lived signing certificates carrying an identity and an OIDC
// issuer, and a Rekor-style transparency log (an ECDSA log key that signs entry timestamps and
// checkpoints). Its trusted root, in Sigstore's trusted_root.json format, is what a verifier
// is given.
type CA struct {
	root, intermediate       *x509.Certificate
	rootKey, intermediateKey *ecdsa.PrivateKey
	logKey, ctKey            *ecdsa.PrivateKey
	logID                    string // hex SHA-256 of the log key's DER
	trustedRoot              []byte

	mu       sync.Mutex
	logIndex int64
}

// NewCA generates a CA, an intermediate and a transparency-log key, valid from an hour ago for
// a day.
func NewCA() (*CA, error) {
	ca := &CA{}
	var err error
	for _, k := range []**ecdsa.PrivateKey{&ca.rootKey, &ca.intermediateKey, &ca.logKey, &ca.ctKey} {
		if *k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	start, end := time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ferry test root", Organization: []string{"ferry test"}},
		NotBefore:             start,
		NotAfter:              end,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if ca.root, err = createCert(rootTmpl, rootTmpl, &ca.rootKey.PublicKey, ca.rootKey); err != nil {
		return nil, err
	}
	interTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "ferry test intermediate", Organization: []string{"ferry test"}},
		NotBefore:             start,
		NotAfter:              end,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if ca.intermediate, err = createCert(interTmpl, ca.root, &ca.intermediateKey.PublicKey, ca.rootKey); err != nil {
		return nil, err
	}
	if ca.logID, err = keyID(ca.logKey.Public()); err != nil {
		return nil, err
	}
	ctID, err := keyID(ca.ctKey.Public())
	if err != nil {
		return nil, err
	}
	logIDRaw, _ := hex.DecodeString(ca.logID)
	ctIDRaw, _ := hex.DecodeString(ctID)
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{
			Root: ca.root, Intermediates: []*x509.Certificate{ca.intermediate},
			ValidityPeriodStart: start, URI: "https://fulcio.ferry.test",
		}},
		map[string]*root.TransparencyLog{ctID: {
			BaseURL: "https://ctfe.ferry.test", ID: ctIDRaw, ValidityPeriodStart: start,
			HashFunc: crypto.SHA256, PublicKey: ca.ctKey.Public(), SignatureHashFunc: crypto.SHA256,
		}},
		nil,
		map[string]*root.TransparencyLog{ca.logID: {
			BaseURL: "https://rekor.ferry.test", ID: logIDRaw, ValidityPeriodStart: start,
			HashFunc: crypto.SHA256, PublicKey: ca.logKey.Public(), SignatureHashFunc: crypto.SHA256,
		}},
	)
	if err != nil {
		return nil, fmt.Errorf("building trusted root: %w", err)
	}
	if ca.trustedRoot, err = tr.MarshalJSON(); err != nil {
		return nil, fmt.Errorf("encoding trusted root: %w", err)
	}
	return ca, nil
}

// TrustedRoot returns the CA's trusted_root.json.
func (ca *CA) TrustedRoot() []byte { return ca.trustedRoot }

// WriteTrustedRoot writes the CA's trusted_root.json to path.
func (ca *CA) WriteTrustedRoot(path string) error { return os.WriteFile(path, ca.trustedRoot, 0o644) }

// Chain returns the issuing chain of signing certificates: intermediate, then root.
func (ca *CA) Chain() []*x509.Certificate { return []*x509.Certificate{ca.intermediate, ca.root} }

// IssueCertificate issues a ten-minute signing certificate for a fresh key, like Fulcio: the
// subject alternative name is identity (a URI when it parses as one with a scheme, else an
// email address) and the OIDC issuer is recorded in both of Fulcio's issuer extensions.
func (ca *CA) IssueCertificate(identity, issuer string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	cert, err := ca.issue(priv.Public(), identity, issuer)
	return cert, priv, err
}

func (ca *CA) issue(pub crypto.PublicKey, identity, issuer string) (*x509.Certificate, error) {
	issuerV2, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(10 * time.Minute),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}, Value: []byte(issuer)},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: issuerV2},
		},
	}
	if u, err := url.Parse(identity); err == nil && u.Scheme != "" {
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{identity}
	}
	return createCert(tmpl, ca.intermediate, pub, ca.intermediateKey)
}

func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("creating certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func keyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// CreateLogEntry makes the CA's log a Rekor (v1) client for sigstore-go's signer
// (sign.RekorOptions.Client): it canonicalises the proposed entry, and answers with a log entry
// carrying a signed entry timestamp and an inclusion proof in a one-leaf tree whose checkpoint
// the log key signs.
func (ca *CA) CreateLogEntry(params *entries.CreateLogEntryParams, _ ...entries.ClientOption) (*entries.CreateLogEntryCreated, error) {
	ctx := params.Context
	if ctx == nil {
		ctx = context.Background()
	}
	entry, err := ca.logEntry(ctx, params.ProposedEntry)
	if err != nil {
		return nil, err
	}
	uuid := fmt.Sprintf("%s%016x", ca.logID[:16], *entry.LogIndex)
	return &entries.CreateLogEntryCreated{ETag: uuid, Payload: models.LogEntry{uuid: *entry}}, nil
}

func (ca *CA) logHashedRekord(ctx context.Context, payload, sig, verifierPEM []byte) (*models.LogEntryAnon, error) {
	sum := sha256.Sum256(payload)
	pe, err := hashedrekord.New().CreateProposedEntry(ctx, "", types.ArtifactProperties{
		PKIFormat:      string(pki.X509),
		SignatureBytes: sig,
		ArtifactHash:   "sha256:" + hex.EncodeToString(sum[:]),
		PublicKeyBytes: [][]byte{verifierPEM},
	})
	if err != nil {
		return nil, fmt.Errorf("proposing log entry: %w", err)
	}
	return ca.logEntry(ctx, pe)
}

func (ca *CA) logEntry(ctx context.Context, pe models.ProposedEntry) (*models.LogEntryAnon, error) {
	impl, err := types.CreateVersionedEntry(pe)
	if err != nil {
		return nil, fmt.Errorf("reading proposed log entry: %w", err)
	}
	body, err := types.CanonicalizeEntry(ctx, impl)
	if err != nil {
		return nil, fmt.Errorf("canonicalising log entry: %w", err)
	}
	signer, err := signature.LoadECDSASignerVerifier(ca.logKey, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	ca.mu.Lock()
	index := ca.logIndex
	ca.logIndex++
	ca.mu.Unlock()
	integrated := time.Now().Unix()
	b64 := base64.StdEncoding.EncodeToString(body)

	// Signed entry timestamp: the log's signature over the canonical JSON of the entry.
	setJSON, err := json.Marshal(struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	}{b64, integrated, index, ca.logID})
	if err != nil {
		return nil, err
	}
	canon, err := jsoncanonicalizer.Transform(setJSON)
	if err != nil {
		return nil, err
	}
	set, err := signer.SignMessage(bytes.NewReader(canon))
	if err != nil {
		return nil, err
	}

	// Inclusion proof in a tree of one leaf: the root hash is the leaf hash.
	leaf := sha256.Sum256(append([]byte{0}, body...))
	checkpoint, err := util.CreateAndSignCheckpoint(ctx, "rekor.ferry.test", 1, 1, leaf[:], signer)
	if err != nil {
		return nil, fmt.Errorf("signing checkpoint: %w", err)
	}
	rootHash := hex.EncodeToString(leaf[:])
	zero, one := int64(0), int64(1)
	cp := string(checkpoint)
	logID := ca.logID
	return &models.LogEntryAnon{
		Body:           b64,
		IntegratedTime: &integrated,
		LogID:          &logID,
		LogIndex:       &index,
		Verification: &models.LogEntryAnonVerification{
			SignedEntryTimestamp: strfmt.Base64(set),
			InclusionProof: &models.InclusionProof{
				Checkpoint: &cp,
				Hashes:     []string{},
				LogIndex:   &zero,
				RootHash:   &rootHash,
				TreeSize:   &one,
			},
		},
	}, nil
}
