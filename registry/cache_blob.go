package registry

import (
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobRecord keeps a small blob (an attestation's DSSE envelope, a Sigstore bundle) by its
// digest. Content-addressed, so it is safe to keep forever: what a digest names never changes,
// and the bytes are checked against it when read. Verification still runs on every use.
type blobRecord struct {
	Data []byte `json:"data"`
	// MediaType is a manifest's Content-Type, kept by digestCache; "" for a blob.
	MediaType string `json:"mediaType,omitempty"`
}

// maxCachedBlob bounds what is kept: attestations are kilobytes, a scan report may be more.
const maxCachedBlob = 4 << 20

func (c *diskCache) blobPath(d v1.Hash) string {
	return filepath.Join(c.dir, cacheVersion, "blobs", d.Algorithm, d.Hex+".json")
}

func (c *diskCache) readBlob(d v1.Hash) ([]byte, bool) {
	r, ok := c.readRecord("", d)
	return r.Data, ok
}

// writeBlob keeps b under d when it is d's content; a failure to write costs a fetch next time.
func (c *diskCache) writeBlob(d v1.Hash, b []byte) {
	c.writeRecord("", d, blobRecord{Data: b})
}
