package gitrepo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"golang.org/x/crypto/ssh"
)

// verifyCommit runs `git verify-commit` in repo with extra env and config, returning its
// combined output and whether it succeeded.
func verifyCommit(t *testing.T, repo, sha string, env []string, config ...string) (string, bool) {
	t.Helper()
	args := append(config, "verify-commit", "-v", sha)
	cmd := exec.Command("git", args...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func TestSignGPG(t *testing.T) {
	e, err := openpgp.NewEntity("ferry", "", "ferry@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var priv, pub bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	signer, err := NewGPGSigner(priv.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "g")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	imp := exec.Command("gpg", "--batch", "--homedir", home, "--import")
	imp.Stdin = &pub
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run() })

	bare := newBare(t, seed)
	r := open(t, bare, Options{})
	res, err := r.Apply(context.Background(), func(ctx context.Context, _ fs.FS) (*Change, error) {
		return &Change{Files: map[string][]byte{"signed": []byte("gpg\n")}, Message: "signed with gpg", Sign: signer,
			Author: Signature{Name: "ferry", Email: "ferry@example.com"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, ok := verifyCommit(t, bare, res.SHA, []string{"GNUPGHOME=" + home})
	if !ok || !strings.Contains(out, "Good signature") {
		t.Errorf("git verify-commit failed:\n%s", out)
	}
	// The unsigned seed commit does not verify: the check can fail.
	if out, ok := verifyCommit(t, bare, res.Parent, []string{"GNUPGHOME=" + home}); ok {
		t.Errorf("unsigned commit verified:\n%s", out)
	}

	t.Run("bad keys", func(t *testing.T) {
		for _, k := range [][]byte{nil, []byte("not a key"), pub.Bytes()} {
			if _, err := NewGPGSigner(k, nil); err == nil {
				t.Errorf("NewGPGSigner(%.20q) succeeded", k)
			}
		}
	})
}

func TestSignSSH(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	_, edKey2, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		key        any
		passphrase string
	}{
		{"ed25519", edKey, ""},
		{"ed25519 encrypted", edKey2, "hunter2"},
		{"rsa", rsaKey, ""},
	}
	bare := newBare(t, seed)
	r := open(t, bare, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var block *pem.Block
			if tc.passphrase != "" {
				block, err = ssh.MarshalPrivateKeyWithPassphrase(tc.key, "", []byte(tc.passphrase))
			} else {
				block, err = ssh.MarshalPrivateKey(tc.key, "")
			}
			if err != nil {
				t.Fatal(err)
			}
			pemBytes := pem.EncodeToMemory(block)
			if tc.passphrase != "" {
				if _, err := NewSSHSigner(pemBytes, nil); err == nil || !strings.Contains(err.Error(), "passphrase") {
					t.Errorf("encrypted key without passphrase: %v", err)
				}
			}
			signer, err := NewSSHSigner(pemBytes, []byte(tc.passphrase))
			if err != nil {
				t.Fatal(err)
			}
			sshSigner, _ := ssh.NewSignerFromKey(tc.key)
			allowed := filepath.Join(t.TempDir(), "allowed_signers")
			line := "ferry@example.com " + string(ssh.MarshalAuthorizedKey(sshSigner.PublicKey()))
			if err := os.WriteFile(allowed, []byte(line), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := r.Apply(context.Background(), func(ctx context.Context, _ fs.FS) (*Change, error) {
				return &Change{Files: map[string][]byte{"signed-ssh": []byte(tc.name)}, Message: "signed with ssh " + tc.name, Sign: signer,
					Author: Signature{Name: "ferry", Email: "ferry@example.com"}}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg := []string{"-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile=" + allowed}
			out, ok := verifyCommit(t, bare, res.SHA, nil, cfg...)
			if !ok || !strings.Contains(out, `Good "git" signature for ferry@example.com`) {
				t.Errorf("git verify-commit failed:\n%s", out)
			}
			if out, ok := verifyCommit(t, bare, res.Parent, nil, cfg...); ok {
				t.Errorf("unsigned or differently signed parent verified:\n%s", out)
			}
		})
	}
}
