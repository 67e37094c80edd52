package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cacheVersion is part of every cache path: bump it when a record's meaning changes.
const cacheVersion = "v1"

// diskCache keeps facts about immutable things (digests) and tag→digest pairs, in two forms:
//
//   - a record per digest or tag: one small JSON file (v1/digests/…, v1/tags/…), written when
//     one fact is learned on its own;
//   - a pack per repository (v1/repos/<hash>.json): every tag and digest fact of that
//     repository that a created-time scan learned, written once at the end of the scan, and
//     the small blobs (signature manifests and payloads) and signature tags a verification
//     read, written once at the end of it. A cold newest-build over 500 tags learns 1,000
//     facts; as records they cost 1,000 file creations and renames, most of that run's CPU,
//     as a pack one. A verification learns three (the signature tag, its manifest and
//     payload): as records a cold watch over 200 images created 600 files, as packs 200.
//
// A repository's pack is read once per Client, on its first cache lookup, and is consulted
// before the records. Every file is written atomically (a temp file in the same directory,
// renamed), so concurrent runs sharing a cache never read a torn file, and none is synced:
// after a crash a file may be empty or cut short, which reads as missing (it does not parse),
// and a miss costs a request, never a wrong answer (digest facts are facts about immutable
// content; a remembered tag digest is confirmed with HEAD unless the host is immutableTags).
// Two runs that write the same pack at once each merge what is on disk first; a fact one of
// them still loses is a miss for the next run.
type diskCache struct {
	dir string

	mu    sync.Mutex
	packs map[string]*repoPack // by repository name
}

// repoPack is one repository's pack in memory. While a scan is in progress (batch > 0) what
// is learned stays here until the scan ends; otherwise it is written through as records too.
type repoPack struct {
	mu      sync.Mutex
	tags    map[string]string
	digests map[string]digestFacts
	blobs   map[string]blobRecord // by digest; checked against it when read
	touched map[string]bool       // blobs this process read or learned: kept when the pack is written
	batch   int
	dirty   bool
}

// packFile is a pack on disk.
type packFile struct {
	Repository string                 `json:"repository"`
	Tags       map[string]string      `json:"tags"`
	Digests    map[string]digestFacts `json:"digests"`
	Blobs      map[string]blobRecord  `json:"blobs,omitempty"`
}

// packBlobBytes bounds the blobs a pack keeps besides those this process used: a repository
// whose image is rebuilt and signed often would otherwise carry every old signature into
// every read of its pack. A blob left out is a miss: one request, the next time it is asked
// for.
const packBlobBytes = 256 << 10

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

func (c *diskCache) packPath(repo string) string {
	sum := sha256.Sum256([]byte(repo))
	return filepath.Join(c.dir, cacheVersion, "repos", hex.EncodeToString(sum[:])+".json")
}

// pack is repo's pack, read from disk the first time it is asked for.
func (c *diskCache) pack(repo string) *repoPack {
	c.mu.Lock()
	p, ok := c.packs[repo]
	if !ok {
		if c.packs == nil {
			c.packs = map[string]*repoPack{}
		}
		p = &repoPack{}
		p.mu.Lock() // held until read: a second caller waits for it below
		c.packs[repo] = p
	}
	c.mu.Unlock()
	if ok {
		return p
	}
	f, _ := readPack(c.packPath(repo), repo)
	p.tags, p.digests, p.blobs, p.touched = f.Tags, f.Digests, f.Blobs, map[string]bool{}
	p.mu.Unlock()
	return p
}

// readPack reads repo's pack file, leaving out what does not check: a pack for another
// repository (a hash collision) or that does not parse is empty, and so is an entry whose
// digest is malformed.
func readPack(path, repo string) (packFile, bool) {
	var f packFile
	ok := readJSON(path, &f) && f.Repository == repo
	if !ok {
		f = packFile{}
	}
	if f.Tags == nil {
		f.Tags = map[string]string{}
	}
	if f.Digests == nil {
		f.Digests = map[string]digestFacts{}
	}
	if f.Blobs == nil {
		f.Blobs = map[string]blobRecord{}
	}
	maps.DeleteFunc(f.Tags, func(_, d string) bool { _, err := v1.NewHash(d); return err != nil })
	maps.DeleteFunc(f.Digests, func(d string, _ digestFacts) bool { _, err := v1.NewHash(d); return err != nil })
	maps.DeleteFunc(f.Blobs, func(d string, _ blobRecord) bool { _, err := v1.NewHash(d); return err != nil })
	return f, ok
}

// batch holds what is learned about repo in its pack until the returned func, which writes
// the pack once (with what another run wrote to it meanwhile) when the last batch of repo in
// this process ends and something was learned.
func (c *diskCache) batch(repo string) (end func() error) {
	if c == nil {
		return func() error { return nil }
	}
	p := c.pack(repo)
	p.mu.Lock()
	p.batch++
	p.mu.Unlock()
	return func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.batch--
		if p.batch > 0 || !p.dirty {
			return nil
		}
		p.dirty = false
		path := c.packPath(repo)
		if disk, ok := readPack(path, repo); ok {
			for t, d := range disk.Tags {
				if _, mine := p.tags[t]; !mine {
					p.tags[t] = d
				}
			}
			for d, f := range disk.Digests {
				p.digests[d] = mergeFacts(p.digests[d], f)
			}
			for d, b := range disk.Blobs {
				if _, mine := p.blobs[d]; !mine {
					p.blobs[d] = b
				}
			}
		}
		p.blobs = keptBlobs(p.blobs, p.touched)
		return writeJSON(path, packFile{Repository: repo, Tags: p.tags, Digests: p.digests, Blobs: p.blobs})
	}
}

// keptBlobs is what of blobs a pack keeps: every one touched, then the others in digest order
// while they fit in packBlobBytes.
func keptBlobs(blobs map[string]blobRecord, touched map[string]bool) map[string]blobRecord {
	var others []string
	for d := range blobs {
		if !touched[d] {
			others = append(others, d)
		}
	}
	slices.Sort(others)
	size := 0
	for _, d := range others {
		if size += len(blobs[d].Data); size > packBlobBytes {
			delete(blobs, d)
		}
	}
	return blobs
}

// remember stores what update does in repo's pack and reports whether a batch holds it (so
// it must not be written as a record now).
func (c *diskCache) remember(repo string, update func(p *repoPack)) (held bool) {
	p := c.pack(repo)
	p.mu.Lock()
	defer p.mu.Unlock()
	update(p)
	if p.batch > 0 {
		p.dirty = true
		return true
	}
	return false
}

// readDigest is what the cache knows about dgst, an image of repo: its pack first, then the
// digest's record.
func (c *diskCache) readDigest(repo, dgst string) (digestFacts, bool) {
	var f digestFacts
	if c == nil {
		return f, false
	}
	p := c.pack(repo)
	p.mu.Lock()
	f, ok := p.digests[dgst]
	p.mu.Unlock()
	if ok {
		return f, true
	}
	path, err := c.digestPath(dgst)
	if err != nil {
		return f, false
	}
	return f, readJSON(path, &f)
}

// mergeFacts is f with what old knows and f does not.
func mergeFacts(f, old digestFacts) digestFacts {
	if !f.HasPlatforms && old.HasPlatforms {
		f.Platforms, f.HasPlatforms = old.Platforms, true
	}
	if !f.HasCreated && old.HasCreated {
		f.Created, f.HasCreated = old.Created, true
	}
	if f.MediaType == "" {
		f.MediaType = old.MediaType
	}
	return f
}

// mergeDigest adds what f knows to what the cache knows of dgst, an image of repo.
func (c *diskCache) mergeDigest(repo, dgst string, f digestFacts) error {
	if c == nil {
		return nil
	}
	path, err := c.digestPath(dgst)
	if err != nil {
		return err
	}
	if old, ok := c.readDigest(repo, dgst); ok {
		f = mergeFacts(f, old)
	}
	if c.remember(repo, func(p *repoPack) { p.digests[dgst] = f }) {
		return nil
	}
	return writeJSON(path, f)
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
	p := c.pack(repo)
	p.mu.Lock()
	d, ok := p.tags[tag]
	p.mu.Unlock()
	if ok {
		return d, true
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
	if c.remember(repo, func(p *repoPack) { p.tags[tag] = dgst }) {
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
