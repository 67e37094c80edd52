package registry

import (
	"errors"
	"fmt"
	"net/http"
	"os"
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
		if ok {
			want := strings.TrimPrefix(tc.url, "https://r.example/v2/")
			want = want[:strings.Index(want, "/sha256:")]
			want = want[:strings.LastIndex(want, "/")]
			if got := digestRequestRepo(req.URL.Path); got != want {
				t.Errorf("%s %s: digestRequestRepo = %q, want %q", tc.method, tc.url, got, want)
			}
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

// A pack keeps every blob this process touched, whatever their size, and of the others what
// fits in packBlobBytes.
func TestKeptBlobs(t *testing.T) {
	big := blobRecord{Data: make([]byte, packBlobBytes/4+1)}
	blobs := map[string]blobRecord{}
	touched := map[string]bool{}
	for i := range 12 {
		d := fmt.Sprintf("sha256:%064x", i)
		blobs[d] = big
		if i%4 == 0 {
			touched[d] = true // 3 touched: 0, 4, 8
		}
	}
	kept := keptBlobs(blobs, touched)
	for d := range touched {
		if _, ok := kept[d]; !ok {
			t.Errorf("touched blob %s dropped", d)
		}
	}
	if got := len(kept) - len(touched); got != 3 {
		t.Errorf("kept %d untouched blobs, want 3 (what fits in %d bytes)", got, packBlobBytes)
	}
	for _, d := range []string{fmt.Sprintf("sha256:%064x", 1), fmt.Sprintf("sha256:%064x", 2), fmt.Sprintf("sha256:%064x", 3)} {
		if _, ok := kept[d]; !ok {
			t.Errorf("untouched %s dropped: the first in digest order are kept", d)
		}
	}
}

// A blob learned while a batch of its repository is open goes into the pack, not a record
// file, and a new cache reads it from there; a record file an older ferry wrote is still read.
func TestRecordsInPacks(t *testing.T) {
	dir := t.TempDir()
	const repo = "r.example/app"
	old, fresh := []byte("written by an older ferry"), []byte("learned in a batch")
	c := &diskCache{dir: dir}
	c.writeRecord("", digestOf(old), blobRecord{Data: old})
	end := c.batch(repo)
	c.writeRecord(repo, digestOf(fresh), blobRecord{Data: fresh, MediaType: "application/x-test"})
	if _, err := os.Stat(c.blobPath(digestOf(fresh))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a record file was written during the batch (%v)", err)
	}
	if err := end(); err != nil {
		t.Fatal(err)
	}
	again := &diskCache{dir: dir}
	for _, b := range [][]byte{old, fresh} {
		if r, ok := again.readRecord(repo, digestOf(b)); !ok || string(r.Data) != string(b) {
			t.Errorf("readRecord(%q) = %q, %v", b, r.Data, ok)
		}
	}
	if r, _ := again.readRecord(repo, digestOf(fresh)); r.MediaType != "application/x-test" {
		t.Errorf("media type %q, want the one learned", r.MediaType)
	}
	if _, ok := again.readRecord("r.example/other", digestOf(fresh)); ok {
		t.Error("another repository's pack answered")
	}
}
