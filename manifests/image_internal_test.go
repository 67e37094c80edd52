package manifests

import (
	"strings"
	"testing"
)

// TestNormalizeMemo: a spelling normalizes the same the first time and from the memo, an
// invalid one stays invalid, and a long scalar is answered without being kept.
func TestNormalizeMemo(t *testing.T) {
	long := "ghcr.io/acme" + strings.Repeat("/a", normalizedLongest/2)
	for _, tc := range []struct{ in, want string }{
		{"nginx", "index.docker.io/library/nginx"},
		{"ghcr.io/acme/api", "ghcr.io/acme/api"},
		{"ghcr.io/Acme/api", ""},
		{"not a repo", ""},
		{"", ""},
		{long, ""}, // go-containerregistry refuses a repository of more than 255 characters
	} {
		for round := range 2 {
			if got := normalize(tc.in); got != tc.want {
				t.Errorf("normalize(%.40q), round %d = %q, want %q", tc.in, round, got, tc.want)
			}
		}
	}
	if _, kept := normalized.Load(long); kept {
		t.Error("a spelling longer than normalizedLongest was kept")
	}
	if _, kept := normalized.Load("nginx"); !kept {
		t.Error("nginx was not kept")
	}
}
