package registry

import (
	"context"
	"testing"

	"github.com/ferryhq/ferry/internal/sigtest"
)

// BenchmarkVerify measures one verification against the in-memory registry: requests for the
// signatures, and cosign's checks.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	key, keyPath := newKey(b)
	ca, rootPath := newCA(b)
	for _, bc := range []struct {
		name  string
		sign  func(reg *testRegistry) error
		entry VerifyEntry
	}{
		{"key-cosign2", nil, VerifyEntry{Key: keyPath}},
		{"key-bundle", nil, VerifyEntry{Key: keyPath}},
		{"keyless-cosign2-tlog", nil, VerifyEntry{Keyless: &Keyless{Identity: testIdentity, Issuer: testIssuer, TrustedRoot: rootPath, InsecureIgnoreSCT: true}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			reg := newTestRegistry(b, false)
			ref := reg.push(b, "acme/api:1")
			var err error
			switch bc.name {
			case "key-cosign2":
				err = sigtest.SignWithKey(ctx, ref, key)
			case "key-bundle":
				err = sigtest.SignBundle(ctx, ref, sigtest.Signer{Key: key})
			default:
				err = sigtest.SignKeyless(ctx, ref, ca, testIdentity, testIssuer)
			}
			if err != nil {
				b.Fatal(err)
			}
			v := mustVerifier(b, bc.entry)
			b.ResetTimer()
			for b.Loop() {
				if _, err := v.Verify(ctx, ref); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
