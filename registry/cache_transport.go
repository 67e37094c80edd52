package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// digestCache answers GETs of manifests and blobs named by sha256 digest from the disk cache,
// and keeps what it fetches when the bytes are the digest's (up to maxCachedBlob). What a
// digest names never changes, so this is never stale; the bytes are checked against the
// digest on the way in and on the way out, and everything read is verified by the caller as
// always. A no-op watch reads each image's signature this way: a HEAD of the signature tag
// tells whether it changed, and its manifest and layer come from here (docs/registry.md).
// Only requests whose context carries cacheDigests are answered: the verifier's signature
// reads. Everything else (requests by tag, HEADs, writes, the config blobs newest-build keeps
// in its own pack) goes to next.
type digestCache struct {
	next  http.RoundTripper
	cache *diskCache
}

type cacheDigestsKey struct{}

// cacheDigests marks ctx's GETs by digest as ones digestCache may answer and keep.
func cacheDigests(ctx context.Context) context.Context {
	return context.WithValue(ctx, cacheDigestsKey{}, true)
}

func (t *digestCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Context().Value(cacheDigestsKey{}) == nil {
		return t.next.RoundTrip(req)
	}
	d, manifest, ok := digestRequest(req)
	if !ok {
		if repo, tag, ok := tagManifestRequest(req); ok {
			return t.byTag(req, repo, tag)
		}
		return t.next.RoundTrip(req)
	}
	repo := req.URL.Host + "/" + digestRequestRepo(req.URL.Path)
	if r, ok := t.cache.readRecord(repo, d); ok && (!manifest || r.MediaType != "") {
		return cachedResponse(req, d, r), nil
	}
	resp, b, err := t.fetchSmall(req)
	if b == nil {
		return resp, err
	}
	mt := ""
	if manifest {
		mt = resp.Header.Get("Content-Type")
	}
	if !manifest || mt != "" {
		t.cache.writeRecord(repo, d, blobRecord{Data: b, MediaType: mt})
	}
	return resp, nil
}

// fetchSmall sends req on; for a 200 of at most maxCachedBlob bytes it returns the body read
// (resp reads the same bytes again). Otherwise b is nil and resp is as the server sent it.
func (t *digestCache) fetchSmall(req *http.Request) (resp *http.Response, b []byte, err error) {
	resp, err = t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || resp.ContentLength > maxCachedBlob {
		return resp, nil, err
	}
	b, err = io.ReadAll(io.LimitReader(resp.Body, maxCachedBlob+1))
	if err != nil {
		resp.Body.Close()
		return nil, nil, err
	}
	if len(b) > maxCachedBlob { // larger than it said: hand it on whole, keep nothing
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
		return resp, nil, nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, b, nil
}

// digestRequest reports whether req is a GET of /v2/<name>/manifests/sha256:<hex> or
// /v2/<name>/blobs/sha256:<hex>, and which digest it names.
func digestRequest(req *http.Request) (d v1.Hash, manifest, ok bool) {
	if req.Method != http.MethodGet || req.URL.RawQuery != "" {
		return d, false, false
	}
	p := req.URL.Path
	if !strings.HasPrefix(p, "/v2/") {
		return d, false, false
	}
	i := strings.LastIndex(p, "/")
	j := strings.LastIndex(p[:i], "/")
	if j < len("/v2") {
		return d, false, false
	}
	switch p[j+1 : i] {
	case "manifests":
		manifest = true
	case "blobs":
	default:
		return d, false, false
	}
	h, err := v1.NewHash(p[i+1:])
	if err != nil || h.Algorithm != "sha256" || len(h.Hex) != sha256.Size*2 {
		return d, false, false
	}
	return h, manifest, true
}

// digestRequestRepo is the repository name of a path digestRequest accepted
// (/v2/<name>/manifests/<digest> or /v2/<name>/blobs/<digest>).
func digestRequestRepo(p string) string {
	p = strings.TrimPrefix(p, "/v2/")
	p = p[:strings.LastIndex(p, "/")]
	return p[:strings.LastIndex(p, "/")]
}

func cachedResponse(req *http.Request, d v1.Hash, r blobRecord) *http.Response {
	h := http.Header{}
	h.Set("Content-Length", strconv.Itoa(len(r.Data)))
	h.Set("Docker-Content-Digest", d.String())
	if r.MediaType != "" {
		h.Set("Content-Type", r.MediaType)
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(r.Data)),
		ContentLength: int64(len(r.Data)), Request: req,
	}
}

// readRecord is readBlob with the record's media type: from repo's pack when it has it (repo
// "": none), else from the digest's record file.
func (c *diskCache) readRecord(repo string, d v1.Hash) (blobRecord, bool) {
	var r blobRecord
	if c == nil || d.Algorithm != "sha256" {
		return r, false
	}
	if repo != "" {
		p := c.pack(repo)
		p.mu.Lock()
		r, ok := p.blobs[d.String()]
		if ok && digestOf(r.Data) != d {
			delete(p.blobs, d.String()) // not d's bytes: a miss, and not kept
			ok = false
		}
		if ok {
			p.touched[d.String()] = true
		}
		p.mu.Unlock()
		if ok {
			return r, true
		}
		r = blobRecord{}
	}
	if !readJSON(c.blobPath(d), &r) {
		return r, false
	}
	return r, digestOf(r.Data) == d
}

// digestOf is b's sha256 digest.
func digestOf(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b)) // a bytes.Reader does not fail
	return h
}

// writeRecord is writeBlob with the record's media type; while a batch of repo is open (repo
// "": never) the blob goes into repo's pack instead of a record file.
func (c *diskCache) writeRecord(repo string, d v1.Hash, r blobRecord) {
	if c == nil || d.Algorithm != "sha256" || len(r.Data) > maxCachedBlob {
		return
	}
	if digestOf(r.Data) != d {
		return
	}
	if repo != "" && c.remember(repo, func(p *repoPack) {
		if old, ok := p.blobs[d.String()]; ok && r.MediaType == "" {
			r.MediaType = old.MediaType
		}
		p.blobs[d.String()], p.touched[d.String()] = r, true
	}) {
		return
	}
	path := c.blobPath(d)
	if r.MediaType == "" {
		if _, err := os.Stat(path); err == nil {
			return // the same bytes are kept already, perhaps with their media type
		}
	}
	_ = writeJSON(path, r)
}

// byTag fetches a manifest by tag and keeps it by its digest, noting that the tag was read
// (sigTagSeen): the next run asks with a HEAD whether it still holds that manifest.
func (t *digestCache) byTag(req *http.Request, repo, tag string) (*http.Response, error) {
	resp, b, err := t.fetchSmall(req)
	if b == nil {
		return resp, err
	}
	if mt := resp.Header.Get("Content-Type"); mt != "" {
		d := digestOf(b)
		t.cache.writeRecord(repo, d, blobRecord{Data: b, MediaType: mt})
		_ = t.cache.writeTag(repo, tag, d.String())
	}
	return resp, nil
}

// tagManifestRequest reports whether req is a GET of /v2/<name>/manifests/<tag>, with the
// repository as host/name.
func tagManifestRequest(req *http.Request) (repo, tag string, ok bool) {
	if req.Method != http.MethodGet || req.URL.RawQuery != "" {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(req.URL.Path, "/v2/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	tag = rest[i+len("/manifests/"):]
	if tag == "" || strings.Contains(tag, "/") || strings.Contains(tag, ":") {
		return "", "", false
	}
	return req.URL.Host + "/" + rest[:i], tag, true
}

// sigTagSeen reports whether a run with this cache has read the signature tag st before.
func (c *diskCache) sigTagSeen(st name.Tag) bool {
	_, ok := c.readTag(packKey(st.Context()), st.TagStr())
	return ok
}

// packKey names repo's pack as digestCache sees the repository in a request's URL.
func packKey(repo name.Repository) string { return repo.RegistryStr() + "/" + repo.RepositoryStr() }
