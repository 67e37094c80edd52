package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ErrInvalid matches (errors.Is) every *Error: the config did not load.
var ErrInvalid = errors.New("invalid ferry.yaml")

// Error is one problem in a config file, at a line and key path.
type Error struct {
	File string
	Line int    // 1-based; 0 when unknown
	Path string // key path, e.g. images[0].policy.semver; "" for the whole file
	Msg  string
	Err  error // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// joinErrors sorts errs by line (stable) and joins them; nil when there are none.
func joinErrors(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// maxNodes bounds the work of one decode, so that aliases cannot blow it up.
const maxNodes = 200_000

// decoder turns a YAML node tree into Go values strictly, remembering the line of every key
// path it saw so that validation can point at them.
type decoder struct {
	file   string
	errs   []*Error
	lines  map[string]int // key path → line of the key (or of the list item)
	budget int
	over   bool
	bad    map[string]bool // key paths that already have an error
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, lines: map[string]int{}, budget: maxNodes, bad: map[string]bool{}}
}

// errorf records a decoding error and marks path bad, so that validation says nothing more
// about it.
func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.bad[path] = true
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// isBad reports whether path or one of its ancestors already has an error, so that one
// mistake is reported once.
func (d *decoder) isBad(path string) bool {
	for {
		if d.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

// has reports whether the key path was present in the file.
func (d *decoder) has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// line returns the line of path, or of its nearest present ancestor.
func (d *decoder) line(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return d.lines[""]
}

// parentPath strips the last key or index of a path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func childPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument reads the single YAML document in data.
func (d *decoder) parseDocument(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(0, "", "the file is empty; see docs/config.md for the keys it needs")
			return nil
		}
		d.syntaxError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(extra.Line, "", "more than one YAML document; ferry.yaml holds exactly one")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.syntaxError(err)
		return nil
	}
	if len(doc.Content) == 0 {
		d.errorf(doc.Line, "", "the file is empty; see docs/config.md for the keys it needs")
		return nil
	}
	root := doc.Content[0]
	d.lines[""] = root.Line
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		d.errorf(root.Line, "", "the file is empty; see docs/config.md for the keys it needs")
		return nil
	}
	return root
}

func (d *decoder) syntaxError(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if strings.HasPrefix(m[2], "did not find expected") {
			// yaml.v3 reports parser errors at the 0-based line of the unclosed construct.
			n++
		}
		d.errs = append(d.errs, &Error{File: d.file, Line: n, Msg: "invalid YAML: " + m[2], Err: err})
		return
	}
	d.errs = append(d.errs, &Error{File: d.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: "), Err: err})
}

// resolve follows aliases and spends the node budget; nil when the budget is spent.
func (d *decoder) resolve(n *yaml.Node, path string) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 100 {
			d.errorf(n.Line, path, "alias chain too long")
			return nil
		}
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	d.budget--
	if d.budget < 0 {
		if !d.over {
			d.over = true
			d.errorf(n.Line, path, "the document is too large (more than %d values after expanding aliases)", maxNodes)
		}
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what a node is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!bool":
			return "boolean " + n.Value
		case "!!int", "!!float":
			return "number " + n.Value
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%s %q", n.Tag, n.Value)
	}
	return "an unexpected node"
}

var (
	durationType        = reflect.TypeOf(time.Duration(0))
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	matchesType         = reflect.TypeOf(Matches(nil))
)

// decode sets v from n, recording errors with path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = d.resolve(n, path)
	if n == nil {
		return
	}
	if v.Kind() == reflect.Pointer {
		// A present key allocates its struct even when its value is null: newestBuild: {}.
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if isNull(n) {
		return
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshalerType) {
		s, ok := d.scalarText(n, path)
		if ok {
			if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
				d.errorf(n.Line, path, "%v", err)
			}
		}
		return
	}
	if v.Type() == matchesType {
		d.matches(n, v.Addr().Interface().(*Matches), path)
		return
	}
	if v.Type() == durationType {
		s, ok := d.scalarText(n, path)
		if !ok {
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(n.Line, path, "%q is not a duration; write it like 24h, 90m or 1h30m", s)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.String:
		if s, ok := d.scalarText(n, path); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.errorf(n.Line, path, "want true or false, got %s", describe(n))
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.errorf(n.Line, path, "want true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.errorf(n.Line, path, "want a number, got %s", describe(n))
			return
		}
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.errorf(n.Line, path, "want a finite number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n.Line, path, "want a list, got %s", describe(n))
			return
		}
		if len(n.Content) == 0 {
			return // an empty list is nil; the key's presence is still recorded
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			d.lines[ip] = item.Line
			d.decode(item, s.Index(i), ip)
		}
		v.Set(s)
	case reflect.Struct:
		d.mapping(n, v, path)
	default:
		panic(fmt.Sprintf("config: no decoding for %s at %s", v.Type(), path))
	}
}

// matches decodes a mapping of dotted paths to strings, keeping its order.
func (d *decoder) matches(n *yaml.Node, m *Matches, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "want a mapping of dotted predicate paths to values, got %s", describe(n))
		return
	}
	for _, p := range d.pairs(n, path, 0) {
		if p.key.Kind != yaml.ScalarNode || p.key.Tag == "!!null" {
			d.errs = append(d.errs, &Error{File: d.file, Line: p.key.Line, Path: path, Msg: "keys must be dotted paths, got " + describe(p.key)})
			continue
		}
		kp := childPath(path, p.key.Value)
		d.lines[kp] = p.key.Line
		val := d.resolve(p.val, kp)
		if val == nil {
			continue
		}
		if val.Kind == yaml.ScalarNode && val.Tag == "!!bool" {
			// true and false are what a predicate's booleans compare as.
			*m = append(*m, Match{Path: p.key.Value, Want: strings.ToLower(val.Value), Line: p.key.Line})
			continue
		}
		if s, ok := d.scalarText(val, kp); ok {
			*m = append(*m, Match{Path: p.key.Value, Want: s, Line: p.key.Line})
		}
	}
}

// scalarText returns the text of a scalar that may stand for a string. Numbers and timestamps
// are taken as written; booleans, lists and mappings are type errors.
func (d *decoder) scalarText(n *yaml.Node, path string) (string, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!str", "!!int", "!!float", "!!timestamp":
			return n.Value, true
		case "!!bool":
			d.errorf(n.Line, path, "want a string, got %s; quote it if you mean the text", describe(n))
			return "", false
		}
	}
	d.errorf(n.Line, path, "want a string, got %s", describe(n))
	return "", false
}

// pair is one key and value of a mapping.
type pair struct{ key, val *yaml.Node }

// pairs returns a mapping's pairs with merge keys (<<) expanded: explicit keys first, then
// merged keys not set explicitly, earlier merges winning. Duplicate explicit keys are errors.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) []pair {
	var explicit, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" && depth < 10 {
			m := d.resolve(val, path)
			if m == nil {
				continue
			}
			switch m.Kind {
			case yaml.MappingNode:
				merged = append(merged, d.pairs(m, path, depth+1)...)
			case yaml.SequenceNode:
				for _, item := range m.Content {
					if item = d.resolve(item, path); item != nil && item.Kind == yaml.MappingNode {
						merged = append(merged, d.pairs(item, path, depth+1)...)
					} else if item != nil {
						d.errorf(item.Line, path, "a merge (<<) takes a mapping or a list of mappings, got %s", describe(item))
					}
				}
			default:
				d.errorf(m.Line, path, "a merge (<<) takes a mapping or a list of mappings, got %s", describe(m))
			}
			continue
		}
		if k.Kind == yaml.ScalarNode {
			if first, dup := seen[k.Value]; dup {
				d.errorf(k.Line, childPath(path, k.Value), "duplicate key (first at line %d)", first)
				continue
			}
			seen[k.Value] = k.Line
		}
		explicit = append(explicit, pair{k, val})
	}
	for _, p := range merged {
		if p.key.Kind == yaml.ScalarNode {
			if _, dup := seen[p.key.Value]; dup {
				continue
			}
			seen[p.key.Value] = p.key.Line
		}
		explicit = append(explicit, p)
	}
	return explicit
}

// mapping decodes a mapping node into the struct v.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "want a mapping, got %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	for _, p := range d.pairs(n, path, 0) {
		if p.key.Kind != yaml.ScalarNode || p.key.Tag == "!!null" {
			// Not marked bad: the mapping's other keys still deserve checking.
			d.errs = append(d.errs, &Error{File: d.file, Line: p.key.Line, Path: path, Msg: "keys must be plain names, got " + describe(p.key)})
			continue
		}
		key := p.key.Value
		kp := childPath(path, key)
		idx, ok := fields.index[key]
		if !ok {
			d.errorf(p.key.Line, kp, "unknown key%s", suggest(key, fields.names))
			continue
		}
		d.lines[kp] = p.key.Line
		d.decode(p.val, v.Field(idx), kp)
	}
	if fields.line >= 0 {
		v.Field(fields.line).SetInt(int64(n.Line))
	}
}

// structFields is the decoding view of a struct type.
type structFields struct {
	index map[string]int // yaml key → field index
	names []string       // yaml keys in declaration order
	line  int            // index of the Line field, or -1
}

var fieldCache sync.Map // reflect.Type → *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{index: map[string]int{}, line: -1}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if tag == "-" {
			if sf.Name == "Line" && sf.Type.Kind() == reflect.Int {
				f.line = i
			}
			continue
		}
		if tag == "" || !sf.IsExported() {
			continue
		}
		f.index[tag] = i
		f.names = append(f.names, tag)
	}
	fieldCache.Store(t, f)
	return f
}

// suggest names the closest known key, or lists them all.
func suggest(key string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if strings.EqualFold(n, key) {
			return fmt.Sprintf(`; did you mean %q?`, n)
		}
		if dist := levenshtein(strings.ToLower(key), strings.ToLower(n)); dist < bestDist {
			best, bestDist = n, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(`; did you mean %q?`, best)
	}
	return "; want one of " + strings.Join(names, ", ")
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
