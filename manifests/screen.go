package manifests

import "bytes"

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
