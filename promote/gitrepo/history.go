package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// HistoryQuery says how far History walks. The zero value walks the whole first-parent
// history (deepening the clone all the way); set Stop, Since or Limit to bound it.
type HistoryQuery struct {
	// Path keeps only commits that change something at or under this slash-separated path
	// (a file or directory); "" keeps every commit.
	Path string
	// Since ends the walk at the first commit committed before it (that commit is not returned).
	Since time.Time
	// Stop ends the walk after the first entry for which it returns true (that entry is
	// returned).
	Stop func(Entry) bool
	// Limit ends the walk after this many entries; 0 means no limit.
	Limit int
	// Step is the least number of commits each deepening fetch adds; default 50. A step grows
	// to half the current depth, so a long walk needs few round trips.
	Step int
}

// Entry is one commit of the history.
type Entry struct {
	SHA       string
	Subject   string
	Message   string
	Author    Signature
	Committer Signature
	Trailers  []Trailer
	// Parents are the commit's parents, first parent first (two or more for a merge).
	Parents []string
	// Root is true for the first commit of the history (it has no parent).
	Root bool
	// Merged is, for a merge commit, the merged branch's head (its second parent) when the
	// clone holds it: a merged pull request's trailers are on that commit.
	Merged *Entry
}

// History walks the first-parent history of the target branch from its tip, newest first.
// A shallow clone is deepened a step at a time, only when the walk reaches its boundary, so a
// question answered near the tip never fetches the rest.
func (r *Repo) History(ctx context.Context, q HistoryQuery) ([]Entry, error) {
	if q.Path != "" {
		q.Path = strings.Trim(q.Path, "/")
		if err := ValidPath(q.Path); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
	}
	if q.Step <= 0 {
		q.Step = 50
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Entry
	c := r.tip
	tipTime := c.Committer.When
	n := 0 // position of c from the tip, 1-based
	for c != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n++
		if !q.Since.IsZero() && c.Committer.When.Before(q.Since) {
			break
		}
		var parent *object.Commit
		if len(c.ParentHashes) > 0 {
			p, err := r.parent(ctx, c, n, q.Step, sinceDepth(q.Since, tipTime, c.Committer.When, n))
			if err != nil {
				return nil, err
			}
			parent = p
		}
		if r.walked == nil || len(r.walked) > walkedCacheSize {
			r.walked = map[plumbing.Hash]*object.Commit{}
		}
		r.walked[c.Hash] = c
		if parent != nil {
			r.walked[parent.Hash] = parent
		}
		keep := true
		if q.Path != "" {
			var err error
			keep, err = touches(c, parent, q.Path)
			if err != nil {
				return nil, fmt.Errorf("history of %s at %s: %w", q.Path, short(c.Hash), err)
			}
		}
		if keep {
			e := entry(c)
			e.Root = len(c.ParentHashes) == 0
			if len(c.ParentHashes) > 1 {
				if m, err := r.repo.CommitObject(c.ParentHashes[1]); err == nil {
					me := entry(m)
					e.Merged = &me
				}
			}
			out = append(out, e)
			if q.Stop != nil && q.Stop(e) {
				break
			}
			if q.Limit > 0 && len(out) >= q.Limit {
				break
			}
		}
		c = parent
	}
	return out, nil
}

// parent returns c's first parent, deepening the clone when c sits on its shallow boundary.
// want, when positive, is how deep the walk is expected to need the clone: a deepening goes
// at least that far.
func (r *Repo) parent(ctx context.Context, c *object.Commit, pos, step, want int) (*object.Commit, error) {
	h := c.ParentHashes[0]
	for {
		p, err := r.repo.CommitObject(h)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, fmt.Errorf("reading commit %s: %w", h, err)
		}
		if r.url == "" || r.depth == 0 {
			return nil, fmt.Errorf("commit %s (parent of %s) is missing and there is no shallow remote to deepen from", h, short(c.Hash))
		}
		next := max(max(r.depth, pos)+max(step, r.depth/2), want)
		r.opts.Logger.Debug("deepening", "from", r.depth, "to", next)
		before := r.depth
		tip := r.tip
		if err := r.fetch(ctx, next); err != nil {
			return nil, fmt.Errorf("deepening history to %d commits: %w", next, err)
		}
		r.tip = tip // the walk goes on from where it started; Apply refetches on its own
		r.depth = next
		if err := r.pruneShallow(); err != nil {
			return nil, err
		}
		if _, err := r.repo.CommitObject(h); err != nil && next-before <= 0 {
			return nil, fmt.Errorf("deepening history did not bring commit %s", h)
		}
		if next > 1<<20 {
			return nil, fmt.Errorf("commit %s still missing after deepening to %d commits", h, next)
		}
	}
}

// sinceDepth estimates how many commits a walk back to since needs, from the pace of the pos
// commits walked so far (tip at tipTime, the pos-th at at), with a quarter more for the pace
// to change; 0 when there is nothing to estimate from. A walk that reaches since in fewer
// commits stops there: over-fetching costs bytes, each fetch short of the window costs a
// round trip and a pack.
func sinceDepth(since, tipTime, at time.Time, pos int) int {
	if since.IsZero() || pos < 2 || !at.Before(tipTime) || !since.Before(at) {
		return 0
	}
	covered, needed := tipTime.Sub(at), tipTime.Sub(since)
	est := float64(pos) * float64(needed) / float64(covered) * 1.25
	return int(min(est, 1<<19))
}

// pruneShallow drops shallow boundary commits whose parents are now present (go-git appends
// new boundaries after a deepening fetch but keeps the old ones).
func (r *Repo) pruneShallow() error {
	sh, err := r.repo.Storer.Shallow()
	if err != nil {
		return fmt.Errorf("reading shallow list: %w", err)
	}
	keep := sh[:0:0]
	for _, h := range sh {
		c, err := r.repo.CommitObject(h)
		if err != nil {
			keep = append(keep, h)
			continue
		}
		for _, p := range c.ParentHashes {
			if _, err := r.repo.Storer.EncodedObject(plumbing.CommitObject, p); err != nil {
				keep = append(keep, h)
				break
			}
		}
	}
	if len(keep) == len(sh) {
		return nil
	}
	return r.repo.Storer.SetShallow(keep)
}

// touches reports whether c changes anything at or under p relative to parent (nil: a root
// commit, which touches p when p exists).
func touches(c, parent *object.Commit, p string) (bool, error) {
	a, err := entryAt(c, p)
	if err != nil {
		return false, err
	}
	if parent == nil {
		return !a.IsZero(), nil
	}
	b, err := entryAt(parent, p)
	if err != nil {
		return false, err
	}
	return a != b, nil
}

// entryAt is the hash of the tree or blob at p in c (zero when absent), found by reading only
// the trees along p.
func entryAt(c *object.Commit, p string) (plumbing.Hash, error) {
	t, err := c.Tree()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	e, err := t.FindEntry(p)
	switch {
	case err == nil:
		return e.Hash, nil
	case errors.Is(err, object.ErrEntryNotFound), errors.Is(err, object.ErrDirectoryNotFound):
		return plumbing.ZeroHash, nil
	default:
		return plumbing.ZeroHash, err
	}
}

func entry(c *object.Commit) Entry {
	subject, _, _ := strings.Cut(c.Message, "\n")
	parents := make([]string, len(c.ParentHashes))
	for i, h := range c.ParentHashes {
		parents[i] = h.String()
	}
	return Entry{
		Parents:   parents,
		SHA:       c.Hash.String(),
		Subject:   strings.TrimSpace(subject),
		Message:   c.Message,
		Author:    Signature{Name: c.Author.Name, Email: c.Author.Email, When: c.Author.When},
		Committer: Signature{Name: c.Committer.Name, Email: c.Committer.Email, When: c.Committer.When},
		Trailers:  ParseTrailers(c.Message),
	}
}

// walkedCacheSize bounds the commits History remembers for SnapshotOf.
const walkedCacheSize = 1 << 16

// ErrCommitNotFound is returned by Commit for a commit the clone does not hold (a shallow
// clone's history before its boundary, or a side branch's commit beyond it).
var ErrCommitNotFound = errors.New("commit not in the clone")

// Commit returns the snapshot and entry of a commit the clone holds: one History returned,
// or one of its parents. It never fetches.
func (r *Repo) Commit(ctx context.Context, sha string) (*Snapshot, Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, Entry{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.repo.CommitObject(plumbing.NewHash(sha))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, Entry{}, fmt.Errorf("%s: %w", sha, ErrCommitNotFound)
	}
	if err != nil {
		return nil, Entry{}, fmt.Errorf("reading commit %s: %w", sha, err)
	}
	e := entry(c)
	e.Root = len(c.ParentHashes) == 0
	return r.snapshot(c), e, nil
}

// SnapshotOf is Commit's snapshot alone. A commit History walked (or read as a parent) is
// not decoded again.
func (r *Repo) SnapshotOf(ctx context.Context, sha string) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h := plumbing.NewHash(sha)
	if c, ok := r.walked[h]; ok {
		return r.snapshot(c), nil
	}
	c, err := r.repo.CommitObject(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("%s: %w", sha, ErrCommitNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", sha, err)
	}
	return r.snapshot(c), nil
}

// PathHash is the object hash of the tree or blob at the slash-separated path p in the
// snapshot, "" when nothing is there. Two snapshots with the same PathHash for p hold the same
// bytes under p, so it tells cheaply whether a commit changed a directory.
func (s *Snapshot) PathHash(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" || p == "." {
		return s.commit.TreeHash.String(), nil
	}
	h, err := entryAt(s.commit, p)
	if err != nil {
		return "", fmt.Errorf("reading %s at %s: %w", p, short(s.commit.Hash), err)
	}
	if h.IsZero() {
		return "", nil
	}
	return h.String(), nil
}

// PathHashes returns PathHash for each of paths, reading each tree along them once. Trees
// are remembered by hash across calls on snapshots of the same Repo (unchanged directories
// keep their hash from commit to commit), so a walk over many commits decodes each directory
// version once.
func (s *Snapshot) PathHashes(paths []string) ([]string, error) {
	out := make([]string, len(paths))
	for i, p := range paths {
		h, err := s.pathHash(strings.Trim(p, "/"))
		if err != nil {
			return nil, fmt.Errorf("reading %s at %s: %w", p, short(s.commit.Hash), err)
		}
		out[i] = h
	}
	return out, nil
}

func (s *Snapshot) pathHash(p string) (string, error) {
	h := s.commit.TreeHash
	if p == "" || p == "." {
		return h.String(), nil
	}
	for _, part := range strings.Split(p, "/") {
		t, err := s.tree(h)
		if err != nil {
			return "", err
		}
		found := false
		for _, e := range t.Entries {
			if e.Name == part {
				h, found = e.Hash, true
				break
			}
		}
		if !found {
			return "", nil
		}
	}
	return h.String(), nil
}

// tree decodes a tree, through the repo's tree cache when the snapshot has one. A blob where
// a directory was expected reads as an empty tree.
func (s *Snapshot) tree(h plumbing.Hash) (*object.Tree, error) {
	if s.trees != nil {
		if t, ok := s.trees.get(h); ok {
			return t.Tree, nil
		}
	}
	o, err := s.s.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return nil, err
	}
	t := &object.Tree{}
	if o.Type() == plumbing.TreeObject {
		if err := t.Decode(o); err != nil {
			return nil, err
		}
	}
	if s.trees != nil {
		s.trees.put(h, &cachedTree{Tree: t})
	}
	return t, nil
}

// treeCache remembers decoded trees by hash; it is cleared whole when full. Its trees are
// shared by concurrent readers (a plan reads files several at a time), so they are never
// modified once cached.
type treeCache struct {
	mu sync.Mutex
	m  map[plumbing.Hash]*cachedTree
}

// cachedTree is a decoded tree and, built on first use, the index of its entries by name.
type cachedTree struct {
	*object.Tree
	once sync.Once
	idx  map[string]int
}

func (t *cachedTree) index() map[string]int {
	t.once.Do(func() {
		t.idx = make(map[string]int, len(t.Entries))
		for i, e := range t.Entries {
			t.idx[e.Name] = i
		}
	})
	return t.idx
}

const treeCacheSize = 1 << 14

func (c *treeCache) get(h plumbing.Hash) (*cachedTree, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[h]
	return t, ok
}

func (c *treeCache) put(h plumbing.Hash, t *cachedTree) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= treeCacheSize {
		c.m = make(map[plumbing.Hash]*cachedTree)
	}
	c.m[h] = t
}

// File is a regular file (or symbolic link) of a snapshot's tree.
type File struct {
	Path string   // slash-separated, from the root
	Blob ObjectID // the blob's hash
}

// ObjectID is a Git object's hash, as bytes (String gives the hex form).
type ObjectID [20]byte

func (o ObjectID) String() string { return plumbing.Hash(o).String() }

// ParseObjectID reads a hash in hex, such as a PathHash; anything else is the zero ID.
func ParseObjectID(hex string) ObjectID { return ObjectID(plumbing.NewHash(hex)) }

// Files lists the files at or under the directory dir, in fs.WalkDir's order, reading trees through
// the repo's tree cache. A missing dir has no files.
func (s *Snapshot) Files(dir string) ([]File, error) {
	dir = strings.Trim(dir, "/")
	h, err := s.pathHash(dir)
	if err != nil || h == "" {
		return nil, err
	}
	var out []File
	var walk func(prefix string, h plumbing.Hash) error
	walk = func(prefix string, h plumbing.Hash) error {
		t, err := s.tree(h)
		if err != nil {
			return err
		}
		// in fs.WalkDir's order (names sorted within a directory), which git's tree order
		// (a directory sorts as its name + "/") is not
		entries := slices.Clone(t.Entries)
		slices.SortFunc(entries, func(a, b object.TreeEntry) int { return strings.Compare(a.Name, b.Name) })
		for _, e := range entries {
			p := e.Name
			if prefix != "" {
				p = prefix + "/" + e.Name
			}
			switch {
			case e.Mode == filemode.Dir:
				if err := walk(p, e.Hash); err != nil {
					return err
				}
			case e.Mode.IsFile():
				out = append(out, File{Path: p, Blob: ObjectID(e.Hash)})
			}
		}
		return nil
	}
	if err := walk(dir, plumbing.NewHash(h)); err != nil {
		return nil, fmt.Errorf("listing %s at %s: %w", dir, short(s.commit.Hash), err)
	}
	return out, nil
}

// ReadBlob reads a blob by its hash (a File's Blob).
func (s *Snapshot) ReadBlob(id ObjectID) ([]byte, error) {
	b, err := (&treeFS{s: s.s}).blob(plumbing.Hash(id))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", id, err)
	}
	return b, nil
}
