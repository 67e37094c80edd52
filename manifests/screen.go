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

// hasOthers reports whether data contains every segment but the last.
func (s repoScreen) hasOthers(data []byte) bool {
	for _, o := range s.others {
		if !bytes.Contains(data, o) {
			return false
		}
	}
	return true
}

func (s repoScreen) match(data []byte) bool {
	if !s.hasOthers(data) {
		return false
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
	if r.byLast != nil {
		return r.byLast.match(r.screens, data)
	}
	for _, s := range r.screens {
		if s.match(data) {
			return true
		}
	}
	return false
}

// screenIndexMin is how many screens make one pass over a file's names cheaper than a search
// for each screen's last segment: a watch over 200 images screened every file 200 times.
const screenIndexMin = 8

// screenIndex finds the screens a file may match by its last segment: the file's names (runs
// of name bytes) are looked up, in one pass, among the screens' last segments.
type screenIndex struct {
	byLast map[string][]int // a last segment → the screens ending in it
	others []int            // screens whose last segment is not a plain name, searched as before
}

// indexScreens builds r's screen index when it has at least min screens.
func (r *run) indexScreens(min int) {
	if len(r.screens) < min {
		r.byLast = nil
		return
	}
	ix := &screenIndex{byLast: map[string][]int{}}
	for i, s := range r.screens {
		plain := len(s.last) > 0
		for _, c := range s.last {
			plain = plain && nameByte(c)
		}
		if plain {
			ix.byLast[string(s.last)] = append(ix.byLast[string(s.last)], i)
		} else {
			ix.others = append(ix.others, i)
		}
	}
	r.byLast = ix
}

// match is repoScreen.match over every screen: a last segment made of name bytes occurs as a
// whole name not followed by '/' exactly when a maximal run of name bytes equals it.
func (ix *screenIndex) match(screens []repoScreen, data []byte) bool {
	for _, i := range ix.others {
		if screens[i].match(data) {
			return true
		}
	}
	for i := 0; i < len(data); {
		if !nameByte(data[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(data) && nameByte(data[j]) {
			j++
		}
		if j == len(data) || data[j] != '/' {
			for _, k := range ix.byLast[string(data[i:j])] {
				if screens[k].hasOthers(data) {
					return true
				}
			}
		}
		i = j
	}
	return false
}

// screened is what prescreen learnt of a file's bytes.
type screened struct {
	mentions bool // the screen let it through
	dotdot   bool // it contains ".." (a kustomization that may reach outside the path)
}

// prescreen reads and screens files r.readers at a time, and parses those the screen lets
// through. It keeps the bytes of the files that may be parsed (r.data), what it parsed
// (r.preparsed) and what it learnt of every file (r.pre), so that the files the screen turns
// away are read once and never parsed.
func (r *run) prescreen(files []string) error {
	if r.readers <= 1 {
		return nil
	}
	res := make([]screened, len(files))
	data := make([][]byte, len(files))
	errs := make([]error, len(files))
	parsed := make([]*yfile, len(files))
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
					parsed[i] = r.preparse(p, data[i])
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
		if parsed[i] != nil {
			r.preparsed[p] = parsed[i]
		}
	}
	return nil
}

// preparse parses a file prescreen kept, on its reader's goroutine: parsing is most of a
// run's CPU, and the readers spread it over the cores. The file is parsed the same way the
// walk would parse it (through the cache when there is one); a file that does not parse is
// left for the walk, which decides whether that is an error.
func (r *run) preparse(p string, src []byte) *yfile {
	if f := r.cache.get(p, src); f != nil {
		return f
	}
	f, err := parseYAML(p, src)
	if err != nil {
		return nil
	}
	r.cache.put(f)
	return f
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
