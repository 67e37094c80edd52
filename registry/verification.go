package registry

import "fmt"

// VerifyEntry is one way an image may verify; any one entry that verifies is enough.
// Exactly one of Key and Keyless is set.
type VerifyEntry struct {
	// Key is a cosign public key: a PEM file path or env://VAR.
	Key string
	// Name is how the key is named in Verification.Signer and refusals; default Key. (ferry
	// reads keys from a copy of the config repo's file and names them by their path there.)
	Name string
	// RequireTlog makes a transparency-log entry mandatory for a key signature (by default one is
	// checked when the signature carries it).
	RequireTlog bool
	// TrustedRoot is a Sigstore trusted_root.json whose Rekor keys check a key signature's
	// transparency-log entry; empty means the public-good root (fetched only when an entry has
	// to be checked).
	TrustedRoot string
	Keyless     *Keyless
	// Attestations the image must also carry, each signed by this entry's key or identity.
	Attestations []Attestation
}

// Keyless is a certificate-based (Fulcio-style) identity check.
type Keyless struct {
	Issuer, IssuerRegexp     string
	Identity, IdentityRegexp string
	// TrustedRoot is a Sigstore trusted_root.json file; empty means the public-good root.
	TrustedRoot        string
	InsecureIgnoreTlog bool
	InsecureIgnoreSCT  bool
}

// Verification is a successful verification of one digest.
type Verification struct {
	// Digest is the digest that verified ("sha256:…"); it is the digest callers write.
	Digest string
	// Signer names who signed: the key's file or variable, or the certificate identity and
	// issuer; when a verified SLSA provenance names where the image was built from, Signer ends
	// with " (built from REPO@REF)".
	Signer string
	// Source is the repository and ref a verified provenance attestation names, or "".
	Source string
	// Attestations lists the attestations looked at for the entry that verified, and what each
	// said (all of them with WithAllAttestations).
	Attestations []AttestationResult
}

// AttestationResult is one attestation found for a digest, as the verify entry that accepted
// the image saw it.
type AttestationResult struct {
	PredicateType string `json:"predicateType"`
	// Store is where it was found: "att-tag" (cosign 2's sha256-<hex>.att) or "referrer" (a
	// Sigstore bundle among the digest's OCI referrers).
	Store string `json:"store"`
	// Where names the tag layer or referrer manifest.
	Where string `json:"where"`
	// Verified is true when the entry's key or identity signed it for this digest; Signer is
	// then who signed.
	Verified bool   `json:"verified"`
	Signer   string `json:"signer,omitempty"`
	// Required is true when the entry requires this predicate type; Passed when it then matched.
	Required bool `json:"required"`
	Passed   bool `json:"passed"`
	// Said is what the predicate says, in one line (source, matched fields, findings, scan time).
	Said string `json:"said,omitempty"`
	// Problem is why it did not verify or did not match.
	Problem string `json:"problem,omitempty"`
}

// Refusal reasons, short fixed words that JSON output and skipped lists carry.
const (
	ReasonUnsigned      = "unsigned"
	ReasonWrongSigner   = "wrong-signer"
	ReasonRegistryError = "registry-error"
	ReasonPlatform      = "platform"
	// ReasonAttestation: the signature verified, but a required attestation is missing, not
	// signed by the same key or identity, or does not match.
	ReasonAttestation = "attestation"
)

// RefusalError says why an image was refused. Verification fails closed: any error while
// verifying is a refusal.
type RefusalError struct {
	Image  string // the reference asked for
	Digest string
	Reason string // one of the Reason constants
	Detail string
	Err    error
	// Attestations, for ReasonAttestation: what the entry whose signature verified found.
	Attestations []AttestationResult
}

func (e *RefusalError) Error() string {
	msg := fmt.Sprintf("%s@%s refused (%s)", e.Image, e.Digest, e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *RefusalError) Unwrap() error { return e.Err }
