package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Snapshot is one commit of the config repo.
type Snapshot struct {
	commit *object.Commit
	s      storer.EncodedObjectStorer
	trees  *treeCache
	reads  *sync.Mutex // see treeFS
}

// Tip returns the tip of the target branch as last fetched (by Open, Refresh, or a retry).
func (r *Repo) Tip(ctx context.Context) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshot(r.tip), nil
}

func (r *Repo) snapshot(c *object.Commit) *Snapshot {
	return &Snapshot{commit: c, s: r.repo.Storer, trees: &r.trees, reads: &r.reads}
}

// SHA is the commit's hash.
func (s *Snapshot) SHA() string { return s.commit.Hash.String() }

// Time is the commit's committer time.
func (s *Snapshot) Time() time.Time { return s.commit.Committer.When }

// FS is a read-only view of the commit's tree. Nothing is checked out: directories and blobs
// are read from the object store when opened, so its cost does not depend on the repository's
// size. It is safe for concurrent use: reads of the object store take turns (go-git's
// stores are not safe for concurrent use), what callers do with the bytes need not. File
// modification times are the commit's time. Symbolic links read as their target; submodules
// are irregular files that cannot be read.
func (s *Snapshot) FS() fs.FS {
	return &treeFS{s: s.s, root: s.commit.TreeHash, when: s.commit.Committer.When, trees: s.trees, reads: s.reads}
}

type treeFS struct {
	s     storer.EncodedObjectStorer
	root  plumbing.Hash
	when  time.Time
	trees *treeCache  // shared by the Repo's snapshots; nil: decode every time
	reads *sync.Mutex // the Repo's: one object-store read at a time; nil: no locking
}

// lock takes the object store for one read; the returned func gives it back.
func (t *treeFS) lock() func() {
	if t.reads == nil {
		return func() {}
	}
	t.reads.Lock()
	return t.reads.Unlock
}

var (
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
)

// entry resolves name to its tree entry; "." is the root tree. Each directory along the path
// is decoded once per Repo (the tree cache), not once per lookup: a plan over an environment
// of n files opens n files in the same few directories.
func (t *treeFS) entry(op, name string) (object.TreeEntry, error) {
	if !fs.ValidPath(name) {
		return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	e := object.TreeEntry{Name: ".", Mode: filemode.Dir, Hash: t.root}
	if name == "." {
		return e, nil
	}
	for rest := name; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, "/")
		if e.Mode != filemode.Dir {
			return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		tree, err := t.tree(e.Hash)
		if err != nil {
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				err = fs.ErrNotExist
			}
			return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		i, ok := tree.index()[part]
		if !ok {
			return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		e = tree.Entries[i]
	}
	return e, nil
}

// tree decodes the tree h through the repo's tree cache (when the FS has one).
func (t *treeFS) tree(h plumbing.Hash) (*cachedTree, error) {
	if t.trees != nil {
		if ct, ok := t.trees.get(h); ok {
			return ct, nil
		}
	}
	unlock := t.lock()
	tree, err := object.GetTree(t.s, h)
	unlock()
	if err != nil {
		return nil, err
	}
	ct := &cachedTree{Tree: tree}
	if t.trees != nil {
		t.trees.put(h, ct)
	}
	return ct, nil
}

func (t *treeFS) Open(name string) (fs.File, error) {
	e, err := t.entry("open", name)
	if err != nil {
		return nil, err
	}
	return &treeFile{fs: t, e: e, name: name}, nil
}

func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	e, err := t.entry("stat", name)
	if err != nil {
		return nil, err
	}
	if err := t.fetchWithSiblings(name, e); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return t.info(e, path.Base(name))
}

func (t *treeFS) ReadFile(name string) ([]byte, error) {
	e, err := t.entry("read", name)
	if err != nil {
		return nil, err
	}
	if e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is not a regular file")}
	}
	if err := t.fetchWithSiblings(name, e); err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	b, err := t.blob(e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := t.entry("readdir", name)
	if err != nil {
		return nil, err
	}
	if e.Mode != filemode.Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return t.readDir(e.Hash)
}

func (t *treeFS) readDir(h plumbing.Hash) ([]fs.DirEntry, error) {
	tree, err := t.tree(h)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(tree.Entries))
	for _, e := range tree.Entries {
		out = append(out, &dirEntry{fs: t, e: e})
	}
	// Git orders directories as if their names ended in "/"; fs.ReadDir wants plain name order.
	sortDirEntries(out)
	return out, nil
}

func (t *treeFS) blob(h plumbing.Hash) ([]byte, error) {
	defer t.lock()()
	o, err := t.s.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, err
	}
	rd, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func (t *treeFS) info(e object.TreeEntry, name string) (fs.FileInfo, error) {
	fi := &fileInfo{name: name, mode: goMode(e.Mode), when: t.when}
	if e.Mode != filemode.Dir && e.Mode != filemode.Submodule {
		unlock := t.lock()
		o, err := t.s.EncodedObject(plumbing.BlobObject, e.Hash)
		unlock()
		if err != nil {
			return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
		}
		fi.size = o.Size()
	}
	return fi, nil
}

func goMode(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir:
		return fs.ModeDir | 0o755
	case filemode.Executable:
		return 0o755
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	case filemode.Submodule:
		return fs.ModeIrregular
	default:
		return 0o644
	}
}

type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
	when time.Time
}

func (f *fileInfo) Name() string       { return f.name }
func (f *fileInfo) Size() int64        { return f.size }
func (f *fileInfo) Mode() fs.FileMode  { return f.mode }
func (f *fileInfo) ModTime() time.Time { return f.when }
func (f *fileInfo) IsDir() bool        { return f.mode.IsDir() }
func (f *fileInfo) Sys() any           { return nil }

type dirEntry struct {
	fs *treeFS
	e  object.TreeEntry
}

func (d *dirEntry) Name() string               { return d.e.Name }
func (d *dirEntry) IsDir() bool                { return d.e.Mode == filemode.Dir }
func (d *dirEntry) Type() fs.FileMode          { return goMode(d.e.Mode).Type() }
func (d *dirEntry) Info() (fs.FileInfo, error) { return d.fs.info(d.e, d.e.Name) }

// treeFile is an open file or directory; a blob is read on the first Read.
type treeFile struct {
	fs   *treeFS
	e    object.TreeEntry
	name string
	rd   *bytes.Reader
	dir  []fs.DirEntry
	off  int
	read bool
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return f.fs.info(f.e, path.Base(f.name)) }

func (f *treeFile) Read(p []byte) (int, error) {
	if f.e.Mode == filemode.Dir {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: errors.New("is a directory")}
	}
	if f.e.Mode == filemode.Submodule {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: errors.New("is a submodule")}
	}
	if f.rd == nil {
		b, err := f.fs.blob(f.e.Hash)
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		f.rd = bytes.NewReader(b)
	}
	return f.rd.Read(p)
}

func (f *treeFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if f.e.Mode != filemode.Dir {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: errors.New("not a directory")}
	}
	if !f.read {
		d, err := f.fs.readDir(f.e.Hash)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: err}
		}
		f.dir, f.read = d, true
	}
	rest := f.dir[f.off:]
	if n <= 0 {
		f.off = len(f.dir)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	f.off += n
	return rest[:n], nil
}

func (f *treeFile) Close() error { return nil }

// ReadFile reads one file of the snapshot.
func (s *Snapshot) ReadFile(name string) ([]byte, error) {
	b, err := fs.ReadFile(s.FS(), name)
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", name, s.commit.Hash, err)
	}
	return b, nil
}
