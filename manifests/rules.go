package manifests

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// fileCtx applies the rules to one parsed file. In find mode it records what the file holds;
// otherwise it plans edits.
type fileCtx struct {
	r    *run
	f    *yfile
	kust bool
	// markersOnly: the file is covered by a kustomization, so only markers, explicit fields
	// and values (HelmRelease, Argo CD) report values (Find).
	markersOnly bool
	// values: every document is a Helm values tree (the string form of Argo CD's
	// helm.values).
	values  bool
	claimed map[*yaml.Node]bool // fields a marker or an explicit field decided
	done    map[*yaml.Node]bool // fields already edited or reported
	edits   []edit
	changes []Change
	refs    []Ref
	err     error
}

func newFileCtx(r *run, f *yfile, kust bool) *fileCtx {
	return &fileCtx{r: r, f: f, kust: kust, claimed: map[*yaml.Node]bool{}, done: map[*yaml.Node]bool{}}
}

func (fc *fileCtx) fail(err error) {
	if fc.err == nil {
		fc.err = err
	}
}

// process runs every rule over every document of the file, markers and explicit fields
// first so that they take precedence over repository matching.
func (fc *fileCtx) process() error {
	for _, doc := range fc.f.docs {
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		walk(root, "", func(_, key, val *yaml.Node, p string) bool {
			fc.marker(key, val, p)
			return true
		})
		fc.fields(root, "")
		switch {
		case fc.markersOnly:
			// kustomize's images transformer sets containers only: values stay effective.
			if isObject(root) {
				fc.objectValues(root)
			}
		case fc.kust:
			fc.kustomization(root)
		case isObject(root) && !fc.values:
			fc.workloads(root, "")
			fc.objectValues(root)
		default:
			fc.helmValues(root, "")
		}
	}
	return fc.err
}

// fields applies the explicit fields whose glob takes this file to the tree at root, whose
// own path is p (for a values tree inside a document).
func (fc *fileCtx) fields(root *yaml.Node, p string) {
	base := path.Base(fc.f.path)
	for _, w := range fc.r.imgs {
		for _, fd := range w.fields {
			if fd.files != "" {
				if ok, _ := path.Match(fd.files, base); !ok {
					continue
				}
			}
			if key, n := resolveField(root, fd.segs); n != nil && n.Kind == yaml.ScalarNode && !fc.claimed[n] {
				fc.claimed[n] = true
				fc.part(key, n, joinPath(p, fd.path), w, fd.part)
			}
		}
	}
}

// valuesTree applies the Helm values rules (explicit fields, then image keys) to a values
// tree inside a document, at path p.
func (fc *fileCtx) valuesTree(root *yaml.Node, p string) {
	if root == nil {
		return
	}
	if root.Kind == yaml.MappingNode {
		fc.fields(root, p)
	}
	fc.helmValues(root, p)
}

// objectValues applies the Helm values rules where a Kubernetes object carries values: a
// Flux HelmRelease's spec.values, and Argo CD Applications and ApplicationSets.
func (fc *fileCtx) objectValues(root *yaml.Node) {
	kind := mapValue(root, "kind")
	if kind == nil {
		return
	}
	switch kind.Value {
	case "HelmRelease":
		if vals := mapValue(mapValue(root, "spec"), "values"); vals != nil {
			fc.helmValues(vals, "spec.values")
		}
	case "Application", "ApplicationSet":
		if api := mapValue(root, "apiVersion"); api != nil && strings.HasPrefix(api.Value, "argoproj.io/") {
			fc.argo(root, kind.Value)
		}
	}
}

// walk calls fn for every mapping pair (key set) and sequence item (key nil) under n, with
// the dotted path of the value, following aliases once. fn returns whether to descend.
func walk(n *yaml.Node, p string, fn func(parent, key, val *yaml.Node, p string) bool) {
	seen := map[*yaml.Node]bool{}
	var rec func(n *yaml.Node, p string)
	rec = func(n *yaml.Node, p string) {
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil || seen[n.Alias] {
				return
			}
			seen[n.Alias] = true
			n = n.Alias
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				vp := joinPath(p, k.Value)
				if v.Kind == yaml.AliasNode && v.Alias != nil && v.Alias.Kind == yaml.ScalarNode {
					v = v.Alias
				}
				if fn(n, k, v, vp) {
					rec(v, vp)
				}
			}
		case yaml.SequenceNode:
			for i, v := range n.Content {
				vp := p + "[" + strconv.Itoa(i) + "]"
				if v.Kind == yaml.AliasNode && v.Alias != nil && v.Alias.Kind == yaml.ScalarNode {
					v = v.Alias
				}
				if fn(n, nil, v, vp) {
					rec(v, vp)
				}
			}
		}
	}
	rec(n, p)
}

func joinPath(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

// mapPair returns the index in m.Content of key k, or -1.
func mapPair(m *yaml.Node, k string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == k {
			return i
		}
	}
	return -1
}

func mapValue(m *yaml.Node, k string) *yaml.Node {
	i := mapPair(m, k)
	if i < 0 {
		return nil
	}
	v := m.Content[i+1]
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	return v
}

func isObject(root *yaml.Node) bool {
	return root.Kind == yaml.MappingNode && mapPair(root, "apiVersion") >= 0 && mapPair(root, "kind") >= 0
}

// marker handles a `# {"$imagepolicy": …}` or `# {"$ferry": …}` comment on a scalar.
func (fc *fileCtx) marker(key, n *yaml.Node, p string) {
	if n.Kind != yaml.ScalarNode {
		return
	}
	c := n.LineComment
	if c == "" && key != nil {
		c = key.LineComment
	}
	if !strings.Contains(c, `"$`) {
		return
	}
	name, ok := parseMarker(c)
	if !ok {
		return
	}
	fc.claimed[n] = true
	w, part := fc.r.resolveMarker(name)
	if w == nil {
		return // a marker naming no wanted image: left alone
	}
	fc.part(key, n, p, w, part)
}

// parseMarker reads the marker name from a setter comment.
func parseMarker(c string) (string, bool) {
	c = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c), "#"))
	if !strings.HasPrefix(c, "{") {
		return "", false
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(c), &m); err != nil {
		return "", false
	}
	for _, k := range []string{"$ferry", "$imagepolicy"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s, true
		}
	}
	return "", false
}

// part rewrites a field bound to w by a marker or an explicit field.
func (fc *fileCtx) part(key, n *yaml.Node, p string, w *wanted, part string) {
	if fc.done[n] {
		return
	}
	cur := n.Value
	repo, tag, digest := splitRef(cur)
	matched := validRefValue(tag, digest) && fc.r.norm(repo) != "" &&
		(fc.r.norm(repo) == w.key || fc.r.norm(repo) == w.newKey)
	if fc.r.find {
		ref := Ref{Image: w.id, File: fc.f.path, Line: n.Line, Field: p}
		switch part {
		case partRef:
			ref.Repository, ref.Tag, ref.Digest = repo, tag, digest
		case partName:
			ref.Repository = cur
		case partTag:
			ref.Tag = cur
		case partDigest:
			ref.Digest = cur
		}
		fc.done[n] = true
		fc.refs = append(fc.refs, ref)
		return
	}
	var v string
	switch part {
	case partRef:
		if !matched {
			repo, tag, digest = w.img.Repository, "", ""
			if r2, t2, d2 := splitRef(cur); validRefValue(t2, d2) && fc.r.norm(r2) != "" {
				tag, digest = t2, d2
			}
		}
		v = w.ref(repo, tag, digest)
	case partName:
		switch {
		case w.img.NewName != "":
			v = w.img.NewName
		case matched && tag == "" && digest == "":
			v = cur
		default:
			v = w.img.Repository
		}
	case partTag:
		v = w.img.Tag
	case partDigest:
		v = w.img.Digest
	}
	if v == "" {
		return
	}
	fc.setScalar(key, n, v, p, w)
}

// ref is what w writes over a reference currently spelled repo:tag@digest.
func (w *wanted) ref(repo, tag, digest string) string {
	if w.img.NewName != "" {
		repo = w.img.NewName
	}
	if w.tag != "" || w.digest != "" {
		tag, digest = w.tag, w.digest
	}
	return formatRef(repo, tag, digest)
}

// set plans writing v into the scalar n (the value of key, when in a mapping). It returns
// the line of the edit and whether there is one.
func (fc *fileCtx) set(key, n *yaml.Node, v string) (int, bool) {
	if fc.done[n] {
		return 0, false
	}
	fc.done[n] = true
	if n.Value == v && !(isEmptyNull(n) && v != "") {
		return 0, false
	}
	if isEmptyNull(n) {
		if v == "" {
			return 0, false
		}
		if key == nil {
			fc.fail(fc.f.unsupported(n, "empty value outside a mapping"))
			return 0, false
		}
		off, err := fc.f.afterColon(key)
		if err != nil {
			fc.fail(err)
			return 0, false
		}
		if n.Anchor != "" || n.Tag != "" && n.Style&yaml.TaggedStyle != 0 || fc.f.propertiesAt(off) {
			// Filling it in would also change every alias of it, and the value would have to
			// go after the anchor or tag (`version: &v`, `version: !`).
			fc.fail(fc.f.unsupported(n, "empty value with an anchor or tag"))
			return 0, false
		}
		fc.edits = append(fc.edits, edit{start: off, end: off, text: " " + render(nil, v)})
		return key.Line, true
	}
	start, end, err := fc.f.span(n)
	if err != nil {
		fc.fail(err)
		return 0, false
	}
	fc.edits = append(fc.edits, edit{start: start, end: end, text: render(n, v)})
	return n.Line, true
}

// setScalar plans writing v into n and records it as one change.
func (fc *fileCtx) setScalar(key, n *yaml.Node, v, p string, w *wanted) {
	from := n.Value
	if line, ok := fc.set(key, n, v); ok {
		fc.change(line, p, from, v, w)
	}
}

func (fc *fileCtx) change(line int, p, from, to string, w *wanted) {
	fc.changes = append(fc.changes, Change{
		Environment: fc.r.env, Image: w.label, File: fc.f.path, Line: line, Field: p, From: from, To: to,
	})
}

// lineNote keeps the smallest line of a group of edits.
type lineNote int

func (l *lineNote) note(line int, ok bool) {
	if ok && (*l == 0 || lineNote(line) < *l) {
		*l = lineNote(line)
	}
}

// plainRef handles an unmarked scalar that may hold a whole reference.
func (fc *fileCtx) plainRef(key, n *yaml.Node, p string) {
	if n.Kind != yaml.ScalarNode || fc.claimed[n] || fc.done[n] {
		return
	}
	repo, tag, digest := splitRef(n.Value)
	if !validRefValue(tag, digest) {
		return
	}
	if w := fc.r.match(repo); w != nil {
		fc.refScalar(key, n, p, w, repo, tag, digest, "")
	}
}

// refScalar reports (Find) or rewrites the scalar n holding w's reference repo:tag@digest
// behind prefix.
func (fc *fileCtx) refScalar(key, n *yaml.Node, p string, w *wanted, repo, tag, digest, prefix string) {
	if fc.r.find {
		fc.done[n] = true
		fc.refs = append(fc.refs, Ref{Image: w.id, File: fc.f.path, Line: n.Line, Field: p, Repository: repo, Tag: tag, Digest: digest})
		return
	}
	fc.setScalar(key, n, prefix+w.ref(repo, tag, digest), p, w)
}

// workloads rewrites container images in a Kubernetes object, wherever a containers,
// initContainers or ephemeralContainers list appears (pod templates in any kind).
func (fc *fileCtx) workloads(root *yaml.Node, p string) {
	walk(root, p, func(_, key, val *yaml.Node, vp string) bool {
		if key == nil || val.Kind != yaml.SequenceNode {
			return true
		}
		switch key.Value {
		case "containers", "initContainers", "ephemeralContainers":
		default:
			return true
		}
		for i, c := range val.Content {
			if j := mapPair(c, "image"); j >= 0 {
				fc.plainRef(c.Content[j], c.Content[j+1], fmt.Sprintf("%s[%d].image", vp, i))
			}
		}
		return true
	})
}

// helmValues rewrites a values tree: any key ending in "image" holding a reference string
// or a {registry, repository, tag, digest} map.
func (fc *fileCtx) helmValues(root *yaml.Node, p string) {
	walk(root, p, func(_, key, val *yaml.Node, vp string) bool {
		if key == nil || !strings.HasSuffix(strings.ToLower(key.Value), "image") {
			return true
		}
		switch val.Kind {
		case yaml.ScalarNode:
			fc.plainRef(key, val, vp)
		case yaml.MappingNode:
			fc.helmMap(val, vp)
		}
		return true
	})
}

// imageFields are the fields of a Helm image map, each a key and its value (nil when absent),
// and how to add a tag to the map. Values maps and Argo CD's helm.parameters both have them.
type imageFields struct {
	line                              int // where the map starts, for errors
	registry, repository, tag, digest [2]*yaml.Node
	addTag                            func(v string) (int, bool)
}

// helmMap handles image: {registry?, repository, tag?, digest?}.
func (fc *fileCtx) helmMap(m *yaml.Node, p string) {
	at := func(k string, follow bool) [2]*yaml.Node {
		i := mapPair(m, k)
		if i < 0 {
			return [2]*yaml.Node{}
		}
		if follow {
			return [2]*yaml.Node{m.Content[i], mapValue(m, k)}
		}
		return [2]*yaml.Node{m.Content[i], m.Content[i+1]}
	}
	fc.imageMap(imageFields{
		line: m.Line, registry: at("registry", true), repository: at("repository", true),
		tag: at("tag", false), digest: at("digest", false),
		addTag: func(v string) (int, bool) { return fc.insertPairs(m, []kv{{"tag", v}}) },
	}, p)
}

// imageMap applies the Helm image map rule to the fields of one map.
func (fc *fileCtx) imageMap(im imageFields, p string) {
	repoN, regN, tagN, digN := im.repository[1], im.registry[1], im.tag[1], im.digest[1]
	if repoN == nil || repoN.Kind != yaml.ScalarNode || repoN.Value == "" {
		return
	}
	if regN != nil && regN.Kind != yaml.ScalarNode {
		return
	}
	spelled := repoN.Value
	if regN != nil && regN.Value != "" {
		spelled = strings.TrimSuffix(regN.Value, "/") + "/" + repoN.Value
	}
	if r, t, d := splitRef(spelled); r != spelled || t != "" || d != "" {
		return
	}
	// A map with a field bound by a marker is left to its markers, as Flux's setters do: the
	// map rule would otherwise add a tag on the next run to a map whose repository a marker
	// had just filled in.
	for _, n := range []*yaml.Node{repoN, regN, tagN, digN} {
		if n != nil && fc.claimed[n] {
			return
		}
	}
	w := fc.r.match(spelled)
	if w == nil {
		return
	}
	curTag, curDigest := "", ""
	if tagN != nil {
		if tagN.Kind != yaml.ScalarNode {
			return
		}
		curTag = tagN.Value
	}
	if digN != nil {
		if digN.Kind != yaml.ScalarNode {
			return
		}
		curDigest = digN.Value
	} else if t, d, ok := strings.Cut(curTag, "@"); ok {
		curTag, curDigest = t, d
	}
	if fc.r.find {
		line := repoN.Line
		if tagN != nil {
			line = tagN.Line
		}
		fc.refs = append(fc.refs, Ref{Image: w.id, File: fc.f.path, Line: line, Field: p, Repository: spelled, Tag: curTag, Digest: curDigest})
		return
	}
	var line lineNote
	defer func() {
		if line > 0 {
			fc.change(int(line), p, formatRef(spelled, curTag, curDigest), w.ref(spelled, curTag, curDigest), w)
		}
	}()
	if nn := w.img.NewName; nn != "" {
		if regN != nil {
			host, rp := splitHost(nn)
			line.note(fc.set(im.registry[0], regN, host))
			line.note(fc.set(im.repository[0], repoN, rp))
		} else {
			line.note(fc.set(im.repository[0], repoN, nn))
		}
	}
	t, d := w.tag, w.digest
	if t == "" && d == "" {
		return
	}
	if digN != nil {
		if t != "" && tagN != nil {
			line.note(fc.set(im.tag[0], tagN, t))
		} else if t != "" && tagN == nil {
			line.note(im.addTag(t))
		}
		if d != "" || digN.Value != "" {
			line.note(fc.set(im.digest[0], digN, d))
		}
		return
	}
	if t == "" {
		fc.fail(fmt.Errorf("%s:%d: %s: this Helm image map has no digest key, so pin digest cannot be written; add `digest:` to the map or use pin tag+digest", fc.f.path, im.line, p))
		return
	}
	v := t
	if d != "" {
		v = t + "@" + d
	}
	if tagN == nil {
		line.note(im.addTag(v))
	} else {
		line.note(fc.set(im.tag[0], tagN, v))
	}
}

type kv struct{ k, v string }

// nodeEnd returns the byte offset just past n (key is n's mapping key, for empty values).
func (f *yfile) nodeEnd(key, n *yaml.Node) (int, error) { return f.nodeEndIn(key, nil, n) }

// nodeEndIn is nodeEnd for n in its parent: the mapping key, or else seq, the block sequence
// n is an item of (nil: none known).
func (f *yfile) nodeEndIn(key, seq, n *yaml.Node) (int, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return f.blockEnd(key, seq, n)
		}
		if key != nil && isEmptyNull(n) {
			return f.afterColon(key)
		}
		_, end, err := f.span(n)
		if err != nil && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			return f.blockEnd(key, seq, n) // a multi-line plain scalar
		}
		return end, err
	case yaml.AliasNode:
		off, err := f.offset(n.Line, n.Column)
		return off + 1 + len(n.Value), err
	case yaml.MappingNode, yaml.SequenceNode:
		end := 0
		if len(n.Content) > 0 {
			var k, in *yaml.Node
			last := n.Content[len(n.Content)-1]
			switch {
			case n.Kind == yaml.MappingNode:
				k = n.Content[len(n.Content)-2]
			case n.Style&yaml.FlowStyle == 0:
				in = n
			}
			e, err := f.nodeEndIn(k, in, last)
			if err != nil {
				return 0, err
			}
			end = e
		} else {
			off, err := f.offset(n.Line, n.Column)
			if err != nil {
				return 0, err
			}
			end = off + 1
		}
		if n.Style&yaml.FlowStyle == 0 {
			return end, nil
		}
		closer := byte('}')
		if n.Kind == yaml.SequenceNode {
			closer = ']'
		}
		for i := end; i < len(f.src); i++ {
			switch c := f.src[i]; c {
			case closer:
				return i + 1, nil
			case '#':
				i = f.lineEnd(i)
			case ' ', '\t', '\r', '\n', ',':
			default:
				return 0, f.unsupported(n, "flow collection end not found")
			}
		}
		return 0, f.unsupported(n, "flow collection end not found")
	}
	return 0, f.unsupported(n, "unexpected node")
}

// insertPairs plans adding keys at the end of mapping m, in m's style. It returns the line
// the first new key lands on.
func (fc *fileCtx) insertPairs(m *yaml.Node, kvs []kv) (int, bool) {
	f := fc.f
	if len(m.Content) == 0 {
		fc.fail(f.unsupported(m, "empty mapping"))
		return 0, false
	}
	end, err := f.nodeEnd(m.Content[len(m.Content)-2], m.Content[len(m.Content)-1])
	if err != nil {
		fc.fail(err)
		return 0, false
	}
	var text strings.Builder
	if m.Style&yaml.FlowStyle != 0 {
		for _, e := range kvs {
			text.WriteString(", " + e.k + ": " + render(nil, e.v))
		}
		fc.edits = append(fc.edits, edit{start: end, end: end, text: text.String(), adds: true})
		return f.lineOf(end), true
	}
	lines := make([]string, len(kvs))
	indent := strings.Repeat(" ", m.Content[0].Column-1)
	for i, e := range kvs {
		lines[i] = indent + e.k + ": " + render(nil, e.v)
	}
	return fc.insertLines(end, lines), true
}

// insertLines plans new lines after the line holding off, keeping the file's line endings
// and a missing final line break. It returns the line number of the first new line.
func (fc *fileCtx) insertLines(off int, lines []string) int {
	f := fc.f
	at := f.nextLine(off)
	noBreak := at == len(f.src) && len(f.src) > 0 && f.src[len(f.src)-1] != '\n' && f.src[len(f.src)-1] != '\r'
	var text strings.Builder
	for _, l := range lines {
		if noBreak {
			text.WriteString(f.eol + l)
		} else {
			text.WriteString(l + f.eol)
		}
	}
	fc.edits = append(fc.edits, edit{start: at, end: at, text: text.String(), adds: true})
	line := f.lineOf(at)
	if noBreak {
		line++
	}
	return line
}

// deletePair plans removing the pair at m.Content[i]. Where the pair cannot be cut out
// cleanly, its value is emptied instead ("" means unset to kustomize and charts alike).
func (fc *fileCtx) deletePair(m *yaml.Node, i int) (int, bool) {
	f := fc.f
	key, val := m.Content[i], m.Content[i+1]
	if fc.done[val] || fc.claimed[val] {
		return 0, false
	}
	start, _, err := f.span(key)
	if err != nil {
		fc.fail(err)
		return 0, false
	}
	vend, err := f.valueEnd(key, val)
	if err != nil {
		fc.fail(err)
		return 0, false
	}
	from, to := -1, -1
	lineStart := f.lines[f.lineOf(start)-1]
	switch {
	case m.Style&yaml.FlowStyle != 0 && i > 0:
		if pe, err := f.nodeEnd(m.Content[i-2], m.Content[i-1]); err == nil {
			from, to = pe, vend
		}
	case m.Style&yaml.FlowStyle != 0 || strings.TrimLeft(string(f.src[lineStart:start]), " ") != "":
		if i+2 < len(m.Content) {
			if ns, _, err := f.span(m.Content[i+2]); err == nil {
				from, to = start, ns
			}
		}
	case f.lineOf(vend) == f.lineOf(start) && strings.TrimSpace(commentless(f.src[vend:f.lineEnd(vend)])) == "":
		from, to = lineStart, f.nextLine(vend)
		if to == len(f.src) && f.lineOf(vend) == len(f.lines) && from > 0 {
			// Last line with no final line break: take the preceding break instead.
			from = lineStart - 1
			if from > 0 && f.src[from] == '\n' && f.src[from-1] == '\r' {
				from--
			}
		}
	}
	if from < 0 {
		return fc.set(key, val, "")
	}
	fc.done[val] = true
	fc.edits = append(fc.edits, edit{start: from, end: to})
	return key.Line, true
}

func commentless(b []byte) string {
	s := string(b)
	if i := strings.Index(s, "#"); i >= 0 {
		s = s[:i]
	}
	return s
}

// fieldSeg is one step of an explicit field path: a key, or an index when index >= 0.
type fieldSeg struct {
	key   string
	index int
}

func parseFieldPath(p string) ([]fieldSeg, error) {
	if p == "" {
		return nil, fmt.Errorf("empty path")
	}
	var segs []fieldSeg
	for _, part := range strings.Split(p, ".") {
		key := part
		var idx []int
		if i := strings.IndexByte(part, '['); i >= 0 {
			key = part[:i]
			rest := part[i:]
			for rest != "" {
				j := strings.IndexByte(rest, ']')
				if rest[0] != '[' || j < 0 {
					return nil, fmt.Errorf("bad index in %q", part)
				}
				n, err := strconv.Atoi(rest[1:j])
				if err != nil || n < 0 {
					return nil, fmt.Errorf("bad index in %q", part)
				}
				idx = append(idx, n)
				rest = rest[j+1:]
			}
		}
		if key != "" {
			segs = append(segs, fieldSeg{key: key, index: -1})
		} else if len(idx) == 0 {
			return nil, fmt.Errorf("empty key in %q", p)
		}
		for _, n := range idx {
			segs = append(segs, fieldSeg{index: n})
		}
	}
	return segs, nil
}

// resolveField follows segs from root; it returns the final node and its mapping key.
func resolveField(root *yaml.Node, segs []fieldSeg) (key, n *yaml.Node) {
	n = root
	for _, s := range segs {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if s.index >= 0 {
			if n.Kind != yaml.SequenceNode || s.index >= len(n.Content) {
				return nil, nil
			}
			key, n = nil, n.Content[s.index]
			continue
		}
		i := mapPair(n, s.key)
		if i < 0 {
			return nil, nil
		}
		key, n = n.Content[i], n.Content[i+1]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return key, n
}
