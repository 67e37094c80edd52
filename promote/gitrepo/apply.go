package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"

	"github.com/ferryhq/ferry/internal/retry"
)

// Intent computes a change from the current tip. Apply calls it again on every attempt, with the
// new tip after a lost race, so a change is always recomputed from the files, never replayed as
// a patch. A nil Change means there is nothing to do.
type Intent func(ctx context.Context, tip fs.FS) (*Change, error)

// Change is one commit's worth of edits.
type Change struct {
	// Files maps a slash-separated path from the repo root to its new content. An existing
	// file keeps its mode (regular or executable); a new file is regular. Paths must stay
	// inside the repo and out of .git.
	Files map[string][]byte
	// Message is the whole commit message, trailers included (see FormatTrailers).
	Message string
	// Author defaults to DefaultAuthor; Committer to Author. A zero When is now.
	Author, Committer Signature
	// Sign, when set, signs the commit (NewGPGSigner, NewSSHSigner).
	Sign Signer
}

// Signature is a commit's author or committer.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// DefaultAuthor is the author of a Change that names none.
var DefaultAuthor = Signature{Name: "ferry", Email: "ferry@users.noreply.localhost"}

// Result is what Apply or ApplyBranch did.
type Result struct {
	// SHA is the new commit; with NoChange on a ferry/ branch, the commit already there.
	SHA string
	// Branch is the branch written.
	Branch string
	// Parent is the commit the change was built on.
	Parent string
	// NoChange: the intent changed nothing, and nothing was committed or pushed.
	NoChange bool
	// Pushed: the commit is on the remote (false with NoPush).
	Pushed bool
	// Attempts counts the pushes tried (1 when there was no conflict).
	Attempts int
	// Note says why a local checkout's working tree was left alone, if it was.
	Note string
}

// Apply commits the intent's change on the target branch and pushes it, fast-forward only. A
// push that loses a race against another writer is retried on the new tip (the intent
// recomputed) up to MaxRetries times with jittered backoff; then ErrConflict. The target branch
// is never force-pushed.
func (r *Repo) Apply(ctx context.Context, intent Intent) (*Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apply(ctx, r.branch, false, intent)
}

// ApplyBranch commits the intent's change on top of the target branch's tip and pushes it to
// branch, which must be under "ferry/" (ferry's own pull-request branches): that branch is
// replaced (force-pushed) so it always holds one commit on the current tip. When the remote
// branch already holds the same tree, nothing is pushed (NoChange, SHA of the existing commit).
func (r *Repo) ApplyBranch(ctx context.Context, branch string, intent Intent) (*Result, error) {
	if !strings.HasPrefix(branch, "ferry/") || !validBranch(branch) || branch == r.opts.Branch {
		return nil, fmt.Errorf("branch %q: %w", branch, ErrBranchNotAllowed)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apply(ctx, plumbing.NewBranchReferenceName(branch), true, intent)
}

func (r *Repo) apply(ctx context.Context, ref plumbing.ReferenceName, own bool, intent Intent) (*Result, error) {
	res := &Result{Branch: ref.Short()}
	for attempt := 1; ; attempt++ {
		base := r.tip
		res.Parent = base.Hash.String()
		change, err := intent(ctx, r.snapshot(base).FS())
		if err != nil {
			return nil, err
		}
		if change == nil || len(change.Files) == 0 {
			res.NoChange = true
			return res, nil
		}
		tb := &treeBuilder{s: r.repo.Storer}
		tree, err := tb.build(base.TreeHash, change.Files)
		if err != nil {
			return nil, err
		}
		if tree == base.TreeHash {
			res.NoChange = true
			return res, nil
		}
		var existing *object.Commit
		if own {
			existing, err = r.ownBranchTip(ctx, ref)
			if err != nil {
				return nil, err
			}
			if existing != nil && existing.TreeHash == tree {
				res.NoChange, res.SHA = true, existing.Hash.String()
				return res, nil
			}
		}
		commit, err := r.commit(base, tree, change)
		if err != nil {
			return nil, err
		}
		res.SHA = commit.String()
		if r.opts.NoPush {
			return r.commitLocal(ref, own, base, commit, change, res)
		}
		res.Attempts = attempt
		objs := append(tb.written, commit)
		var expect *plumbing.Hash
		if !own {
			expect = &base.Hash
		} else if existing != nil {
			expect = &existing.Hash
		}
		err = r.push(ctx, ref, expect, own, commit, objs)
		if err == nil {
			res.Pushed = true
			return r.afterPush(ref, own, base, commit, change, res)
		}
		if !errors.Is(err, errRace) {
			return nil, err
		}
		if attempt > r.opts.MaxRetries {
			return nil, fmt.Errorf("pushing to %s of %s after %d attempts: %w", ref.Short(), r.display, attempt, ErrConflict)
		}
		r.opts.Logger.Debug("push lost a race; fetching and recomputing", "branch", ref.Short(), "attempt", attempt, "reason", err)
		if err := retry.Sleep(ctx, pushBackoff.Delay(attempt)); err != nil {
			return nil, err
		}
		if err := r.fetch(ctx, r.depth); err != nil {
			return nil, err
		}
	}
}

// pushBackoff is the jittered wait after a lost push race: 50ms·2^(n-1), capped at 2s, drawn
// from [d/2, d].
var pushBackoff = retry.Backoff{Base: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: true}

// ownBranchTip fetches ferry's own branch (depth 1) and returns its tip, or nil when the remote
// has no such branch.
func (r *Repo) ownBranchTip(ctx context.Context, ref plumbing.ReferenceName) (*object.Commit, error) {
	if r.opts.NoPush {
		lr, err := r.repo.Storer.Reference(ref)
		if err != nil {
			return nil, nil
		}
		return r.repo.CommitObject(lr.Hash())
	}
	track := plumbing.NewRemoteReferenceName(r.opts.Remote, ref.Short())
	err := r.fetchRef(ctx, ref, track, 1, false)
	if errors.Is(err, ErrBranchNotFound) {
		_ = r.repo.Storer.RemoveReference(track)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	tr, err := r.repo.Storer.Reference(track)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", track, err)
	}
	return r.repo.CommitObject(tr.Hash())
}

// commit writes the commit object (signed when asked) and returns its hash.
func (r *Repo) commit(parent *object.Commit, tree plumbing.Hash, ch *Change) (plumbing.Hash, error) {
	now := time.Now()
	author := ch.Author
	if author.Name == "" && author.Email == "" {
		author = DefaultAuthor
	}
	if author.When.IsZero() {
		author.When = now
	}
	committer := ch.Committer
	if committer.Name == "" && committer.Email == "" {
		committer = author
	}
	if committer.When.IsZero() {
		committer.When = now
	}
	for _, s := range []Signature{author, committer} {
		if strings.ContainsAny(s.Name+s.Email, "<>\n") {
			return plumbing.ZeroHash, fmt.Errorf("commit signature %q <%s>: names and emails cannot hold '<', '>' or newlines", s.Name, s.Email)
		}
	}
	msg := ch.Message
	if strings.TrimSpace(msg) == "" {
		return plumbing.ZeroHash, errors.New("commit message is empty")
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	c := &object.Commit{
		Author:       object.Signature{Name: author.Name, Email: author.Email, When: author.When},
		Committer:    object.Signature{Name: committer.Name, Email: committer.Email, When: committer.When},
		Message:      msg,
		TreeHash:     tree,
		ParentHashes: []plumbing.Hash{parent.Hash},
	}
	if ch.Sign != nil {
		enc := &plumbing.MemoryObject{}
		if err := c.EncodeWithoutSignature(enc); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("encoding commit for signing: %w", err)
		}
		rd, err := enc.Reader()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		sig, err := ch.Sign.Sign(rd)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("signing commit: %w", err)
		}
		c.PGPSignature = string(sig)
	}
	obj := r.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding commit: %w", err)
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("writing commit: %w", err)
	}
	return h, nil
}

// treeBuilder writes new blobs and the trees along changed paths; every other tree and blob is
// shared with the base commit and never read.
type treeBuilder struct {
	s       storer.EncodedObjectStorer
	written []plumbing.Hash
}

type dirNode struct {
	files map[string][]byte
	dirs  map[string]*dirNode
}

// ValidPath reports whether p may be written: slash-separated, relative, no "." or ".."
// elements, not inside .git.
func ValidPath(p string) error {
	if !fs.ValidPath(p) || p == "." || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return fmt.Errorf("path %q: must be a clean relative slash-separated path inside the repo", p)
	}
	for _, el := range strings.Split(p, "/") {
		if strings.EqualFold(el, ".git") {
			return fmt.Errorf("path %q: ferry never writes inside .git", p)
		}
	}
	return nil
}

func (b *treeBuilder) build(base plumbing.Hash, files map[string][]byte) (plumbing.Hash, error) {
	root := &dirNode{}
	for p, content := range files {
		if err := ValidPath(p); err != nil {
			return plumbing.ZeroHash, err
		}
		n := root
		dir, file := path.Split(p)
		if dir != "" {
			for _, el := range strings.Split(strings.TrimSuffix(dir, "/"), "/") {
				if n.dirs == nil {
					n.dirs = map[string]*dirNode{}
				}
				if n.dirs[el] == nil {
					n.dirs[el] = &dirNode{}
				}
				n = n.dirs[el]
			}
		}
		if n.files == nil {
			n.files = map[string][]byte{}
		}
		n.files[file] = content
	}
	return b.apply(base, "", root)
}

func (b *treeBuilder) apply(base plumbing.Hash, dir string, n *dirNode) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !base.IsZero() {
		t, err := object.GetTree(b.s, base)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading tree %s: %w", orRoot(dir), err)
		}
		entries = append(entries, t.Entries...)
	}
	idx := make(map[string]int, len(entries))
	for i, e := range entries {
		idx[e.Name] = i
	}
	changed := false
	set := func(e object.TreeEntry) {
		if i, ok := idx[e.Name]; ok {
			if entries[i] != e {
				entries[i], changed = e, true
			}
			return
		}
		idx[e.Name] = len(entries)
		entries = append(entries, e)
		changed = true
	}
	for name, content := range n.files {
		p := path.Join(dir, name)
		if n.dirs[name] != nil {
			return plumbing.ZeroHash, fmt.Errorf("path %s is both a file and a directory in one change", p)
		}
		mode := filemode.Regular
		if i, ok := idx[name]; ok {
			switch m := entries[i].Mode; m {
			case filemode.Regular, filemode.Executable, filemode.Deprecated:
				mode = m
			case filemode.Dir:
				return plumbing.ZeroHash, fmt.Errorf("path %s is a directory, not a file", p)
			default:
				return plumbing.ZeroHash, fmt.Errorf("path %s is a symlink or submodule; ferry writes regular files only", p)
			}
		}
		h := plumbing.ComputeHash(plumbing.BlobObject, content)
		if i, ok := idx[name]; ok && entries[i].Hash == h && entries[i].Mode == mode {
			continue
		}
		if _, err := b.writeBlob(content); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("writing %s: %w", p, err)
		}
		set(object.TreeEntry{Name: name, Mode: mode, Hash: h})
	}
	for name, child := range n.dirs {
		p := path.Join(dir, name)
		var sub plumbing.Hash
		if i, ok := idx[name]; ok {
			if entries[i].Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("path %s is a file, not a directory", p)
			}
			sub = entries[i].Hash
		}
		h, err := b.apply(sub, p, child)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if h != sub {
			set(object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}
	if !changed {
		return base, nil
	}
	sortTreeEntries(entries)
	t := &object.Tree{Entries: entries}
	obj := b.s.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding tree %s: %w", orRoot(dir), err)
	}
	h, err := b.s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("writing tree %s: %w", orRoot(dir), err)
	}
	b.written = append(b.written, h)
	return h, nil
}

func orRoot(dir string) string {
	if dir == "" {
		return "/"
	}
	return dir
}

func (b *treeBuilder) writeBlob(content []byte) (plumbing.Hash, error) {
	obj := b.s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := b.s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	b.written = append(b.written, h)
	return h, nil
}

// errRace marks a push refused because the remote branch moved; apply retries it.
var errRace = errors.New("remote branch moved")

// push sends exactly objs and asks the remote to move ref from *expect (nil: whatever it is
// now, for ferry's own branches only) to commit. The remote's receive-pack applies the update
// only if ref still holds the old value, so a concurrent push is never overwritten.
func (r *Repo) push(ctx context.Context, ref plumbing.ReferenceName, expect *plumbing.Hash, own bool, commit plumbing.Hash, objs []plumbing.Hash) (err error) {
	ep, err := transport.NewEndpoint(r.url)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", r.display, err)
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", r.display, err)
	}
	sess, err := cl.NewReceivePackSession(ep, r.auth)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", r.display, err)
	}
	defer func() {
		if cerr := sess.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("pushing to %s: %w", r.display, cerr)
		}
	}()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", r.display, err)
	}
	refs, err := ar.AllReferences()
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", r.display, err)
	}
	old := plumbing.ZeroHash
	if cur, err := refs.Reference(ref); err == nil {
		old = cur.Hash()
	}
	if old == commit {
		return nil
	}
	if expect != nil && old != *expect {
		return fmt.Errorf("%s is at %s, not %s: %w", ref.Short(), short(old), short(*expect), errRace)
	}
	if !own && old.IsZero() {
		return fmt.Errorf("pushing to %s of %s: %w", ref.Short(), r.display, ErrBranchNotFound)
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	req.Commands = []*packp.Command{{Name: ref, Old: old, New: commit}}
	rd, wr := io.Pipe()
	req.Packfile = rd
	done := make(chan error, 1)
	go func() {
		// No delta search (window 0): the pack holds only the objects this commit made, so a
		// delta could only be between two of them, and searching 200 new blobs for one cost a
		// watch more CPU than the rest of its push, to save a few kilobytes.
		if _, err := packfile.NewEncoder(wr, r.repo.Storer, false).Encode(objs, 0); err != nil {
			_ = wr.CloseWithError(err)
			done <- err
			return
		}
		done <- wr.Close()
	}()
	rs, err := sess.ReceivePack(ctx, req)
	if err != nil {
		_ = rd.Close()
		<-done
		return r.classifyPushError(ctx, ref, old, commit, err)
	}
	if err := <-done; err != nil {
		return fmt.Errorf("packing objects for %s: %w", r.display, err)
	}
	if rs != nil {
		if err := rs.Error(); err != nil {
			return r.classifyPushError(ctx, ref, old, commit, err)
		}
	}
	r.opts.Logger.Debug("pushed", "branch", ref.Short(), "remote", r.display, "commit", commit.String(), "objects", len(objs))
	return nil
}

// classifyPushError tells a lost race (retry) from a real failure by asking where ref is now.
func (r *Repo) classifyPushError(ctx context.Context, ref plumbing.ReferenceName, old, commit plumbing.Hash, perr error) error {
	msg := perr.Error()
	if cur, err := r.remoteRef(ctx, ref); err == nil {
		if cur == commit {
			return nil
		}
		if cur != old {
			return fmt.Errorf("%s moved during the push (%v): %w", ref.Short(), perr, errRace)
		}
	}
	for _, s := range []string{"cannot lock", "failed to lock", "stale info"} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("%s: %s: %w", ref.Short(), msg, errRace)
		}
	}
	return fmt.Errorf("pushing %s to %s: %w", ref.Short(), r.display, perr)
}

func (r *Repo) remoteRef(ctx context.Context, ref plumbing.ReferenceName) (plumbing.Hash, error) {
	ep, err := transport.NewEndpoint(r.url)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	sess, err := cl.NewUploadPackSession(ep, r.auth)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	refs, err := ar.AllReferences()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	cur, err := refs.Reference(ref)
	if err != nil {
		return plumbing.ZeroHash, nil
	}
	return cur.Hash(), nil
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing"
	}
	return h.String()[:12]
}
