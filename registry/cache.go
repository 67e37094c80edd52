package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cacheVersion is part of every cache path: bump it when a record's meaning changes.
const cacheVersion = "v1"

// diskCache keeps facts about immutable things (digests) and, for hosts marked immutableTags,
// tag→digest pairs. Each record is one small JSON file written atomically (temp file, rename),
// so concurrent runs sharing a cache never read a torn record. A record that cannot be read is
// treated as missing.
type diskCache struct{ dir string }

// digestFacts is what ferry knows about one digest. Fields fill in as they are learned.
type digestFacts struct {
	MediaType string `json:"mediaType,omitempty"`
	// Platforms the manifest serves, normalised; set once the manifest was read.
	Platforms []string `json:"platforms,omitempty"`
	// HasPlatforms distinguishes "no platforms known" from "not read yet".
	HasPlatforms bool `json:"hasPlatforms,omitempty"`
	// Created is the image's creation time; set once the config blob was read.
	Created    time.Time `json:"created,omitzero"`
	HasCreated bool      `json:"hasCreated,omitempty"`
}

func (c *diskCache) digestPath(dgst string) (string, error) {
	h, err := v1.NewHash(dgst)
	if err != nil {
		return "", fmt.Errorf("cache key %q: %w", dgst, err)
	}
	return filepath.Join(c.dir, cacheVersion, "digests", h.Algorithm, h.Hex+".json"), nil
}

func (c *diskCache) tagPath(repo, tag string) string {
	sum := sha256.Sum256([]byte(repo + ":" + tag))
	return filepath.Join(c.dir, cacheVersion, "tags", hex.EncodeToString(sum[:])+".json")
}

func (c *diskCache) readDigest(dgst string) (digestFacts, bool) {
	var f digestFacts
	if c == nil {
		return f, false
	}
	p, err := c.digestPath(dgst)
	if err != nil {
		return f, false
	}
	return f, readJSON(p, &f)
}

// mergeDigest adds what f knows to the digest's record.
func (c *diskCache) mergeDigest(dgst string, f digestFacts) error {
	if c == nil {
		return nil
	}
	p, err := c.digestPath(dgst)
	if err != nil {
		return err
	}
	var old digestFacts
	if readJSON(p, &old) {
		if !f.HasPlatforms && old.HasPlatforms {
			f.Platforms, f.HasPlatforms = old.Platforms, true
		}
		if !f.HasCreated && old.HasCreated {
			f.Created, f.HasCreated = old.Created, true
		}
		if f.MediaType == "" {
			f.MediaType = old.MediaType
		}
	}
	return writeJSON(p, f)
}

type tagRecord struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Digest     string `json:"digest"`
}

func (c *diskCache) readTag(repo, tag string) (string, bool) {
	if c == nil {
		return "", false
	}
	var r tagRecord
	if !readJSON(c.tagPath(repo, tag), &r) || r.Repository != repo || r.Tag != tag {
		return "", false
	}
	if _, err := v1.NewHash(r.Digest); err != nil {
		return "", false
	}
	return r.Digest, true
}

func (c *diskCache) writeTag(repo, tag, dgst string) error {
	if c == nil {
		return nil
	}
	return writeJSON(c.tagPath(repo, tag), tagRecord{Repository: repo, Tag: tag, Digest: dgst})
}

func readJSON(path string, v any) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

// writeJSON writes v to path atomically: a temp file in the same directory, renamed. It is not
// synced: after a crash a record may be empty or cut short, which reads as a miss (it does not
// parse), and a miss costs one request. Syncing every record made cold runs wait on the disk.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating cache directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing cache record %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing cache record %s: %w", path, werr)
	}
	return nil
}
