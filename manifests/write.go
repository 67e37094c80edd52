package manifests

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
)

// Write applies e under dir, the FS root on disk. Every file is checked first (its path
// stays inside dir, through no symlink, and its content is still what was planned); then
// each file is replaced atomically (a temporary file in the same directory, renamed over
// it) with its mode kept. Nothing is written if any check fails.
func Write(dir string, e *Edit) error {
	if e == nil || len(e.Files) == 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer root.Close()
	for _, f := range e.Files {
		if !fs.ValidPath(f.Path) || f.Path == "." {
			return fmt.Errorf("refusing to write %q: not a path inside %s", f.Path, dir)
		}
		fi, err := root.Lstat(f.Path)
		if err != nil {
			return fmt.Errorf("refusing to write %s: %w", f.Path, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("refusing to write %s: not a regular file", f.Path)
		}
		cur, err := root.ReadFile(f.Path)
		if err != nil {
			return fmt.Errorf("refusing to write %s: %w", f.Path, err)
		}
		if !bytes.Equal(cur, f.Old) {
			return fmt.Errorf("%s changed since the edit was planned; plan again", f.Path)
		}
	}
	for _, f := range e.Files {
		if err := writeAtomic(root, f); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(root *os.Root, f File) error {
	mode := f.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(f.Path), "."+path.Base(f.Path)+".ferry-"+hex.EncodeToString(rnd[:]))
	fh, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("writing %s: %w", f.Path, err)
	}
	_, werr := fh.Write(f.New)
	if werr == nil {
		werr = fh.Sync()
	}
	if cerr := fh.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = root.Chmod(tmp, mode)
	}
	if werr == nil {
		werr = root.Rename(tmp, f.Path)
	}
	if werr != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.Path, werr)
	}
	return nil
}
