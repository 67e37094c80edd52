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
	// Signer names who signed: the key's file or variable, or the certificate identity and issuer.
	Signer string
}

// Refusal reasons, short fixed words that JSON output and skipped lists carry.
const (
	ReasonUnsigned      = "unsigned"
	ReasonWrongSigner   = "wrong-signer"
	ReasonRegistryError = "registry-error"
	ReasonPlatform      = "platform"
)

// RefusalError says why an image was refused. Verification fails closed: any error while
// verifying is a refusal.
type RefusalError struct {
	Image  string // the reference asked for
	Digest string
	Reason string // one of the Reason constants
	Detail string
	Err    error
}

func (e *RefusalError) Error() string {
	msg := fmt.Sprintf("%s@%s refused (%s)", e.Image, e.Digest, e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *RefusalError) Unwrap() error { return e.Err }
