package sigtest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sigstore/sigstore-go/pkg/root"
)

func TestTrustedRootParses(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(ca.TrustedRoot())
	if err != nil {
		t.Fatalf("trusted_root.json does not parse: %v", err)
	}
	got := []int{len(tr.FulcioCertificateAuthorities()), len(tr.RekorLogs()), len(tr.CTLogs())}
	if diff := cmp.Diff([]int{1, 1, 1}, got); diff != "" {
		t.Errorf("CAs, Rekor logs, CT logs (-want +got):\n%s", diff)
	}
	if _, ok := tr.RekorLogs()[ca.logID]; !ok {
		t.Errorf("Rekor log %s missing from trusted root", ca.logID)
	}
}
