package manifests

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// argo applies the rules to an Argo CD Application or ApplicationSet: each source (spec.source
// and every spec.sources item; under spec.template.spec for an ApplicationSet).
func (fc *fileCtx) argo(root *yaml.Node, kind string) {
	spec, p := mapValue(root, "spec"), "spec"
	if kind == "ApplicationSet" {
		spec, p = mapValue(mapValue(spec, "template"), "spec"), "spec.template.spec"
	}
	if src := mapValue(spec, "source"); src != nil {
		fc.argoSource(src, p+".source")
	}
	if srcs := mapValue(spec, "sources"); srcs != nil && srcs.Kind == yaml.SequenceNode {
		for i, src := range srcs.Content {
			fc.argoSource(src, fmt.Sprintf("%s.sources[%d]", p, i))
		}
	}
}

// argoSource handles one source: helm.valuesObject, helm.values, helm.parameters and
// kustomize.images.
func (fc *fileCtx) argoSource(src *yaml.Node, p string) {
	if h := mapValue(src, "helm"); h != nil && h.Kind == yaml.MappingNode {
		if vo := mapValue(h, "valuesObject"); vo != nil && vo.Kind == yaml.MappingNode {
			fc.valuesTree(vo, p+".helm.valuesObject")
		}
		if v := mapValue(h, "values"); v != nil {
			fc.embeddedValues(v, p+".helm.values")
		}
		if i := mapPair(h, "parameters"); i >= 0 && h.Content[i+1].Kind == yaml.SequenceNode {
			fc.helmParams(h.Content[i], h.Content[i+1], p+".helm.parameters")
		}
	}
	if imgs := mapValue(mapValue(src, "kustomize"), "images"); imgs != nil && imgs.Kind == yaml.SequenceNode {
		for i, n := range imgs.Content {
			fc.kustomizeImageString(n, fmt.Sprintf("%s.kustomize.images[%d]", p, i))
		}
	}
}

// kustomizeImageString rewrites an image override in `kustomize edit set image` syntax:
// name=newName:tag@digest, or name:tag@digest (the name is then the repository).
func (fc *fileCtx) kustomizeImageString(n *yaml.Node, p string) {
	if n.Kind != yaml.ScalarNode || fc.claimed[n] || fc.done[n] {
		return
	}
	name, ref, renamed := strings.Cut(n.Value, "=")
	if !renamed {
		ref = n.Value
	}
	repo, tag, digest := splitRef(ref)
	if !validRefValue(tag, digest) {
		return
	}
	if !renamed {
		name = repo
	}
	w := fc.r.match(name)
	if w == nil {
		w = fc.r.match(repo)
	}
	if w == nil {
		return
	}
	prefix := ""
	if renamed || w.img.NewName != "" {
		prefix = name + "="
	}
	fc.refScalar(nil, n, p, w, repo, tag, digest, prefix)
}

// helmParams applies the Helm values rules to Argo CD's helm.parameters, whose items set one
// value each by its dotted path (name) to value: a parameter an explicit field's path names
// is that field; one whose name ends in "image" holds a whole reference; and the parameters
// <prefix>.registry, .repository, .tag and .digest are the fields of the image map <prefix>,
// so a .repository parameter naming the image decides its siblings (a missing .tag parameter
// is added at the end of the list).
func (fc *fileCtx) helmParams(pkey, seq *yaml.Node, p string) {
	groups := map[string]*imageFields{}
	var order []string
	broken := map[string]bool{}
	for i, item := range seq.Content {
		nameN := mapValue(item, "name")
		if nameN == nil || nameN.Kind != yaml.ScalarNode || nameN.Value == "" {
			continue
		}
		name := nameN.Value
		prefix, suffix := "", name
		if j := strings.LastIndexByte(name, '.'); j >= 0 {
			prefix, suffix = name[:j], name[j+1:]
		}
		vi := mapPair(item, "value")
		if vi < 0 {
			if suffix == "tag" {
				broken[prefix] = true // adding a tag parameter would make it a second one
			}
			continue
		}
		key, v := item.Content[vi], item.Content[vi+1]
		vp := fmt.Sprintf("%s[%d].value", p, i)
		if fc.paramField(name, key, v, vp) {
			continue
		}
		if strings.HasSuffix(strings.ToLower(name), "image") {
			fc.plainRef(key, v, vp)
			continue
		}
		g := groups[prefix]
		if g == nil {
			g = &imageFields{line: item.Line, addTag: fc.addParam(pkey, seq, prefix+".tag")}
			groups[prefix] = g
			order = append(order, prefix)
		}
		switch suffix {
		case "registry":
			g.registry = [2]*yaml.Node{key, v}
		case "repository":
			g.repository = [2]*yaml.Node{key, v}
		case "tag":
			g.tag = [2]*yaml.Node{key, v}
		case "digest":
			g.digest = [2]*yaml.Node{key, v}
		}
	}
	for _, prefix := range order {
		if !broken[prefix] && prefix != "" {
			fc.imageMap(*groups[prefix], p+"."+prefix)
		}
	}
}

// paramField applies the explicit fields whose path is a parameter's name to its value.
func (fc *fileCtx) paramField(name string, key, v *yaml.Node, vp string) bool {
	base := path.Base(fc.f.path)
	for _, w := range fc.r.imgs {
		for _, fd := range w.fields {
			if fd.path != name || fc.claimed[v] || v.Kind != yaml.ScalarNode {
				continue
			}
			if ok, _ := path.Match(fd.files, base); fd.files != "" && !ok {
				continue
			}
			fc.claimed[v] = true
			fc.part(key, v, vp, w, fd.part)
			return true
		}
	}
	return false
}

// addParam returns a func that appends the parameter {name, value} to the list seq.
func (fc *fileCtx) addParam(key, seq *yaml.Node, name string) func(v string) (int, bool) {
	return func(v string) (int, bool) {
		add := [][]kv{{{"name", name}, {"value", v}}}
		var at insertedEntries
		var err error
		if seq.Style&yaml.FlowStyle != 0 {
			at, err = fc.appendFlowEntries(seq, add)
		} else if len(seq.Content) > 0 {
			at, err = fc.appendBlockEntries(key, seq, add)
		}
		if err != nil {
			fc.fail(err)
			return 0, false
		}
		return at.first, at.first > 0
	}
}

// embeddedValues applies the Helm values rules to a string holding Helm values (Argo CD's
// helm.values). The string is parsed as YAML with its lines at their lines in the file, and
// the edits are spliced back inside the block scalar: only the changed scalars' bytes change,
// the block's header, indentation and chomping stay.
func (fc *fileCtx) embeddedValues(n *yaml.Node, p string) {
	if n.Kind != yaml.ScalarNode {
		return
	}
	mentions := fc.r.screen([]byte(n.Value))
	if !mentions && !fc.r.wantsFields(path.Base(fc.f.path)) {
		return
	}
	literal := n.Style&yaml.LiteralStyle != 0
	src := []byte(n.Value)
	if literal {
		src = append(bytes.Repeat([]byte("\n"), n.Line), src...)
	}
	sf, err := parseYAML(fc.f.path, src)
	if err != nil && (!mentions || bytes.Contains(src, []byte("{{"))) {
		return // as for a file: broken values that mention no wanted image, and templates, are skipped
	}
	if err != nil {
		fc.fail(fmt.Errorf("%w (in the Helm values string %s)", err, p))
		return
	}
	sub := newFileCtx(fc.r, sf, false)
	sub.values = true
	if err := sub.process(); err != nil {
		fc.fail(err)
		return
	}
	for _, c := range sub.changes {
		c.Field = joinPath(p, c.Field)
		fc.changes = append(fc.changes, c)
	}
	for _, ref := range sub.refs {
		ref.Field = joinPath(p, ref.Field)
		if !literal {
			ref.Line = n.Line
		}
		fc.refs = append(fc.refs, ref)
	}
	if len(sub.edits) == 0 {
		return
	}
	indent, ok := fc.f.literalIndent(n)
	if !literal || !ok {
		fc.fail(fc.f.unsupported(n, "Helm values in a string that is not a literal block scalar (`values: |`)"))
		return
	}
	if out, err := applyEdits(sf.path, sf.src, sub.edits); err != nil {
		fc.fail(err)
		return
	} else if _, err := parseYAML(sf.path, out); err != nil {
		fc.fail(fmt.Errorf("%s: the rewrite of the Helm values string %s would not parse (please report this ferry bug): %w", fc.f.path, p, err))
		return
	}
	for _, e := range sub.edits {
		m, err := fc.f.mapBlockEdit(sf, indent, e)
		if err != nil {
			fc.fail(err)
			return
		}
		fc.edits = append(fc.edits, m)
	}
}

// literalIndent returns the indentation of a literal block scalar's content lines, checking
// that every line of its value is its line in the file behind that many spaces.
func (f *yfile) literalIndent(n *yaml.Node) (int, bool) {
	indent := -1
	for k, l := range strings.Split(n.Value, "\n") {
		if l == "" {
			continue
		}
		ln := n.Line + 1 + k
		if ln > len(f.lines) {
			return 0, false
		}
		s := f.lines[ln-1]
		line := f.src[s:f.lineEnd(s)]
		ind := len(line) - len(l)
		if !bytes.HasSuffix(line, []byte(l)) || len(bytes.TrimLeft(line[:ind], " ")) != 0 || indent >= 0 && ind != indent {
			return 0, false
		}
		indent = ind
	}
	return indent, indent >= 0
}

// mapBlockEdit moves an edit of a block scalar's content (sf, parsed with its lines at their
// lines in f) to f: behind the block's indentation, with new lines indented and in f's line
// endings.
func (f *yfile) mapBlockEdit(sf *yfile, indent int, e edit) (edit, error) {
	l := sf.lineOf(e.start)
	col := e.start - sf.lines[l-1]
	if l > len(f.lines) {
		return edit{}, fmt.Errorf("%s:%d: cannot place an edit inside the block scalar", f.path, l)
	}
	pad := strings.Repeat(" ", indent)
	atLineStart := col == 0 && e.start == e.end
	segs := strings.Split(e.text, "\n")
	for i, s := range segs {
		if s != "" && (i > 0 || atLineStart) {
			segs[i] = pad + s
		}
	}
	text := strings.Join(segs, f.eol)
	if atLineStart {
		return edit{start: f.lines[l-1], end: f.lines[l-1], text: text, adds: e.adds}, nil
	}
	start := f.lines[l-1] + indent + col
	end, ok := f.blockOffset(sf, indent, e.end)
	if !ok || end < start || end > len(f.src) || !sameBlockBytes(f.src[start:end], sf.src[e.start:e.end], indent) {
		return edit{}, fmt.Errorf("%s:%d: cannot place an edit inside the block scalar", f.path, l)
	}
	return edit{start: start, end: end, text: text, adds: e.adds}, nil
}

// blockOffset maps an offset of a block scalar's content (sf) to f. A value may span lines
// (a quoted scalar with a line break), so its end is mapped on its own line: behind the
// block's indentation, except at the start of a line, which blank content lines may have
// without any indentation.
func (f *yfile) blockOffset(sf *yfile, indent, off int) (int, bool) {
	l := sf.lineOf(off)
	if l < 1 || l > len(f.lines) {
		return 0, false
	}
	col := off - sf.lines[l-1]
	if col == 0 {
		return f.lines[l-1], true
	}
	return f.lines[l-1] + indent + col, true
}

// sameBlockBytes reports whether got, bytes of f inside a block scalar, are want, the same
// bytes of its content: the lines after the first carry up to indent spaces of indentation,
// and f's line endings.
func sameBlockBytes(got, want []byte, indent int) bool {
	lines := bytes.Split(bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n")), []byte("\n"))
	for i := 1; i < len(lines); i++ {
		n := 0
		for n < indent && n < len(lines[i]) && lines[i][n] == ' ' {
			n++
		}
		lines[i] = lines[i][n:]
	}
	return bytes.Equal(bytes.Join(lines, []byte("\n")), want)
}
