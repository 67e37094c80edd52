package manifests

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"
	"sync/atomic"
)

// repoScreen is what the bytes of a file must contain for it to possibly name a repository:
// every segment of the repository's path (without registry, and without Docker Hub's
// library/), since a Helm map may split registry and repository at any '/'; the last
// segment as a whole name, not inside a longer one (`api` is not in `apiVersion`, `my-api` or
// `api/v2`).
type repoScreen struct {
	last   []byte
	others [][]byte
}

func newRepoScreen(canonical string) repoScreen {
	segs := bytes.Split([]byte(screenString(canonical)), []byte("/"))
	return repoScreen{last: segs[len(segs)-1], others: segs[:len(segs)-1]}
}

// nameByte reports whether c may continue a repository path segment.
func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func (s repoScreen) match(data []byte) bool {
	for _, o := range s.others {
		if !bytes.Contains(data, o) {
			return false
		}
	}
	for off := 0; off < len(data); {
		i := bytes.Index(data[off:], s.last)
		if i < 0 {
			return false
		}
		i += off
		j := i + len(s.last)
		if (i == 0 || !nameByte(data[i-1])) && (j == len(data) || !nameByte(data[j]) && data[j] != '/') {
			return true
		}
		off = i + 1
	}
	return false
}

// alwaysParsed are bytes that make a file worth parsing whatever it names: markers, and what
// the parser decodes into other bytes (escapes in double-quoted scalars, UTF-16).
var alwaysParsed = [][]byte{[]byte("$imagepolicy"), []byte("$ferry"), []byte(`\`)}

// screen reports whether data may mention a wanted repository or carry a marker: when it
// says no, no rule can find anything in data (FuzzScreen).
func (r *run) screen(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return true
	}
	for _, s := range alwaysParsed {
		if bytes.Contains(data, s) {
			return true
		}
	}
	for _, s := range r.screens {
		if s.match(data) {
			return true
		}
	}
	return false
}

// screened is what prescreen learnt of a file's bytes.
type screened struct {
	mentions bool // the screen let it through
	dotdot   bool // it contains ".." (a kustomization that may reach outside the path)
}

// prescreen reads and screens files r.readers at a time, before anything is parsed. It keeps
// the bytes of the files that may be parsed (r.data) and what it learnt of every file
// (r.pre), so that the files the screen turns away are read once and never parsed.
func (r *run) prescreen(files []string) error {
	if r.readers <= 1 {
		return nil
	}
	res := make([]screened, len(files))
	data := make([][]byte, len(files))
	errs := make([]error, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range r.readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				p := files[i]
				b, err := readInto(r.fsys, p, buf)
				if err != nil {
					errs[i] = fmt.Errorf("reading %s: %w", p, err)
					continue
				}
				buf = b
				s := screened{mentions: r.screen(b)}
				kust := isKustomization(p)
				if kust {
					s.dotdot = bytes.Contains(b, []byte(".."))
				}
				if s.mentions || kust && (s.dotdot || r.find) || r.wantsFields(path.Base(p)) {
					data[i] = bytes.Clone(b)
				}
				res[i] = s
			}
		}()
	}
	wg.Wait()
	r.pre = make(map[string]screened, len(files))
	for i, p := range files {
		if errs[i] != nil {
			return errs[i]
		}
		r.pre[p] = res[i]
		if data[i] != nil {
			r.data[p] = data[i]
		}
	}
	return nil
}

// readInto reads the file p into buf's storage, growing it as needed.
func readInto(fsys fs.FS, p string, buf []byte) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
