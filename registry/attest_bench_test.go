package registry

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/sigtest"
)

// BenchmarkVerifyAttestations measures what an attestation requirement adds to one
// verification: the same signed image verified with no requirement, with a provenance match,
// and with a provenance match plus a vulnerability limit, in both stores, with the digest
// cache warm (what a scheduled run sees from its second run on) and off. requests/op is every
// request the registry saw per verification.
func BenchmarkVerifyAttestations(b *testing.B) {
	ctx := context.Background()
	key, keyPath := newKey(b)
	vuln := Attestation{PredicateType: "vuln", MaxSeverity: "high", MaxAge: 24 * time.Hour}
	for _, store := range []string{StoreAttTag, StoreReferrer} {
		reg := newTestRegistry(b, store == StoreReferrer)
		var n atomic.Int64
		reg.failWhen(func(*http.Request) bool { n.Add(1); return false })
		ref := reg.push(b, "acme/api:1")
		if store == StoreAttTag {
			check(b, sigtest.SignWithKey(ctx, ref, key))
			check(b, sigtest.AttestWithKey(ctx, ref, key, PredicateSLSAProvenance1, []byte(slsaV1Main)))
			check(b, sigtest.AttestWithKey(ctx, ref, key, PredicateVuln, []byte(vulnPredicate(time.Now(), "LOW"))))
		} else {
			check(b, sigtest.SignBundle(ctx, ref, sigtest.Signer{Key: key}))
			check(b, sigtest.AttestBundle(ctx, ref, sigtest.Signer{Key: key}, PredicateSLSAProvenance1, []byte(slsaV1Main)))
			check(b, sigtest.AttestBundle(ctx, ref, sigtest.Signer{Key: key}, PredicateVuln, []byte(vulnPredicate(time.Now(), "LOW"))))
		}
		for _, bc := range []struct {
			name string
			atts []Attestation
		}{
			{"signature-only", nil},
			{"provenance", []Attestation{provenanceMain}},
			{"provenance+vuln", []Attestation{provenanceMain, vuln}},
		} {
			for _, cached := range []bool{false, true} {
				name := store + "/" + bc.name + "/cache-off"
				if cached {
					name = store + "/" + bc.name + "/cache-warm"
				}
				b.Run(name, func(b *testing.B) {
					opts := []VerifierOption{noPublicGood(), fastRetries()}
					client, err := New(WithCacheDir(b.TempDir()))
					check(b, err)
					opts = append(opts, WithRemoteOptionsFor(client.RemoteOptionsFor))
					if cached {
						opts = append(opts, WithCache(client))
					}
					v, err := NewVerifier([]VerifyEntry{{Key: keyPath, Attestations: bc.atts}}, opts...)
					check(b, err)
					if _, err := v.Verify(ctx, ref); err != nil { // the handshake and, warm, the cache
						b.Fatal(err)
					}
					n.Store(0)
					for b.Loop() {
						if _, err := v.Verify(ctx, ref); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(n.Load())/float64(b.N), "requests/op")
				})
			}
		}
	}
}
