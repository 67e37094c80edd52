package registry

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewVerifierValidates(t *testing.T) {
	_, keyPath := newKey(t)
	_, rootPath := newCA(t)
	notPEM := writeFile(t, "not.pub", []byte("hello"))
	badRoot := writeFile(t, "root.json", []byte(`{"mediaType": 1}`))
	k, _ := newKey(t)
	t.Setenv("FERRY_TEST_KEY", string(k.PublicPEM))
	t.Setenv("FERRY_TEST_EMPTY", "")
	ok := func(id string) *Keyless {
		return &Keyless{Identity: id, Issuer: "https://issuer.example", TrustedRoot: rootPath}
	}
	tests := []struct {
		name    string
		entries []VerifyEntry
		wantErr string // "" means valid
	}{
		{"key file", []VerifyEntry{{Key: keyPath}}, ""},
		{"key from env", []VerifyEntry{{Key: "env://FERRY_TEST_KEY"}}, ""},
		{"keyless", []VerifyEntry{{Keyless: ok("ci@example.com")}}, ""},
		{"key with trusted root", []VerifyEntry{{Key: keyPath, TrustedRoot: rootPath, RequireTlog: true}}, ""},
		{"no entries", nil, "no verify entries"},
		{"neither", []VerifyEntry{{}}, "neither key nor keyless"},
		{"both", []VerifyEntry{{Key: keyPath, Keyless: ok("a")}}, "both key and keyless"},
		{"missing key file", []VerifyEntry{{Key: keyPath + ".nope"}}, "reading key"},
		{"not a PEM key", []VerifyEntry{{Key: notPEM}}, "not a PEM public key"},
		{"unset env", []VerifyEntry{{Key: "env://FERRY_TEST_UNSET_VAR"}}, "FERRY_TEST_UNSET_VAR is not set"},
		{"empty env", []VerifyEntry{{Key: "env://FERRY_TEST_EMPTY"}}, "FERRY_TEST_EMPTY is not set"},
		{"bad identity regexp", []VerifyEntry{{Keyless: &Keyless{IdentityRegexp: "(", Issuer: "x", TrustedRoot: rootPath}}}, "identityRegexp"},
		{"bad issuer regexp", []VerifyEntry{{Keyless: &Keyless{Identity: "a", IssuerRegexp: "[", TrustedRoot: rootPath}}}, "issuerRegexp"},
		{"identity and regexp", []VerifyEntry{{Keyless: &Keyless{Identity: "a", IdentityRegexp: "b", Issuer: "x"}}}, "exactly one of identity"},
		{"no issuer", []VerifyEntry{{Keyless: &Keyless{Identity: "a"}}}, "exactly one of issuer"},
		{"bad trusted root", []VerifyEntry{{Keyless: &Keyless{Identity: "a", Issuer: "x", TrustedRoot: badRoot}}}, "trusted root"},
		{"missing trusted root", []VerifyEntry{{Key: keyPath, TrustedRoot: rootPath + ".nope"}}, "trusted root"},
		{"requireTlog on keyless", []VerifyEntry{{RequireTlog: true, Keyless: ok("a")}}, "requireTlog is for key entries"},
		{"second entry named", []VerifyEntry{{Key: keyPath}, {Key: notPEM}}, "verify entry 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVerifier(tc.entries, noPublicGood())
			got := ""
			if err != nil {
				got = err.Error()
				if tc.wantErr != "" && strings.Contains(got, tc.wantErr) {
					got = tc.wantErr
				}
			}
			if diff := cmp.Diff(tc.wantErr, got); diff != "" {
				t.Errorf("NewVerifier error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInsecureIgnoreTlogWarns(t *testing.T) {
	_, rootPath := newCA(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	entries := []VerifyEntry{{Keyless: &Keyless{Identity: "a", Issuer: "b", TrustedRoot: rootPath, InsecureIgnoreTlog: true}}}
	for run := 1; run <= 2; run++ {
		buf.Reset()
		if _, err := NewVerifier(entries, WithLogger(logger)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "insecureIgnoreTlog") {
			t.Errorf("run %d: no warning logged: %q", run, buf.String())
		}
	}
}
