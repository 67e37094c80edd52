package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
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
			p, err := r.parent(ctx, c, n, q.Step)
			if err != nil {
				return nil, err
			}
			parent = p
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
func (r *Repo) parent(ctx context.Context, c *object.Commit, pos, step int) (*object.Commit, error) {
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
		next := max(r.depth, pos) + max(step, r.depth/2)
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
	return Entry{
		SHA:       c.Hash.String(),
		Subject:   strings.TrimSpace(subject),
		Message:   c.Message,
		Author:    Signature{Name: c.Author.Name, Email: c.Author.Email, When: c.Author.When},
		Committer: Signature{Name: c.Committer.Name, Email: c.Committer.Email, When: c.Committer.When},
		Trailers:  ParseTrailers(c.Message),
	}
}
