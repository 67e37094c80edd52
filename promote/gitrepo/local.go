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
	lock, why := lockIndex(st.Filesystem().Root())
	if why != "" {
		return why
	}
	defer lock.release()
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return fmt.Sprintf("working tree left alone: reading the index: %v", err)
	}
	ups, why := indexedPaths(idx, ch)
	if why != "" {
		return why
	}
	if why := r.checkClean(root, base, c, ups); why != "" {
		return why
	}
	if err := r.repo.Storer.CheckAndSetReference(plumbing.NewHashReference(r.branch, c.Hash), lr); err != nil {
		return fmt.Sprintf("working tree left alone: local branch %s moved: %v", r.opts.Branch, err)
	}
	if why := r.writePaths(root, c, ch, idx, ups); why != "" {
		return why
	}
	if err := lock.commit(idx); err != nil {
		return fmt.Sprintf("branch %s moved but writing the index failed: %v (run git reset)", r.opts.Branch, err)
	}
	return ""
}

// pathUpdate is one path ferry's commit changes: its index entry (nil when the index has
// none) and, once checked clean, its entry in the commit's tree.
type pathUpdate struct {
	path  string
	entry *index.Entry
	next  *object.TreeEntry
}

// indexedPaths lists ch's paths, sorted, with their index entries; it returns why not when the
// index is sparse or a path has merge conflicts.
func indexedPaths(idx *index.Index, ch *Change) ([]pathUpdate, string) {
	paths := make([]string, 0, len(ch.Files))
	want := make(map[string]*index.Entry, len(ch.Files))
	for p := range ch.Files {
		paths = append(paths, p)
		want[p] = nil
	}
	sort.Strings(paths)
	for _, e := range idx.Entries {
		if e.Mode == filemode.Dir {
			return nil, "working tree left alone: the index is a sparse index"
		}
		if _, ok := want[e.Name]; ok {
			if want[e.Name] != nil || e.Stage != 0 { // index.Merged is 1 in go-git; git's merged stage is 0
				return nil, fmt.Sprintf("working tree left alone: %s has merge conflicts", e.Name)
			}
			want[e.Name] = e
		}
	}
	ups := make([]pathUpdate, len(paths))
	for i, p := range paths {
		ups[i] = pathUpdate{path: p, entry: want[p]}
	}
	return ups, ""
}

// checkClean finds each path in c's tree and checks that the working tree and index still
// hold what base has there; it returns why not.
func (r *Repo) checkClean(root string, base, c *object.Commit, ups []pathUpdate) string {
	baseTree, err := base.Tree()
	if err != nil {
		return fmt.Sprintf("working tree left alone: %v", err)
	}
	newTree, err := c.Tree()
	if err != nil {
		return fmt.Sprintf("working tree left alone: %v", err)
	}
	for i := range ups {
		u := &ups[i]
		ne, err := newTree.FindEntry(u.path)
		if err != nil {
			return fmt.Sprintf("working tree left alone: %s: %v", u.path, err)
		}
		u.next = ne
		var baseHash plumbing.Hash
		if be, err := baseTree.FindEntry(u.path); err == nil {
			baseHash = be.Hash
		}
		if dirty := pathDirty(root, u.path, baseHash, u.entry); dirty != "" {
			return fmt.Sprintf("working tree left alone: %s %s; ferry's commit is on %s/%s (run git pull --ff-only when ready)", u.path, dirty, r.opts.Remote, r.opts.Branch)
		}
	}
	return ""
}

// writePaths writes each path's new content into the working tree and its blob and stat into
// the index entry (added when missing); it returns what failed.
func (r *Repo) writePaths(root string, c *object.Commit, ch *Change, idx *index.Index, ups []pathUpdate) string {
	for _, u := range ups {
		full := filepath.Join(root, filepath.FromSlash(u.path))
		perm := os.FileMode(0o644)
		if u.next.Mode == filemode.Executable {
			perm = 0o755
		}
		fi, err := writeFileAtomic(full, ch.Files[u.path], perm)
		if err != nil {
			return fmt.Sprintf("branch %s moved to %s but writing %s failed: %v (run git checkout -- %s)", r.opts.Branch, short(c.Hash), u.path, err, u.path)
		}
		e := u.entry
		if e == nil {
			e = idx.Add(u.path)
		}
		e.Hash, e.Mode = u.next.Hash, u.next.Mode
		e.Size = uint32(fi.Size())
		e.ModifiedAt, e.CreatedAt = fi.ModTime(), fi.ModTime()
		fillStat(e, fi)
	}
	return ""
}

// indexLock is ferry's hold on .git/index.lock. The owner file beside it says the lock is
// ferry's: if ferry is killed while it holds the lock (kill -9 leaves it, as it does git's),
// the next run sees its owner is gone and removes both. The owner file is written before the
// lock and removed after it.
type indexLock struct {
	f                      *os.File
	path, owner, indexPath string
	committed              bool
}

// lockIndex takes gitDir's index.lock, first clearing one a killed ferry left; it returns why
// not.
func lockIndex(gitDir string) (*indexLock, string) {
	l := &indexLock{
		path:      filepath.Join(gitDir, "index.lock"),
		owner:     filepath.Join(gitDir, indexLockOwner),
		indexPath: filepath.Join(gitDir, "index"),
	}
	clearStaleIndexLock(l.path, l.owner)
	if err := os.WriteFile(l.owner, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Sprintf("working tree left alone: %v", err)
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		_ = os.Remove(l.owner)
		return nil, fmt.Sprintf("working tree left alone: index is locked (%s exists: another git command is running?)", l.path)
	}
	l.f = f
	return l, ""
}

// commit writes idx into the lock file and renames it over the index. Extensions (the cached
// tree among them) are dropped: git rebuilds them.
func (l *indexLock) commit(idx *index.Index) error {
	idx.Cache, idx.ResolveUndo, idx.EndOfIndexEntry = nil, nil, nil
	if err := index.NewEncoder(l.f).Encode(idx); err != nil {
		return err
	}
	if err := l.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(l.path, l.indexPath); err != nil {
		return err
	}
	l.committed = true
	return nil
}

// release drops the lock unless it was committed, then the owner file.
func (l *indexLock) release() {
	if !l.committed {
		_ = l.f.Close()
		_ = os.Remove(l.path)
	}
	_ = os.Remove(l.owner)
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
