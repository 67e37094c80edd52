package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// yfile is one parsed YAML file: the original bytes and its documents, with enough
// position information to splice new scalar text into the bytes.
type yfile struct {
	path  string
	src   []byte
	docs  []*yaml.Node
	lines []int // byte offset where each line starts; lines[0] is line 1
	eol   string
}

// ParseError is a file that is not valid YAML.
type ParseError struct {
	File string
	Line int
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: invalid YAML: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: invalid YAML: %v", e.File, e.Err)
}
func (e *ParseError) Unwrap() error { return e.Err }

var yamlLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`line (\d+)`) })

func parseYAML(path string, src []byte) (*yfile, error) {
	f := &yfile{path: path, src: src, eol: "\n"}
	if bytes.Contains(src, []byte("\r\n")) {
		f.eol = "\r\n"
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 0
			if m := yamlLineRE().FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			if m := yamlLineRE().FindStringIndex(msg); m != nil && m[0] == 0 {
				msg = strings.TrimLeft(msg[m[1]:], ": ")
			}
			return nil, &ParseError{File: path, Line: line, Err: errors.New(msg)}
		}
		f.docs = append(f.docs, &doc)
	}
	f.lines = lineStarts(src)
	return f, nil
}

// lineStarts finds line starts with the YAML parser's notion of a line break: CRLF, CR, LF,
// NEL, LS and PS. A leading UTF-8 byte order mark is not counted.
func lineStarts(src []byte) []int {
	start := 0
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		start = 3
	}
	lines := []int{start}
	for i := start; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\n':
			lines = append(lines, i+1)
		case c == '\r':
			if i+1 < len(src) && src[i+1] == '\n' {
				i++
			}
			lines = append(lines, i+1)
		case c == 0xc2 && i+1 < len(src) && src[i+1] == 0x85:
			i++
			lines = append(lines, i+1)
		case c == 0xe2 && i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xa8 || src[i+2] == 0xa9):
			i += 2
			lines = append(lines, i+1)
		}
	}
	return lines
}

// offset converts a node's 1-based line and column (in characters) to a byte offset.
func (f *yfile) offset(line, col int) (int, error) {
	if line < 1 || line > len(f.lines) || col < 1 {
		return 0, fmt.Errorf("%s:%d: position out of range", f.path, line)
	}
	off := f.lines[line-1]
	for c := 1; c < col; c++ {
		if off >= len(f.src) {
			return 0, fmt.Errorf("%s:%d: column %d out of range", f.path, line, col)
		}
		_, w := utf8.DecodeRune(f.src[off:])
		off += w
	}
	return off, nil
}

// lineOf returns the 1-based line of a byte offset.
func (f *yfile) lineOf(off int) int {
	return sort.Search(len(f.lines), func(i int) bool { return f.lines[i] > off })
}

func isEmptyNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "" && n.Tag == "!!null" && n.Style == 0
}

// unsupportedError is a field ferry will not splice into (block scalars, multi-line plain
// scalars).
func (f *yfile) unsupported(n *yaml.Node, why string) error {
	return fmt.Errorf("%s:%d: cannot rewrite this value in place: %s; write it as a one-line plain or quoted scalar", f.path, n.Line, why)
}

// span returns the byte range of a scalar's token (quotes included, anchor and tag excluded).
func (f *yfile) span(n *yaml.Node) (start, end int, err error) {
	if n.Kind != yaml.ScalarNode {
		return 0, 0, fmt.Errorf("%s:%d: not a scalar", f.path, n.Line)
	}
	off, err := f.offset(n.Line, n.Column)
	if err != nil {
		return 0, 0, err
	}
	src := f.src
	// Skip anchor (&a) and tag (!!str) properties.
	for off < len(src) && (src[off] == '&' || src[off] == '!') {
		for off < len(src) && !isSpaceOrBreak(src[off]) {
			off++
		}
		for off < len(src) && isSpaceOrBreak(src[off]) {
			off++
		}
	}
	if off >= len(src) {
		return 0, 0, f.unsupported(n, "value not found")
	}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		if src[off] != '"' {
			return 0, 0, f.unsupported(n, "quote not found")
		}
		for i := off + 1; i < len(src); i++ {
			switch src[i] {
			case '\\':
				i++
			case '"':
				return off, i + 1, nil
			}
		}
		return 0, 0, f.unsupported(n, "unterminated quoted scalar")
	case n.Style&yaml.SingleQuotedStyle != 0:
		if src[off] != '\'' {
			return 0, 0, f.unsupported(n, "quote not found")
		}
		for i := off + 1; i < len(src); i++ {
			if src[i] == '\'' {
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				return off, i + 1, nil
			}
		}
		return 0, 0, f.unsupported(n, "unterminated quoted scalar")
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, 0, f.unsupported(n, "block scalar")
	}
	end = off + len(n.Value)
	if n.Value == "" || end > len(src) || string(src[off:end]) != n.Value {
		return 0, 0, f.unsupported(n, "multi-line plain scalar")
	}
	return off, end, nil
}

func isSpaceOrBreak(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// afterColon returns the offset just after the ':' that follows a mapping key.
func (f *yfile) afterColon(key *yaml.Node) (int, error) {
	_, end, err := f.span(key)
	if err != nil {
		return 0, err
	}
	for i := end; i < len(f.src); i++ {
		switch f.src[i] {
		case ' ', '\t':
		case ':':
			return i + 1, nil
		default:
			return 0, f.unsupported(key, "no ':' after the key")
		}
	}
	return 0, f.unsupported(key, "no ':' after the key")
}

// propertiesAt reports whether an anchor or tag (`&a`, `!t`, `!`) follows off on its line.
func (f *yfile) propertiesAt(off int) bool {
	for i := off; i < len(f.src); i++ {
		switch f.src[i] {
		case ' ', '\t':
		case '&', '!':
			return true
		default:
			return false
		}
	}
	return false
}

// valueEnd returns the byte offset just past a pair's value (for an empty value, past the
// key's colon).
func (f *yfile) valueEnd(key, val *yaml.Node) (int, error) {
	if isEmptyNull(val) {
		return f.afterColon(key)
	}
	_, end, err := f.span(val)
	return end, err
}

// blockEnd returns the offset just past the last line of a block scalar or a multi-line plain
// scalar (the value of key, or an item of the block sequence seq when key is nil), found by
// indentation: its lines are those after the first that are blank or indented more than the
// parent (the key, the sequence's dashes, or else the line holding the scalar). The item may
// start on the line after its dash, so the dashes' column is the one that counts. Trailing
// blank lines belong to it only under keep chomping (`|+`), where they are part of the value.
func (f *yfile) blockEnd(key, seq, n *yaml.Node) (int, error) {
	start, err := f.offset(n.Line, n.Column)
	if err != nil {
		return 0, err
	}
	headEnd := f.lineEnd(start)
	parent := 0
	switch {
	case key != nil:
		parent = key.Column - 1
	case seq != nil:
		parent = seq.Column - 1
	default:
		ls := f.lines[n.Line-1]
		parent = len(f.src[ls:start]) - len(bytes.TrimLeft(f.src[ls:start], " "))
	}
	keep := false
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		head := f.src[start:headEnd]
		if i := bytes.IndexAny(head, "|>"); i >= 0 {
			ind := head[i+1:]
			if j := bytes.IndexAny(ind, " \t#"); j >= 0 {
				ind = ind[:j]
			}
			keep = bytes.IndexByte(ind, '+') >= 0
		}
	}
	last := headEnd
	for l := n.Line + 1; l <= len(f.lines); l++ {
		s := f.lines[l-1]
		line := f.src[s:f.lineEnd(s)]
		if len(bytes.TrimLeft(line, " \t")) == 0 {
			if keep {
				last = s + len(line)
			}
			continue
		}
		if len(line)-len(bytes.TrimLeft(line, " ")) <= parent {
			break
		}
		last = s + len(line)
	}
	return last, nil
}

// lineEnd returns the offset of the line break ending the line that holds off (or len(src)).
func (f *yfile) lineEnd(off int) int {
	for i := off; i < len(f.src); i++ {
		if f.src[i] == '\n' || f.src[i] == '\r' {
			return i
		}
	}
	return len(f.src)
}

// nextLine returns the offset of the line after the one holding off, or len(src).
func (f *yfile) nextLine(off int) int {
	l := f.lineOf(off)
	if l < len(f.lines) {
		return f.lines[l]
	}
	return len(f.src)
}

// render writes v in n's quoting style. A plain scalar whose new value would read as
// something other than a string (1.10, true) is double-quoted instead.
func render(n *yaml.Node, v string) string {
	switch {
	case n != nil && n.Style&yaml.DoubleQuotedStyle != 0:
		return strconv.Quote(v)
	case n != nil && n.Style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	if plainSafe(v) {
		return v
	}
	return strconv.Quote(v)
}

var plainRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_/][A-Za-z0-9_./:@+=-]*$`) })

// plainSafe reports whether v, written plain, reads back as the string v in block and flow
// context.
func plainSafe(v string) bool {
	if !plainRE().MatchString(v) || strings.HasSuffix(v, ":") {
		return false
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("["+v+"]"), &n); err != nil || len(n.Content) != 1 {
		return false
	}
	seq := n.Content[0]
	return len(seq.Content) == 1 && seq.Content[0].Tag == "!!str" && seq.Content[0].Value == v
}

// edit replaces src[start:end] with text; inserts have start == end and keep their order.
// adds marks an insert of new entries (lines, flow pairs or items): at one offset it goes
// after the edits that fill in a value there.
type edit struct {
	start, end int
	text       string
	adds       bool
}

// applyEdits splices edits into src. Overlapping edits are an internal error.
func applyEdits(path string, src []byte, edits []edit) ([]byte, error) {
	// At one offset, a value filled in goes before the entries added after it: new lines
	// (both land at the end of a file with no final newline: `digest:` then a new `tag:`
	// line) or new pairs of a flow mapping (`{digest: }` then `, tag: …`).
	sort.SliceStable(edits, func(i, j int) bool {
		if edits[i].start != edits[j].start {
			return edits[i].start < edits[j].start
		}
		if edits[i].end != edits[j].end {
			return edits[i].end < edits[j].end
		}
		return !edits[i].adds && edits[j].adds
	})
	var out bytes.Buffer
	out.Grow(len(src) + 256)
	pos := 0
	for _, e := range edits {
		if e.start < pos || e.end < e.start || e.end > len(src) {
			return nil, fmt.Errorf("%s: overlapping edits at byte %d", path, e.start)
		}
		out.Write(src[pos:e.start])
		out.WriteString(e.text)
		pos = e.end
	}
	out.Write(src[pos:])
	return out.Bytes(), nil
}
