package gitrepo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// afterPush records the pushed commit and, in a local checkout, brings the local branch and
// working tree along when that is safe.
func (r *Repo) afterPush(ref plumbing.ReferenceName, own bool, base *object.Commit, commit plumbing.Hash, ch *Change, res *Result) (*Result, error) {
	track := plumbing.NewRemoteReferenceName(r.opts.Remote, ref.Short())
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(track, commit)); err != nil {
		return nil, fmt.Errorf("recording %s: %w", track, err)
	}
	if own {
		return res, nil
	}
	c, err := r.repo.CommitObject(commit)
	if err != nil {
		return nil, fmt.Errorf("reading pushed commit %s: %w", commit, err)
	}
	r.tip = c
	if r.local {
		res.Note = r.updateWorktree(base, c, ch)
	}
	return res, nil
}

// commitLocal is NoPush: the commit goes to the local branch only.
func (r *Repo) commitLocal(ref plumbing.ReferenceName, own bool, base *object.Commit, commit plumbing.Hash, ch *Change, res *Result) (*Result, error) {
	res.Attempts = 1
	if own {
		if err := r.repo.Storer.SetReference(plumbing.NewHashReference(ref, commit)); err != nil {
			return nil, fmt.Errorf("setting %s: %w", ref.Short(), err)
		}
		return res, nil
	}
	c, err := r.repo.CommitObject(commit)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	if r.checkedOut() {
		note := r.updateWorktree(base, c, ch)
		if note != "" {
			return nil, fmt.Errorf("committing to the checked-out branch %s without pushing: %s", r.opts.Branch, note)
		}
	} else {
		old, err := r.repo.Storer.Reference(r.branch)
		if err == nil && old.Hash() != base.Hash {
			return nil, fmt.Errorf("local branch %s moved while ferry worked: %w", r.opts.Branch, ErrDiverged)
		}
		if err := r.repo.Storer.SetReference(plumbing.NewHashReference(r.branch, commit)); err != nil {
			return nil, fmt.Errorf("setting %s: %w", r.opts.Branch, err)
		}
	}
	r.tip = c
	return res, nil
}

func (r *Repo) checkedOut() bool {
	head, err := r.repo.Storer.Reference(plumbing.HEAD)
	return err == nil && head.Type() == plumbing.SymbolicReference && head.Target() == r.branch
}

// noPushBase picks what a NoPush commit builds on: the newer of the local branch and origin's,
// when one contains the other.
func (r *Repo) noPushBase() error {
	lr, err := r.repo.Storer.Reference(r.branch)
	if err != nil {
		if r.tip == nil {
			return fmt.Errorf("local branch %s: %w", r.opts.Branch, ErrBranchNotFound)
		}
		return nil
	}
	local, err := r.repo.CommitObject(lr.Hash())
	if err != nil {
		return fmt.Errorf("reading local branch %s: %w", r.opts.Branch, err)
	}
	origin := r.tip
	switch {
	case origin == nil || origin.Hash == local.Hash:
		r.tip = local
		return nil
	}
	if ok, _ := origin.IsAncestor(local); ok {
		r.tip = local
		return nil
	}
	if ok, _ := local.IsAncestor(origin); ok {
		if r.checkedOut() {
			return fmt.Errorf("checked-out branch %s is behind %s/%s: pull first: %w", r.opts.Branch, r.opts.Remote, r.opts.Branch, ErrDiverged)
		}
		return nil
	}
	return fmt.Errorf("branch %s and %s/%s: %w", r.opts.Branch, r.opts.Remote, r.opts.Branch, ErrDiverged)
}

// updateWorktree fast-forwards the local branch, and when it is checked out also the changed
// paths of the working tree and index, from base to c. It touches nothing unless every changed
// path is clean; it returns why it left things alone, or "".
func (r *Repo) updateWorktree(base, c *object.Commit, ch *Change) string {
	lr, err := r.repo.Storer.Reference(r.branch)
	if err != nil {
		return fmt.Sprintf("no local branch %s; working tree left alone", r.opts.Branch)
	}
	if lr.Hash() != base.Hash {
		return fmt.Sprintf("local branch %s is at %s, not at %s where ferry's commit starts; working tree left alone (run git pull --ff-only)", r.opts.Branch, short(lr.Hash()), short(base.Hash))
	}
	if !r.checkedOut() {
		if err := r.repo.Storer.CheckAndSetReference(plumbing.NewHashReference(r.branch, c.Hash), lr); err != nil {
			return fmt.Sprintf("local branch %s not moved: %v", r.opts.Branch, err)
		}
		return ""
	}
	st, ok := r.repo.Storer.(*filesystem.Storage)
	if !ok {
		return "working tree left alone: not a filesystem repository"
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		return fmt.Sprintf("working tree left alone: %v", err)
	}
	root := wt.Filesystem.Root()
	gitDir := st.Filesystem().Root()
	lockPath := filepath.Join(gitDir, "index.lock")
	ownerPath := filepath.Join(gitDir, indexLockOwner)
	clearStaleIndexLock(lockPath, ownerPath)
	// The owner file says this index.lock is ferry's: if ferry is killed while it holds the
	// lock (kill -9 leaves it, as it does git's), the next run sees its owner is gone and
	// removes both. It is written before the lock and removed after it.
	if err := os.WriteFile(ownerPath, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Sprintf("working tree left alone: %v", err)
	}
	defer os.Remove(ownerPath)
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Sprintf("working tree left alone: index is locked (%s exists: another git command is running?)", lockPath)
	}
	committed := false
	defer func() {
		if !committed {
			_ = lock.Close()
			_ = os.Remove(lockPath)
		}
	}()
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return fmt.Sprintf("working tree left alone: reading the index: %v", err)
	}
	paths := make([]string, 0, len(ch.Files))
	want := make(map[string]*index.Entry, len(ch.Files))
	for p := range ch.Files {
		paths = append(paths, p)
		want[p] = nil
	}
	sort.Strings(paths)
	for _, e := range idx.Entries {
		if e.Mode == filemode.Dir {
			return "working tree left alone: the index is a sparse index"
		}
		if _, ok := want[e.Name]; ok {
			if want[e.Name] != nil || e.Stage != 0 { // index.Merged is 1 in go-git; git's merged stage is 0
				return fmt.Sprintf("working tree left alone: %s has merge conflicts", e.Name)
			}
			want[e.Name] = e
		}
	}
	baseTree, err := base.Tree()
	if err != nil {
		return fmt.Sprintf("working tree left alone: %v", err)
	}
	newTree, err := c.Tree()
	if err != nil {
		return fmt.Sprintf("working tree left alone: %v", err)
	}
	newEntries := make(map[string]*object.TreeEntry, len(paths))
	for _, p := range paths {
		ne, err := newTree.FindEntry(p)
		if err != nil {
			return fmt.Sprintf("working tree left alone: %s: %v", p, err)
		}
		newEntries[p] = ne
		var baseHash plumbing.Hash
		if be, err := baseTree.FindEntry(p); err == nil {
			baseHash = be.Hash
		}
		if dirty := pathDirty(root, p, baseHash, want[p]); dirty != "" {
			return fmt.Sprintf("working tree left alone: %s %s; ferry's commit is on %s/%s (run git pull --ff-only when ready)", p, dirty, r.opts.Remote, r.opts.Branch)
		}
	}
	if err := r.repo.Storer.CheckAndSetReference(plumbing.NewHashReference(r.branch, c.Hash), lr); err != nil {
		return fmt.Sprintf("working tree left alone: local branch %s moved: %v", r.opts.Branch, err)
	}
	for _, p := range paths {
		ne := newEntries[p]
		full := filepath.Join(root, filepath.FromSlash(p))
		perm := os.FileMode(0o644)
		if ne.Mode == filemode.Executable {
			perm = 0o755
		}
		fi, err := writeFileAtomic(full, ch.Files[p], perm)
		if err != nil {
			return fmt.Sprintf("branch %s moved to %s but writing %s failed: %v (run git checkout -- %s)", r.opts.Branch, short(c.Hash), p, err, p)
		}
		e := want[p]
		if e == nil {
			e = idx.Add(p)
		}
		e.Hash, e.Mode = ne.Hash, ne.Mode
		e.Size = uint32(fi.Size())
		e.ModifiedAt, e.CreatedAt = fi.ModTime(), fi.ModTime()
		fillStat(e, fi)
	}
	// Extensions (the cached tree among them) are dropped: git rebuilds them.
	idx.Cache, idx.ResolveUndo, idx.EndOfIndexEntry = nil, nil, nil
	if err := index.NewEncoder(lock).Encode(idx); err != nil {
		return fmt.Sprintf("branch %s moved but writing the index failed: %v (run git reset)", r.opts.Branch, err)
	}
	if err := lock.Close(); err != nil {
		return fmt.Sprintf("branch %s moved but writing the index failed: %v (run git reset)", r.opts.Branch, err)
	}
	if err := os.Rename(lockPath, filepath.Join(gitDir, "index")); err != nil {
		return fmt.Sprintf("branch %s moved but writing the index failed: %v (run git reset)", r.opts.Branch, err)
	}
	committed = true
	return ""
}

// pathDirty says how the working-tree file at p differs from the base commit's blob (zero: the
// file did not exist), or "" when it is clean.
func pathDirty(root, p string, base plumbing.Hash, e *index.Entry) string {
	full := filepath.Join(root, filepath.FromSlash(p))
	fi, err := os.Lstat(full)
	if base.IsZero() {
		if e != nil {
			return "is staged"
		}
		if err == nil {
			return "exists untracked"
		}
		return ""
	}
	if e == nil {
		return "is removed from the index"
	}
	if e.Hash != base || e.IntentToAdd || e.SkipWorktree {
		return "has staged changes"
	}
	if err != nil {
		return "is missing"
	}
	if !fi.Mode().IsRegular() {
		return "is not a regular file"
	}
	if uint32(fi.Size()) == e.Size && fi.ModTime().Equal(e.ModifiedAt) {
		return ""
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return "cannot be read"
	}
	if plumbing.ComputeHash(plumbing.BlobObject, b) != base {
		return "has uncommitted changes"
	}
	return ""
}

func writeFileAtomic(full string, content []byte, perm os.FileMode) (os.FileInfo, error) {
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(full), ".ferry-*")
	if err != nil {
		return nil, err
	}
	if _, err := bytes.NewReader(content).WriteTo(tmp); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return nil, err
	}
	if err := errors.Join(tmp.Chmod(perm), tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name())
		return nil, err
	}
	if err := os.Rename(tmp.Name(), full); err != nil {
		_ = os.Remove(tmp.Name())
		return nil, err
	}
	return os.Stat(full)
}

// indexLockOwner names the file, beside .git/index.lock, that holds the pid of the ferry that
// took the lock.
const indexLockOwner = "ferry-index-lock.pid"

// clearStaleIndexLock removes an index.lock that a ferry process took and never released
// (it was killed), and the owner file: only when the owner file names a process that no longer
// exists. A lock another git command holds has no owner file and is never touched.
func clearStaleIndexLock(lockPath, ownerPath string) {
	b, err := os.ReadFile(ownerPath)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err == nil && pid > 0 && processAlive(pid) {
		return
	}
	_ = os.Remove(lockPath)
	_ = os.Remove(ownerPath)
}
