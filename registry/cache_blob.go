package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobRecord keeps a small blob (an attestation's DSSE envelope, a Sigstore bundle) by its
// digest. Content-addressed, so it is safe to keep forever: what a digest names never changes,
// and the bytes are checked against it when read. Verification still runs on every use.
type blobRecord struct {
	Data []byte `json:"data"`
}

// maxCachedBlob bounds what is kept: attestations are kilobytes, a scan report may be more.
const maxCachedBlob = 4 << 20

func (c *diskCache) blobPath(d v1.Hash) string {
	return filepath.Join(c.dir, cacheVersion, "blobs", d.Algorithm, d.Hex+".json")
}

func (c *diskCache) readBlob(d v1.Hash) ([]byte, bool) {
	if c == nil || d.Algorithm != "sha256" {
		return nil, false
	}
	var r blobRecord
	if !readJSON(c.blobPath(d), &r) {
		return nil, false
	}
	sum := sha256.Sum256(r.Data)
	if hex.EncodeToString(sum[:]) != d.Hex {
		return nil, false
	}
	return r.Data, true
}

// writeBlob keeps b under d when it is d's content; a failure to write costs a fetch next time.
func (c *diskCache) writeBlob(d v1.Hash, b []byte) {
	if c == nil || d.Algorithm != "sha256" || len(b) > maxCachedBlob {
		return
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != d.Hex {
		return
	}
	_ = writeJSON(c.blobPath(d), blobRecord{Data: b})
}
