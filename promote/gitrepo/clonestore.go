package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// cloneStorage is a temporary clone's store. What the remote sends stays in the pack files the
// fetches write into the clone's directory, and references, config and the shallow list stay
// there too; the objects ferry itself writes (blobs, trees and commits) are kept in memory
// instead of as loose object files. They are few, read back at once (the push packs them, the
// next environment's plan reads the tip they make) and thrown away with the clone: a watch
// writing 200 images into three environments would otherwise create, compress and reopen
// hundreds of files. A local checkout keeps what it commits, so it never uses this store.
type cloneStorage struct {
	*filesystem.Storage
	mu   sync.RWMutex
	objs map[plumbing.Hash]*plumbing.MemoryObject
	lazy promisor // a partial clone's missing blobs
}

var (
	_ storer.EncodedObjectStorer = (*cloneStorage)(nil)
	_ storer.DeltaObjectStorer   = (*cloneStorage)(nil)
	_ storer.PackfileWriter      = (*cloneStorage)(nil)
)

func newCloneStorage(fs *filesystem.Storage) *cloneStorage {
	return &cloneStorage{Storage: fs, objs: map[plumbing.Hash]*plumbing.MemoryObject{}}
}

func (s *cloneStorage) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

// SetEncodedObject keeps o in memory (copying it when it is not a MemoryObject).
func (s *cloneStorage) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	mo, ok := o.(*plumbing.MemoryObject)
	if !ok {
		mo = &plumbing.MemoryObject{}
		mo.SetType(o.Type())
		rd, err := o.Reader()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		defer rd.Close()
		w, err := mo.Writer()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if _, err := io.Copy(w, rd); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("copying object %s: %w", o.Hash(), err)
		}
	}
	if mo.Type() == plumbing.OFSDeltaObject || mo.Type() == plumbing.REFDeltaObject {
		return plumbing.ZeroHash, plumbing.ErrInvalidType
	}
	h := mo.Hash()
	s.mu.Lock()
	s.objs[h] = mo
	s.mu.Unlock()
	return h, nil
}

func (s *cloneStorage) mem(t plumbing.ObjectType, h plumbing.Hash) (*plumbing.MemoryObject, bool) {
	s.mu.RLock()
	o, ok := s.objs[h]
	s.mu.RUnlock()
	return o, ok && (t == plumbing.AnyObject || o.Type() == t)
}

// EncodedObject reads an object from memory or disk. A blob a partial clone lacks is
// fetched from the remote first; nothing else is (a commit beyond a shallow clone's depth is
// deepened by History, not fetched one by one).
func (s *cloneStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, ok := s.mem(t, h); ok {
		return o, nil
	}
	o, err := s.Storage.EncodedObject(t, h)
	if t != plumbing.BlobObject || !errors.Is(err, plumbing.ErrObjectNotFound) {
		return o, err
	}
	if ferr := s.fetchMissing(s.promisedCtx(), []plumbing.Hash{h}); ferr != nil {
		return nil, ferr
	}
	if o, ok := s.mem(t, h); ok {
		return o, nil
	}
	return nil, err
}

func (s *cloneStorage) DeltaObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, ok := s.mem(t, h); ok {
		return o, nil
	}
	return s.Storage.DeltaObject(t, h)
}

func (s *cloneStorage) HasEncodedObject(h plumbing.Hash) error {
	if _, ok := s.mem(plumbing.AnyObject, h); ok {
		return nil
	}
	return s.Storage.HasEncodedObject(h)
}

func (s *cloneStorage) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if o, ok := s.mem(plumbing.AnyObject, h); ok {
		return o.Size(), nil
	}
	return s.Storage.EncodedObjectSize(h)
}

// IterEncodedObjects iterates the objects in memory, then those on disk.
func (s *cloneStorage) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	disk, err := s.Storage.IterEncodedObjects(t)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	var objs []plumbing.EncodedObject
	for _, o := range s.objs {
		if t == plumbing.AnyObject || o.Type() == t {
			objs = append(objs, o)
		}
	}
	s.mu.RUnlock()
	return storer.NewMultiEncodedObjectIter([]storer.EncodedObjectIter{storer.NewEncodedObjectSliceIter(objs), disk}), nil
}
