package registry

import (
	"net/http"
	"strings"
	"testing"
)

// Only GETs that name a sha256 digest are answered from the cache; GETs by tag are told apart
// with their repository; anything else passes through.
func TestDigestCacheRequestKinds(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		method, url string
		digest      bool
		manifest    bool
		tagRepo     string // "" when not a manifest GET by tag
	}{
		{"GET", "https://r.example/v2/team/app/manifests/sha256:" + hex, true, true, ""},
		{"GET", "https://r.example/v2/app/blobs/sha256:" + hex, true, false, ""},
		{"HEAD", "https://r.example/v2/app/manifests/sha256:" + hex, false, false, ""},
		{"GET", "https://r.example/v2/app/blobs/sha512:" + hex + hex, false, false, ""},
		{"GET", "https://r.example/v2/app/blobs/sha256:abc", false, false, ""},
		{"GET", "https://r.example/v2/app/manifests/sha256:" + hex + "?ns=x", false, false, ""},
		{"GET", "https://r.example/v2/team/app/manifests/sha256-" + hex + ".sig", false, false, "r.example/team/app"},
		{"GET", "https://r.example/v2/app/tags/list", false, false, ""},
		{"GET", "https://r.example/v2/", false, false, ""},
		{"PUT", "https://r.example/v2/app/manifests/1.0.0", false, false, ""},
	} {
		req, err := http.NewRequest(tc.method, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, manifest, ok := digestRequest(req)
		if ok != tc.digest || manifest != tc.manifest || (ok && d.Hex != hex) {
			t.Errorf("%s %s: digestRequest = %v, %v, %v", tc.method, tc.url, d, manifest, ok)
		}
		repo, tag, ok := tagManifestRequest(req)
		if tc.tagRepo == "" {
			if ok && !tc.digest {
				t.Errorf("%s %s: taken as a GET by tag (%s, %s)", tc.method, tc.url, repo, tag)
			}
			continue
		}
		if !ok || repo != tc.tagRepo || tag != "sha256-"+hex+".sig" {
			t.Errorf("%s %s: tagManifestRequest = %q, %q, %v", tc.method, tc.url, repo, tag, ok)
		}
	}
}
