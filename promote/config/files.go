package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// FileRef is a file or directory of the config repo that a config names.
type FileRef struct {
	// Path is the key path in ferry.yaml, e.g. images[0].verify[0].key.
	Key string
	// Path is relative to the repo root, slash-separated and clean.
	Path string
	// Dir is true for an environment's directory.
	Dir  bool
	Line int
}

// Files lists the files and directories the config names in the repo: verify keys and trusted
// roots, a signing key that is a path, and the environments' directories. env://VAR values
// are not files and are left out.
func (c *Config) Files() []FileRef {
	var out []FileRef
	for i, img := range c.Images {
		for j, v := range img.Verify {
			p := fmt.Sprintf("images[%d].verify[%d]", i, j)
			if v.Key != "" {
				if _, isEnv := EnvVar(v.Key); !isEnv {
					out = append(out, FileRef{Key: p + ".key", Path: path.Clean(v.Key), Line: v.Line})
				}
			}
			if v.Keyless != nil && v.Keyless.TrustedRoot != "" {
				out = append(out, FileRef{Key: p + ".keyless.trustedRoot", Path: path.Clean(v.Keyless.TrustedRoot), Line: v.Line})
			}
		}
	}
	for i, e := range c.Environments {
		out = append(out, FileRef{Key: fmt.Sprintf("environments[%d].path", i), Path: e.Path, Dir: true, Line: e.Line})
	}
	if s := c.Git.SigningKey; s != nil {
		for _, k := range []struct{ key, val string }{{"gpg", s.GPG}, {"ssh", s.SSH}} {
			if _, isEnv := EnvVar(k.val); k.val != "" && !isEnv {
				out = append(out, FileRef{Key: "git.signingKey." + k.key, Path: path.Clean(k.val), Line: s.Line})
			}
		}
	}
	return out
}

// CheckFiles checks that every file the config names exists in fsys (the repo's tree) as a
// regular file, and every environment path as a directory. It reports all that are missing,
// as *Error values joined and sorted by line.
func (c *Config) CheckFiles(fsys fs.FS) error {
	var errs []*Error
	for _, f := range c.Files() {
		fi, err := fs.Stat(fsys, f.Path)
		var msg string
		switch {
		case errors.Is(err, fs.ErrNotExist):
			msg = fmt.Sprintf("%s does not exist in the repo", f.Path)
			if f.Dir {
				msg += "; create the environment's directory or fix the path"
			}
		case err != nil:
			msg = fmt.Sprintf("%s: %v", f.Path, err)
		case f.Dir && !fi.IsDir():
			msg = fmt.Sprintf("%s is not a directory", f.Path)
		case !f.Dir && fi.IsDir():
			msg = fmt.Sprintf("%s is a directory, not a file", f.Path)
		default:
			continue
		}
		errs = append(errs, &Error{File: c.File, Line: f.Line, Path: f.Key, Msg: msg, Err: err})
	}
	return joinErrors(errs)
}
