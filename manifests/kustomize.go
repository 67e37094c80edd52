package manifests

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// kustomizationNames are the file names kustomize reads, in its order.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func isKustomization(p string) bool {
	b := path.Base(p)
	for _, n := range kustomizationNames {
		if b == n {
			return true
		}
	}
	return false
}

// kentryNodes is one item of a kustomization's images list.
type kentryNodes struct {
	m                             *yaml.Node
	name, newName, newTag, digest *yaml.Node
}

func readEntry(m *yaml.Node) (kentryNodes, bool) {
	e := kentryNodes{m: m}
	if m.Kind != yaml.MappingNode {
		return e, false
	}
	e.name, e.newName, e.newTag, e.digest = mapValue(m, "name"), mapValue(m, "newName"), mapValue(m, "newTag"), mapValue(m, "digest")
	for _, n := range []*yaml.Node{e.name, e.newName, e.newTag, e.digest} {
		if n != nil && n.Kind != yaml.ScalarNode {
			return e, false
		}
	}
	return e, e.name != nil && e.name.Value != ""
}

func val(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

// kustomization rewrites the matching entries of a kustomization's images list.
func (fc *fileCtx) kustomization(root *yaml.Node) {
	imgs := mapValue(root, "images")
	if imgs == nil || imgs.Kind != yaml.SequenceNode {
		return
	}
	for i, item := range imgs.Content {
		e, ok := readEntry(item)
		if !ok {
			continue
		}
		fc.kentry(e, fmt.Sprintf("images[%d]", i))
	}
}

func (fc *fileCtx) kentry(e kentryNodes, p string) {
	w := fc.r.match(e.name.Value)
	if w == nil && e.newName != nil {
		w = fc.r.match(e.newName.Value)
	}
	if w == nil {
		return
	}
	spelled := e.name.Value
	if e.newName != nil && e.newName.Value != "" {
		spelled = e.newName.Value
	}
	curTag, curDigest := val(e.newTag), val(e.digest)
	if fc.r.find {
		fc.refs = append(fc.refs, Ref{Image: w.id, File: fc.f.path, Line: e.name.Line, Field: p, Repository: spelled, Tag: curTag, Digest: curDigest})
		return
	}
	m := e.m
	var line lineNote
	var add []kv
	if nn := w.img.NewName; nn != "" {
		if e.newName != nil {
			if !fc.claimed[e.newName] {
				line.note(fc.set(m.Content[mapPair(m, "newName")], e.newName, nn))
			}
		} else {
			add = append(add, kv{"newName", nn})
		}
	}
	t, d := w.tag, w.digest
	switch {
	case t != "" && e.newTag != nil:
		if !fc.claimed[e.newTag] {
			line.note(fc.set(m.Content[mapPair(m, "newTag")], e.newTag, t))
		}
	case t != "":
		add = append(add, kv{"newTag", t})
	case d != "" && e.newTag != nil:
		line.note(fc.deletePair(m, mapPair(m, "newTag")))
	}
	switch {
	case d != "" && e.digest != nil:
		if !fc.claimed[e.digest] {
			line.note(fc.set(m.Content[mapPair(m, "digest")], e.digest, d))
		}
	case d != "":
		add = append(add, kv{"digest", d})
	case t != "" && e.digest != nil:
		line.note(fc.deletePair(m, mapPair(m, "digest")))
	}
	if len(add) > 0 {
		line.note(fc.insertPairs(m, add))
	}
	if line > 0 {
		fc.change(int(line), p, formatRef(spelled, curTag, curDigest), w.ref(spelled, curTag, curDigest), w)
	}
}

// kust is a parsed kustomization: its directory, file and resources.
type kust struct {
	dir, file string
	f         *yfile
	root      *yaml.Node
	entries   []kentryNodes
	resources []string // resolved paths inside the FS; remote and missing ones dropped
}

// loadKustomization reads the kustomization of dir (nil if there is none or it is unusable).
func (r *run) loadKustomization(dir string) *kust {
	if k, ok := r.kusts[dir]; ok {
		return k
	}
	r.kusts[dir] = nil
	for _, n := range kustomizationNames {
		p := path.Join(dir, n)
		if !r.isRegular(p) {
			continue
		}
		f, err := r.parse(p, true)
		if err != nil || f == nil {
			return nil
		}
		k := &kust{dir: dir, file: p, f: f}
		if len(f.docs) > 0 && len(f.docs[0].Content) > 0 && f.docs[0].Content[0].Kind == yaml.MappingNode {
			k.root = f.docs[0].Content[0]
		} else {
			return nil
		}
		if imgs := mapValue(k.root, "images"); imgs != nil && imgs.Kind == yaml.SequenceNode {
			for _, it := range imgs.Content {
				if e, ok := readEntry(it); ok {
					k.entries = append(k.entries, e)
				}
			}
		}
		for _, key := range []string{"resources", "bases", "components"} {
			seq := mapValue(k.root, key)
			if seq == nil || seq.Kind != yaml.SequenceNode {
				continue
			}
			for _, it := range seq.Content {
				if it.Kind != yaml.ScalarNode || isRemote(it.Value) {
					continue
				}
				rp := path.Join(dir, it.Value)
				if !fs.ValidPath(rp) {
					continue
				}
				k.resources = append(k.resources, rp)
			}
		}
		r.kusts[dir] = k
		return k
	}
	return nil
}

func isRemote(s string) bool {
	return strings.Contains(s, "://") || strings.Contains(s, "?") || strings.HasPrefix(s, "git@") ||
		strings.HasPrefix(s, "github.com/") || strings.HasPrefix(s, "gitlab.com/") || strings.HasPrefix(s, "bitbucket.org/")
}

// evalRef is an image a kustomize target outputs, after its kustomizations' images
// transforms, with where its value comes from.
type evalRef struct {
	spelled, tag, digest string
	file                 string
	line                 int
	field                string
}

// eval returns the images (of wanted repositories, or spelled as one of extra) that the
// kustomize target p — a directory with a kustomization, or a resource file — outputs.
func (r *run) eval(p string, extra map[string]bool, stack map[string]bool) []evalRef {
	if stack[p] {
		return nil
	}
	stack[p] = true
	defer delete(stack, p)
	if r.isDir(p) {
		k := r.loadKustomization(p)
		if k == nil {
			return nil
		}
		r.covered[p] = true
		childExtra, copied := extra, false
		for _, e := range k.entries {
			if nn := val(e.newName); nn != "" && (r.match(nn) != nil || extra[r.norm(nn)]) {
				if !copied {
					copied = true
					childExtra = map[string]bool{}
					for x := range extra {
						childExtra[x] = true
					}
				}
				childExtra[r.norm(e.name.Value)] = true
			}
		}
		var out []evalRef
		for _, rp := range k.resources {
			out = append(out, r.eval(rp, childExtra, stack)...)
		}
		for i, e := range k.entries {
			for j := range out {
				if out[j].spelled != e.name.Value {
					continue
				}
				changed := false
				if nn := val(e.newName); nn != "" {
					out[j].spelled, changed = nn, true
				}
				t, d := val(e.newTag), val(e.digest)
				if t != "" || d != "" {
					out[j].tag, out[j].digest, changed = t, d, true
				}
				if changed {
					out[j].file, out[j].line, out[j].field = k.file, e.name.Line, fmt.Sprintf("images[%d]", i)
				}
			}
		}
		return out
	}
	if !r.isRegular(p) {
		return nil
	}
	r.covered[p] = true
	f, err := r.parseScreened(p, extra)
	if err != nil || f == nil {
		return nil
	}
	var out []evalRef
	for _, doc := range f.docs {
		if len(doc.Content) == 0 || !isObject(doc.Content[0]) {
			continue
		}
		walk(doc.Content[0], "", func(_, key, v *yaml.Node, vp string) bool {
			if key == nil || v.Kind != yaml.SequenceNode {
				return true
			}
			switch key.Value {
			case "containers", "initContainers", "ephemeralContainers":
			default:
				return true
			}
			for i, c := range v.Content {
				img := mapValue(c, "image")
				if img == nil || img.Kind != yaml.ScalarNode {
					continue
				}
				repo, tag, digest := splitRef(img.Value)
				if !validRefValue(tag, digest) {
					continue
				}
				if n := r.norm(repo); n != "" && (r.byKey[n] != nil || extra[n]) {
					out = append(out, evalRef{spelled: repo, tag: tag, digest: digest, file: p, line: img.Line, field: fmt.Sprintf("%s[%d].image", vp, i)})
				}
			}
			return true
		})
	}
	return out
}

// overlayEntries adds an images entry to kustomization k (inside the environment's path)
// for every wanted image its resources outside the path use and it has no entry for.
func (r *run) overlayEntries(fc *fileCtx, k *kust) {
	have := map[string]bool{}
	extra := map[string]bool{}
	for _, e := range k.entries {
		have[e.name.Value] = true
		if nn := val(e.newName); nn != "" && r.match(nn) != nil {
			extra[r.norm(e.name.Value)] = true
		}
	}
	type add struct {
		w    *wanted
		from evalRef
	}
	var adds []add
	for _, rp := range k.resources {
		if r.inPath(rp) {
			continue
		}
		for _, ref := range r.eval(rp, extra, map[string]bool{}) {
			w := r.match(ref.spelled)
			if w == nil || have[ref.spelled] {
				continue
			}
			have[ref.spelled] = true
			adds = append(adds, add{w, ref})
		}
	}
	if len(adds) == 0 {
		return
	}
	sort.SliceStable(adds, func(i, j int) bool { return adds[i].from.spelled < adds[j].from.spelled })
	f := fc.f
	// The new entries, as lines (block style) or flow mappings.
	entryKVs := func(a add) []kv {
		kvs := []kv{{"name", a.from.spelled}}
		if a.w.img.NewName != "" {
			kvs = append(kvs, kv{"newName", a.w.img.NewName})
		}
		if a.w.tag != "" {
			kvs = append(kvs, kv{"newTag", a.w.tag})
		}
		if a.w.digest != "" {
			kvs = append(kvs, kv{"digest", a.w.digest})
		}
		return kvs
	}
	blockLines := func(dash, keys string) ([]string, []int) {
		var lines []string
		var starts []int
		for _, a := range adds {
			starts = append(starts, len(lines))
			for i, e := range entryKVs(a) {
				prefix := keys
				if i == 0 {
					prefix = dash + "- "
				}
				lines = append(lines, prefix+e.k+": "+render(nil, e.v))
			}
		}
		return lines, starts
	}
	n0 := 0
	var firstLine int
	var starts []int
	i := mapPair(k.root, "images")
	switch {
	case i < 0:
		if k.root.Style&yaml.FlowStyle != 0 || len(k.root.Content) == 0 {
			fc.fail(f.unsupported(k.root, "cannot add an images list to a flow-style or empty kustomization"))
			return
		}
		end, err := f.nodeEnd(k.root.Content[len(k.root.Content)-2], k.root.Content[len(k.root.Content)-1])
		if err != nil {
			fc.fail(err)
			return
		}
		indent := strings.Repeat(" ", k.root.Content[0].Column-1)
		dash := indent
		// Indent the new list as the file indents its other lists (resources:).
		for j := 1; j < len(k.root.Content); j += 2 {
			if v := k.root.Content[j]; v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
				dash = strings.Repeat(" ", v.Column-1)
				break
			}
		}
		lines, st := blockLines(dash, dash+"  ")
		lines = append([]string{indent + "images:"}, lines...)
		firstLine = fc.insertLines(end, lines) + 1
		starts = st
	default:
		key, seq := k.root.Content[i], k.root.Content[i+1]
		switch {
		case isEmptyNull(seq):
			off, err := f.afterColon(key)
			if err != nil {
				fc.fail(err)
				return
			}
			indent := strings.Repeat(" ", key.Column-1)
			lines, st := blockLines(indent, indent+"  ")
			fc.edits = append(fc.edits, edit{start: off, end: off, text: f.eol + strings.Join(lines, f.eol)})
			firstLine, starts = key.Line+1, st
		case seq.Kind == yaml.SequenceNode && seq.Style&yaml.FlowStyle != 0:
			end, err := f.nodeEnd(nil, seq)
			if err != nil {
				fc.fail(err)
				return
			}
			var text strings.Builder
			for j, a := range adds {
				if j > 0 || len(seq.Content) > 0 {
					text.WriteString(", ")
				}
				text.WriteString("{")
				for x, e := range entryKVs(a) {
					if x > 0 {
						text.WriteString(", ")
					}
					text.WriteString(e.k + ": " + render(nil, e.v))
				}
				text.WriteString("}")
				starts = append(starts, 0)
			}
			fc.edits = append(fc.edits, edit{start: end - 1, end: end - 1, text: text.String()})
			firstLine = f.lineOf(end - 1)
		case seq.Kind == yaml.SequenceNode && len(seq.Content) > 0:
			end, err := f.nodeEnd(key, seq)
			if err != nil {
				fc.fail(err)
				return
			}
			dash := strings.Repeat(" ", seq.Column-1)
			keys := dash + "  "
			if first := seq.Content[0]; first.Kind == yaml.MappingNode && len(first.Content) > 0 {
				keys = strings.Repeat(" ", first.Content[0].Column-1)
			}
			lines, st := blockLines(dash, keys)
			firstLine, starts = fc.insertLines(end, lines), st
			n0 = len(seq.Content)
		default:
			fc.fail(f.unsupported(seq, "the images key is not a list"))
			return
		}
		if seq.Kind == yaml.SequenceNode {
			n0 = len(seq.Content)
		}
	}
	for j, a := range adds {
		line := firstLine + starts[j]
		if len(starts) > 0 && starts[len(starts)-1] == 0 {
			line = firstLine
		}
		fc.change(line, fmt.Sprintf("images[%d]", n0+j), formatRef(a.from.spelled, a.from.tag, a.from.digest), a.w.ref(a.from.spelled, a.from.tag, a.from.digest), a.w)
	}
}
