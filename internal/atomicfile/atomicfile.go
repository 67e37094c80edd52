// Package atomicfile replaces files on local disk, under one directory, each atomically.
//
// Rules:
//   - Every file is checked before any is written: its path is slash-separated and inside the
//     directory (opened as an [os.Root], so neither ".." nor a symlink escapes it), it is a
//     regular file, and its content is still File.Old. Nothing is written if a check fails.
//   - Each file is then replaced by a temporary file in the same directory, written, synced,
//     given File.Mode (0644 when zero) and renamed over it.
//
// It is the local-disk half of a planned edit: manifests plans, the caller writes.
package atomicfile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
)

// File is one file to replace. Path is slash-separated, relative to the directory; Old is the
// content the replacement was planned from, New what is written. Its fields are those of
// manifests.File, so a planned file converts with atomicfile.File(f).
type File struct {
	Path     string
	Old, New []byte
	Mode     fs.FileMode
}

// Replace checks every file under dir, then replaces each atomically (see the package rules).
func Replace(dir string, files []File) error {
	if len(files) == 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer root.Close()
	for _, f := range files {
		if err := check(root, dir, f); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := replace(root, f); err != nil {
			return err
		}
	}
	return nil
}

// check refuses f unless it names a regular file inside root that still holds f.Old.
func check(root *os.Root, dir string, f File) error {
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
	return nil
}

// replace writes f.New to a temporary file beside f.Path and renames it over f.Path.
func replace(root *os.Root, f File) error {
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
