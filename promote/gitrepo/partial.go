package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// A temporary clone starts as a partial clone when the remote allows it: the first fetch
// brings the tip commit and its trees but no file contents (filter blob:none), and the blobs
// ferry reads (ferry.yaml, the environments' files, keys) are fetched when first read, or a
// directory's worth at once (Snapshot.Prefetch). What ferry writes needs no old contents: a
// new tree is built from the old trees and the new blobs. So a bump into a repository of
// 20,000 files fetches, indexes and keeps a few of them, not all 20,000.
//
// The remote must advertise both "filter" and "allow-reachable-sha1-in-want" (a blob is
// wanted by its hash). GitHub, GitLab and Gitea do; a stock git server needs
// uploadpack.allowFilter and uploadpack.allowAnySHA1InWant. Any other remote gets the whole
// tip in one fetch, as before.

// partialCapable tells whether the remote serves a blob:none fetch and blobs by hash.
func partialCapable(caps *capability.List) bool {
	return caps.Supports(capability.Filter) && caps.Supports(capability.AllowReachableSHA1InWant)
}

// uploadSession opens an upload-pack session with the remote and reads its advertisement.
func (r *Repo) uploadSession(ctx context.Context) (transport.UploadPackSession, *packp.AdvRefs, error) {
	ep, err := transport.NewEndpoint(r.url)
	if err != nil {
		return nil, nil, err
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return nil, nil, err
	}
	sess, err := cl.NewUploadPackSession(ep, r.auth)
	if err != nil {
		return nil, nil, err
	}
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		_ = sess.Close()
		return nil, nil, err
	}
	return sess, ar, nil
}

// uploadRequest is a request for wants with the capabilities ferry uses: no thin pack (the
// clone has nothing to complete it with), no progress.
func uploadRequest(ar *packp.AdvRefs, wants []plumbing.Hash) *packp.UploadPackRequest {
	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	req.Capabilities.Delete(capability.ThinPack)
	if ar.Capabilities.Supports(capability.NoProgress) {
		_ = req.Capabilities.Set(capability.NoProgress)
	}
	req.Wants = wants
	return req
}

// packReader is the pack inside an upload-pack response, without the side band.
func packReader(req *packp.UploadPackRequest, resp io.Reader) io.Reader {
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		return sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		return sideband.NewDemuxer(sideband.Sideband, resp)
	}
	return resp
}

// closeSession closes an upload-pack session whose pack was read whole. go-git's ssh
// transport can report io.EOF for a server that closed first (go-git/go-git#1685); the pack
// is complete and checksummed by then, so that is not a failure.
func closeSession(sess transport.UploadPackSession) error {
	if err := sess.Close(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// fetchClone is fetchRef for a temporary clone: src of the remote to depth into dst, blob:none
// when the clone is partial (its first fetch decides: the remote must allow it), into the
// clone's pack files. A partial clone's tip keeps the files Prefetch fetched before.
func (r *Repo) fetchClone(ctx context.Context, src, dst plumbing.ReferenceName, depth int, setTip bool) error {
	fail := func(err error) error {
		return fmt.Errorf("fetching %s from %s: %w", src.Short(), r.display, explainSSHAuth(err, r.auth))
	}
	sess, ar, err := r.uploadSession(ctx)
	if err != nil {
		return fail(err)
	}
	defer sess.Close()
	refs, err := ar.AllReferences()
	if err != nil {
		return fail(err)
	}
	ref, err := refs.Reference(src)
	if err != nil {
		return fmt.Errorf("fetching %s from %s: %w", src.Short(), r.display, ErrBranchNotFound)
	}
	first := !r.fetched
	if first {
		r.fetched, r.partial = true, partialCapable(ar.Capabilities)
	}
	if err := r.fetchPack(ctx, sess, ar, ref.Hash(), depth); err != nil {
		return fail(err)
	}
	if err := closeSession(sess); err != nil {
		return fail(err)
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(dst, ref.Hash())); err != nil {
		return fail(err)
	}
	r.opts.Logger.Debug("fetched", "ref", src.Short(), "remote", r.display, "depth", depth, "partial", r.partial)
	if !setTip {
		return nil
	}
	c, err := r.repo.CommitObject(ref.Hash())
	if err != nil {
		return fmt.Errorf("reading tip %s of %s: %w", ref.Hash(), src.Short(), err)
	}
	r.tip = c
	switch {
	case first && r.partial:
		if r.partial, err = r.completeSmallTip(ctx); err != nil {
			return err
		}
		if r.partial {
			r.clone.promise(ctx, r.fetchBlobs)
		}
	case r.partial:
		return r.snapshot(c).Prefetch(ctx, r.clone.prefetched()...)
	}
	return nil
}

// fetchPack asks for want to depth, telling the remote which commits the clone has and
// where its history is cut, and stores the pack it sends.
func (r *Repo) fetchPack(ctx context.Context, sess transport.UploadPackSession, ar *packp.AdvRefs, want plumbing.Hash, depth int) error {
	shallows, err := r.repo.Storer.Shallow()
	if err != nil {
		return err
	}
	if r.clone.HasEncodedObject(want) == nil && (depth == 1 || len(shallows) == 0) {
		return nil // nothing new, and not a deepening
	}
	req := uploadRequest(ar, []plumbing.Hash{want})
	if depth > 0 {
		req.Depth = packp.DepthCommits(depth)
		req.Shallows = shallows
		_ = req.Capabilities.Set(capability.Shallow)
	}
	if req.Haves, err = r.haves(); err != nil {
		return err
	}
	if r.partial {
		req.Filter = packp.FilterBlobNone()
		_ = req.Capabilities.Set(capability.Filter)
	}
	resp, err := sess.UploadPack(ctx, req)
	if errors.Is(err, transport.ErrEmptyUploadPackRequest) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := packfile.UpdateObjectStorage(r.repo.Storer, packReader(req, resp)); err != nil {
		_ = resp.Close()
		return err
	}
	if err := resp.Close(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	for _, h := range resp.Shallows {
		if !slices.Contains(shallows, h) {
			shallows = append(shallows, h)
		}
	}
	if len(resp.Shallows) > 0 {
		return r.repo.Storer.SetShallow(shallows)
	}
	return nil
}

// haves are the commits the clone's references point at (each stands for its history, down
// to the shallow boundary the request also sends).
func (r *Repo) haves() ([]plumbing.Hash, error) {
	it, err := r.repo.Storer.IterReferences()
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var hs []plumbing.Hash
	err = it.ForEach(func(ref *plumbing.Reference) error {
		h := ref.Hash()
		if ref.Type() == plumbing.HashReference && !slices.Contains(hs, h) {
			if _, err := r.clone.EncodedObject(plumbing.CommitObject, h); err == nil {
				hs = append(hs, h)
			}
		}
		return nil
	})
	return hs, err
}

// wholeTipFiles is the most files a tip may have for a partial clone to fetch them all at
// once, right after its trees: a second request, in place of one per directory read. A
// repository of more files than this stays partial.
const wholeTipFiles = 1000

// completeSmallTip fetches every blob of a tip of at most wholeTipFiles files, into the
// clone's pack files (no reader is using the store yet), and reports whether the clone stays
// partial.
func (r *Repo) completeSmallTip(ctx context.Context) (bool, error) {
	tree, err := r.tip.Tree()
	if err != nil {
		return false, fmt.Errorf("reading the tree of %s: %w", short(r.tip.Hash), err)
	}
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	var hs []plumbing.Hash
	for {
		_, e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, fmt.Errorf("reading the tree of %s: %w", short(r.tip.Hash), err)
		}
		if e.Mode.IsFile() {
			if hs = append(hs, e.Hash); len(hs) > wholeTipFiles {
				return true, nil
			}
		}
	}
	if len(hs) > 0 {
		if err := r.fetchObjects(ctx, hs, true); err != nil {
			return false, err
		}
	}
	return false, nil
}

// fetchBlobs fetches the blobs hs of a partial clone into the clone's memory: they are few,
// and a pack file written beside the others would race with concurrent readers of the store.
func (r *Repo) fetchBlobs(ctx context.Context, hs []plumbing.Hash) error {
	return r.fetchObjects(ctx, hs, false)
}

// fetchObjects fetches the objects hs by hash, into a new pack file of the clone (intoPack)
// or its memory, and checks that each arrived.
func (r *Repo) fetchObjects(ctx context.Context, hs []plumbing.Hash, intoPack bool) error {
	fail := func(err error) error {
		return fmt.Errorf("fetching %d file(s) from %s: %w", len(hs), r.display, explainSSHAuth(err, r.auth))
	}
	sess, ar, err := r.uploadSession(ctx)
	if err != nil {
		return fail(err)
	}
	defer sess.Close()
	req := uploadRequest(ar, hs)
	resp, err := sess.UploadPack(ctx, req)
	if err != nil {
		return fail(err)
	}
	if intoPack {
		err = packfile.UpdateObjectStorage(r.repo.Storer, packReader(req, resp))
	} else {
		var p *packfile.Parser
		if p, err = packfile.NewParserWithStorage(packfile.NewScanner(packReader(req, resp)), memoryOnly{r.clone}); err == nil {
			_, err = p.Parse()
		}
	}
	if cerr := resp.Close(); err == nil && cerr != nil && !errors.Is(cerr, io.EOF) {
		err = cerr
	}
	if err == nil {
		err = closeSession(sess)
	}
	if err != nil {
		return fail(err)
	}
	for _, h := range hs {
		if !r.clone.has(h) {
			return fail(fmt.Errorf("the remote did not send object %s", h))
		}
	}
	r.opts.Logger.Debug("fetched objects", "remote", r.display, "objects", len(hs))
	return nil
}

// memoryOnly is a clone store seen only as an object store, so that a parsed pack's objects
// go to its memory, not to a new pack file.
type memoryOnly struct{ s *cloneStorage }

func (m memoryOnly) NewEncodedObject() plumbing.EncodedObject { return m.s.NewEncodedObject() }
func (m memoryOnly) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	return m.s.SetEncodedObject(o)
}

// EncodedObject never fetches: it is called while a fetch holds the promisor.
func (m memoryOnly) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, ok := m.s.mem(t, h); ok {
		return o, nil
	}
	return m.s.Storage.EncodedObject(t, h)
}
func (m memoryOnly) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return m.s.IterEncodedObjects(t)
}
func (m memoryOnly) HasEncodedObject(h plumbing.Hash) error { return m.s.HasEncodedObject(h) }
func (m memoryOnly) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	return m.s.EncodedObjectSize(h)
}
func (m memoryOnly) AddAlternate(remote string) error { return m.s.AddAlternate(remote) }

// promisor fetches the blobs a partial clone lacks, one batch at a time.
type promisor struct {
	mu    sync.Mutex
	paths []string                                     // what Prefetch was asked for, for the next tip
	fetch func(context.Context, []plumbing.Hash) error // nil: the clone is whole
	ctx   context.Context                              // for a blob fetched as it is read: Open's
}

// promise makes s a partial clone whose missing blobs fetch brings; a blob fetched because it
// was read uses ctx.
func (s *cloneStorage) promise(ctx context.Context, fetch func(context.Context, []plumbing.Hash) error) {
	s.lazy.mu.Lock()
	s.lazy.ctx, s.lazy.fetch = ctx, fetch
	s.lazy.mu.Unlock()
}

// isPartial reports whether s is a partial clone. A whole clone has every blob, so a read
// need not ask the object store whether it has one first (a loose-object lookup on disk).
func (s *cloneStorage) isPartial() bool {
	s.lazy.mu.Lock()
	defer s.lazy.mu.Unlock()
	return s.lazy.fetch != nil
}

// promisedCtx is the context a blob fetched as it is read uses.
func (s *cloneStorage) promisedCtx() context.Context {
	s.lazy.mu.Lock()
	defer s.lazy.mu.Unlock()
	if s.lazy.ctx == nil {
		return context.Background() // not a partial clone: fetchMissing fetches nothing
	}
	return s.lazy.ctx
}

// fetchMissing fetches those of hs the store has neither in memory nor on disk. A store that
// is not a partial clone has nothing to fetch.
func (s *cloneStorage) fetchMissing(ctx context.Context, hs []plumbing.Hash) error {
	s.lazy.mu.Lock()
	defer s.lazy.mu.Unlock()
	if s.lazy.fetch == nil {
		return nil
	}
	var missing []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	for _, h := range hs {
		if seen[h] {
			continue
		}
		seen[h] = true
		if !s.has(h) {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return s.lazy.fetch(ctx, missing)
}

// Prefetch fetches in one request the contents of the files at or under paths that a partial
// clone does not have yet, so that reading them costs no request each. Elsewhere it does
// nothing.
func (s *Snapshot) Prefetch(ctx context.Context, paths ...string) error {
	cs, ok := s.s.(*cloneStorage)
	if !ok {
		return nil
	}
	cs.remember(paths)
	var hs []plumbing.Hash
	for _, p := range paths {
		p = strings.Trim(p, "/")
		e, err := s.entryAt(p)
		if err != nil {
			return fmt.Errorf("reading %s at %s: %w", p, short(s.commit.Hash), err)
		}
		switch {
		case e.Mode == filemode.Dir:
			files, err := s.Files(p)
			if err != nil {
				return err
			}
			for _, f := range files {
				hs = append(hs, plumbing.Hash(f.Blob))
			}
		case e.Mode.IsFile():
			hs = append(hs, e.Hash)
		}
	}
	return cs.fetchMissing(ctx, hs)
}

// entryAt is the tree entry at p ("" or "." is the root tree); a zero entry when nothing is
// there.
func (s *Snapshot) entryAt(p string) (object.TreeEntry, error) {
	if p == "" || p == "." {
		return object.TreeEntry{Mode: filemode.Dir, Hash: s.commit.TreeHash}, nil
	}
	dir, base := path.Split(p)
	h, err := s.pathHash(strings.TrimSuffix(dir, "/"))
	if err != nil || h == "" {
		return object.TreeEntry{}, err
	}
	t, err := s.tree(plumbing.NewHash(h))
	if err != nil {
		return object.TreeEntry{}, err
	}
	for _, e := range t.Entries {
		if e.Name == base {
			return e, nil
		}
	}
	return object.TreeEntry{}, nil
}

// remember notes paths Prefetch fetched, so that a new tip fetched later (a lost push race)
// gets them too.
func (s *cloneStorage) remember(paths []string) {
	s.lazy.mu.Lock()
	defer s.lazy.mu.Unlock()
	for _, p := range paths {
		if !slices.Contains(s.lazy.paths, p) {
			s.lazy.paths = append(s.lazy.paths, p)
		}
	}
}

// prefetched is what Prefetch was asked for so far.
func (s *cloneStorage) prefetched() []string {
	s.lazy.mu.Lock()
	defer s.lazy.mu.Unlock()
	return slices.Clone(s.lazy.paths)
}

// siblingFiles is the most files a directory may have for reading one of them to fetch them
// all.
const siblingFiles = 256

// fetchWithSiblings fetches, for a partial clone, the blob of the file name (entry e) together
// with the other files of its directory that the clone lacks, when there are at most
// siblingFiles: what reads one file of a directory (a kustomization, a base it names) reads
// the rest next, and one request is cheaper than one per file.
func (t *treeFS) fetchWithSiblings(name string, e object.TreeEntry) error {
	cs, ok := t.s.(*cloneStorage)
	if !ok || !e.Mode.IsFile() || !cs.isPartial() {
		return nil
	}
	unlock := t.lock()
	has := cs.has(e.Hash)
	unlock()
	if has {
		return nil
	}
	hs := []plumbing.Hash{e.Hash}
	if d, err := t.entry("read", path.Dir(name)); err == nil {
		if tree, err := t.tree(d.Hash); err == nil && len(tree.Entries) <= siblingFiles {
			for _, se := range tree.Entries {
				if se.Mode.IsFile() {
					hs = append(hs, se.Hash)
				}
			}
		}
	}
	defer t.lock()()
	return cs.fetchMissing(cs.promisedCtx(), hs)
}

// has reports whether the store holds h, in memory or on disk.
func (s *cloneStorage) has(h plumbing.Hash) bool {
	if _, ok := s.mem(plumbing.AnyObject, h); ok {
		return true
	}
	return s.Storage.HasEncodedObject(h) == nil
}

// PrefetchFiles is Prefetch for files listed already (by Files, on any snapshot of the Repo):
// the contents a partial clone lacks come in one request.
func (s *Snapshot) PrefetchFiles(ctx context.Context, files []File) error {
	cs, ok := s.s.(*cloneStorage)
	if !ok || len(files) == 0 {
		return nil
	}
	hs := make([]plumbing.Hash, len(files))
	for i, f := range files {
		hs[i] = plumbing.Hash(f.Blob)
	}
	return cs.fetchMissing(ctx, hs)
}
