package gitrepo

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"
)

// Signer signs a commit: it gets the commit object encoded without its signature and returns
// the armored signature git stores in the "gpgsig" header. It has the shape of go-git's Signer.
type Signer interface {
	Sign(message io.Reader) ([]byte, error)
}

// NewGPGSigner returns a Signer for an armored OpenPGP private key (as exported by
// `gpg --armor --export-secret-keys`). An encrypted key is decrypted with passphrase. The first
// key in the ring that holds a private key signs (its signing subkey when it has one).
func NewGPGSigner(armoredKey, passphrase []byte) (Signer, error) {
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armoredKey))
	if err != nil {
		return nil, fmt.Errorf("reading gpg signing key: %w (expected an armored private key)", err)
	}
	for _, e := range ring {
		if e.PrivateKey == nil {
			continue
		}
		if e.PrivateKey.Encrypted {
			if len(passphrase) == 0 {
				return nil, errors.New("gpg signing key is encrypted: give its passphrase")
			}
			if err := e.DecryptPrivateKeys(passphrase); err != nil {
				return nil, fmt.Errorf("decrypting gpg signing key: %w", err)
			}
		}
		return &gpgSigner{entity: e}, nil
	}
	return nil, errors.New("gpg signing key: the armored block holds no private key")
}

type gpgSigner struct{ entity *openpgp.Entity }

func (s *gpgSigner) Sign(message io.Reader) ([]byte, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.entity, message, &packet.Config{}); err != nil {
		return nil, fmt.Errorf("gpg signing: %w", err)
	}
	return b.Bytes(), nil
}

// NewSSHSigner returns a Signer that makes SSH signatures (git's gpg.format=ssh, the SSHSIG
// format of `ssh-keygen -Y sign -n git`) with an OpenSSH private key. An encrypted key is
// decrypted with passphrase. RSA keys sign with rsa-sha2-512.
func NewSSHSigner(privateKey, passphrase []byte) (Signer, error) {
	var key any
	var err error
	if len(passphrase) > 0 {
		key, err = ssh.ParseRawPrivateKeyWithPassphrase(privateKey, passphrase)
	} else {
		key, err = ssh.ParseRawPrivateKey(privateKey)
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, errors.New("ssh signing key is encrypted: give its passphrase")
		}
		return nil, fmt.Errorf("reading ssh signing key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return nil, fmt.Errorf("ssh signing key: %w", err)
	}
	return &sshSigner{signer: signer}, nil
}

type sshSigner struct{ signer ssh.Signer }

const sshsigMagic = "SSHSIG"

func (s *sshSigner) Sign(message io.Reader) ([]byte, error) {
	h := sha512.New()
	if _, err := io.Copy(h, message); err != nil {
		return nil, fmt.Errorf("ssh signing: %w", err)
	}
	const namespace, hashAlg = "git", "sha512"
	var toSign bytes.Buffer
	toSign.WriteString(sshsigMagic)
	writeSSHString(&toSign, []byte(namespace))
	writeSSHString(&toSign, nil)
	writeSSHString(&toSign, []byte(hashAlg))
	writeSSHString(&toSign, h.Sum(nil))

	var sig *ssh.Signature
	var err error
	if as, ok := s.signer.(ssh.AlgorithmSigner); ok && s.signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(nil, toSign.Bytes(), ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = s.signer.Sign(nil, toSign.Bytes())
	}
	if err != nil {
		return nil, fmt.Errorf("ssh signing: %w", err)
	}

	var blob bytes.Buffer
	blob.WriteString(sshsigMagic)
	_ = binary.Write(&blob, binary.BigEndian, uint32(1))
	writeSSHString(&blob, s.signer.PublicKey().Marshal())
	writeSSHString(&blob, []byte(namespace))
	writeSSHString(&blob, nil)
	writeSSHString(&blob, []byte(hashAlg))
	writeSSHString(&blob, ssh.Marshal(sig))

	enc := base64.StdEncoding.EncodeToString(blob.Bytes())
	var out strings.Builder
	out.WriteString("-----BEGIN SSH SIGNATURE-----\n")
	for len(enc) > 70 {
		out.WriteString(enc[:70])
		out.WriteString("\n")
		enc = enc[70:]
	}
	out.WriteString(enc)
	out.WriteString("\n-----END SSH SIGNATURE-----\n")
	return []byte(out.String()), nil
}

func writeSSHString(b *bytes.Buffer, s []byte) {
	_ = binary.Write(b, binary.BigEndian, uint32(len(s)))
	b.Write(s)
}

var (
	_ Signer = (*gpgSigner)(nil)
	_ Signer = (*sshSigner)(nil)
)
