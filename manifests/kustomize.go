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

// kustomization rewrites the matching entries of a kustomization's images list, and the
// helmCharts' valuesInline as Helm values.
func (fc *fileCtx) kustomization(root *yaml.Node) {
	if charts := mapValue(root, "helmCharts"); charts != nil && charts.Kind == yaml.SequenceNode {
		for i, c := range charts.Content {
			if v := mapValue(c, "valuesInline"); v != nil && v.Kind == yaml.MappingNode {
				fc.valuesTree(v, fmt.Sprintf("helmCharts[%d].valuesInline", i))
			}
		}
	}
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
	// components are the resources listed under components: (kind Component), applied after
	// the others to everything accumulated so far.
	components map[string]bool
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
				if key == "components" {
					if k.components == nil {
						k.components = map[string]bool{}
					}
					k.components[rp] = true
				}
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
	via                  string // the resource of the kustomization being evaluated it came through
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
		out := r.evalResources(k, childExtra, stack)
		applyEntries(k, out)
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

// evalResources returns the images k's resources and components output, before k's own
// entries apply; via is the resource each came through. kustomize applies components in
// order after the other resources, each to everything accumulated so far.
func (r *run) evalResources(k *kust, extra map[string]bool, stack map[string]bool) []evalRef {
	var out []evalRef
	add := func(rp string) {
		refs := r.eval(rp, extra, stack)
		for i := range refs {
			refs[i].via = rp
		}
		out = append(out, refs...)
	}
	for _, rp := range k.resources {
		if !k.components[rp] {
			add(rp)
		}
	}
	for _, rp := range k.resources {
		if k.components[rp] {
			before := len(out)
			add(rp)
			if ck := r.loadKustomization(rp); ck != nil {
				applyEntries(ck, out[:before])
			}
		}
	}
	return out
}

// applyEntries applies k's images entries to out, as kustomize's images transformer does.
func applyEntries(k *kust, out []evalRef) {
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
}

// overlayEntries adds an images entry to kustomization k (inside the environment's path)
// for every wanted image its resources outside the path use and it has no entry for.
func (r *run) overlayEntries(fc *fileCtx, k *kust) {
	adds := r.missingEntries(k)
	if len(adds) == 0 {
		return
	}
	at, err := fc.insertEntries(k, adds)
	if err != nil {
		fc.fail(err)
		return
	}
	for j, a := range adds {
		fc.change(at.first+at.starts[j], fmt.Sprintf("images[%d]", at.before+j), formatRef(a.from.spelled, a.from.tag, a.from.digest), a.w.ref(a.from.spelled, a.from.tag, a.from.digest), a.w)
	}
}

// overlayAdd is an images entry to add to an overlay: the wanted image, and the reference
// (spelled as the base spells it, which is the entry's name) that it overrides.
type overlayAdd struct {
	w    *wanted
	from evalRef
}

// kvs are the new entry's keys and values, in kustomize's order.
func (a overlayAdd) kvs() []kv {
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

// missingEntries lists, by name, the wanted images whose value k's resources outside the
// path decide and k has no entry for.
func (r *run) missingEntries(k *kust) []overlayAdd {
	have := map[string]bool{}
	extra := map[string]bool{}
	for _, e := range k.entries {
		have[e.name.Value] = true
		if nn := val(e.newName); nn != "" && r.match(nn) != nil {
			extra[r.norm(e.name.Value)] = true
		}
	}
	var adds []overlayAdd
	// A value decided inside the path (a workload or a component there) is rewritten where
	// it is; so is everything an in-path resource brings.
	for _, ref := range r.evalResources(k, extra, map[string]bool{k.dir: true}) {
		if r.inPath(ref.via) || r.inPath(ref.file) {
			continue
		}
		w := r.match(ref.spelled)
		if w == nil || have[ref.spelled] {
			continue
		}
		have[ref.spelled] = true
		adds = append(adds, overlayAdd{w, ref})
	}
	sort.SliceStable(adds, func(i, j int) bool { return adds[i].from.spelled < adds[j].from.spelled })
	return adds
}

// insertedEntries is where insertEntries put the new entries: the line of the first, each
// entry's line relative to it, and how many entries the list had before.
type insertedEntries struct {
	first  int
	starts []int
	before int
}

// insertEntries splices adds into k's images list, creating or filling it when it has none,
// in the list's own style.
func (fc *fileCtx) insertEntries(k *kust, overlayAdds []overlayAdd) (insertedEntries, error) {
	adds := make([][]kv, len(overlayAdds))
	for j, a := range overlayAdds {
		adds[j] = a.kvs()
	}
	i := mapPair(k.root, "images")
	if i < 0 {
		return fc.addImagesList(k.root, adds)
	}
	key, seq := k.root.Content[i], k.root.Content[i+1]
	var at insertedEntries
	var err error
	switch {
	case isEmptyNull(seq):
		at, err = fc.fillImagesList(key, adds)
	case seq.Kind == yaml.SequenceNode && seq.Style&yaml.FlowStyle != 0:
		at, err = fc.appendFlowEntries(seq, adds)
	case seq.Kind == yaml.SequenceNode && len(seq.Content) > 0:
		at, err = fc.appendBlockEntries(key, seq, adds)
	default:
		err = fc.f.unsupported(seq, "the images key is not a list")
	}
	if seq.Kind == yaml.SequenceNode {
		at.before = len(seq.Content)
	}
	return at, err
}

// addImagesList appends an images list to a block-style kustomization that has none, indented
// as the file indents its other lists (resources:).
func (fc *fileCtx) addImagesList(root *yaml.Node, adds [][]kv) (insertedEntries, error) {
	if root.Style&yaml.FlowStyle != 0 || len(root.Content) == 0 {
		return insertedEntries{}, fc.f.unsupported(root, "cannot add an images list to a flow-style or empty kustomization")
	}
	end, err := fc.f.nodeEnd(root.Content[len(root.Content)-2], root.Content[len(root.Content)-1])
	if err != nil {
		return insertedEntries{}, err
	}
	indent := strings.Repeat(" ", root.Content[0].Column-1)
	dash := indent
	for j := 1; j < len(root.Content); j += 2 {
		if v := root.Content[j]; v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
			dash = strings.Repeat(" ", v.Column-1)
			break
		}
	}
	lines, starts := blockEntryLines(adds, dash, dash+"  ")
	lines = append([]string{indent + "images:"}, lines...)
	return insertedEntries{first: fc.insertLines(end, lines) + 1, starts: starts}, nil
}

// fillImagesList writes the entries after an "images:" key with no value.
func (fc *fileCtx) fillImagesList(key *yaml.Node, adds [][]kv) (insertedEntries, error) {
	f := fc.f
	off, err := f.afterColon(key)
	if err != nil {
		return insertedEntries{}, err
	}
	indent := strings.Repeat(" ", key.Column-1)
	lines, starts := blockEntryLines(adds, indent, indent+"  ")
	fc.edits = append(fc.edits, edit{start: off, end: off, text: f.eol + strings.Join(lines, f.eol), adds: true})
	return insertedEntries{first: key.Line + 1, starts: starts}, nil
}

// appendFlowEntries appends the entries as flow mappings inside a flow-style list: all on the
// line of its closing bracket.
func (fc *fileCtx) appendFlowEntries(seq *yaml.Node, adds [][]kv) (insertedEntries, error) {
	f := fc.f
	end, err := f.nodeEnd(nil, seq)
	if err != nil {
		return insertedEntries{}, err
	}
	var text strings.Builder
	starts := make([]int, len(adds))
	for j, a := range adds {
		if j > 0 || len(seq.Content) > 0 {
			text.WriteString(", ")
		}
		text.WriteString("{")
		for x, e := range a {
			if x > 0 {
				text.WriteString(", ")
			}
			text.WriteString(e.k + ": " + render(nil, e.v))
		}
		text.WriteString("}")
	}
	fc.edits = append(fc.edits, edit{start: end - 1, end: end - 1, text: text.String(), adds: true})
	return insertedEntries{first: f.lineOf(end - 1), starts: starts}, nil
}

// appendBlockEntries appends the entries after the last item of a block-style list, indented
// as its first item.
func (fc *fileCtx) appendBlockEntries(key, seq *yaml.Node, adds [][]kv) (insertedEntries, error) {
	end, err := fc.f.nodeEnd(key, seq)
	if err != nil {
		return insertedEntries{}, err
	}
	dash := strings.Repeat(" ", seq.Column-1)
	keys := dash + "  "
	if first := seq.Content[0]; first.Kind == yaml.MappingNode && len(first.Content) > 0 {
		keys = strings.Repeat(" ", first.Content[0].Column-1)
	}
	lines, starts := blockEntryLines(adds, dash, keys)
	return insertedEntries{first: fc.insertLines(end, lines), starts: starts}, nil
}

// blockEntryLines renders the entries as block lines: the first key after "- " at the dash
// indent, the other keys at the keys indent. starts holds each entry's first line, as an index in lines.
func blockEntryLines(adds [][]kv, dash, keys string) (lines []string, starts []int) {
	for _, a := range adds {
		starts = append(starts, len(lines))
		for i, e := range a {
			prefix := keys
			if i == 0 {
				prefix = dash + "- "
			}
			lines = append(lines, prefix+e.k+": "+render(nil, e.v))
		}
	}
	return lines, starts
}
