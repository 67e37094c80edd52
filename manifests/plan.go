package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Options says where to look and what to write.
type Options struct {
	// FS is the tree to read. It may be wider than Path, so that kustomize bases outside the
	// environment can be read. Only FS is read: no other file system access happens.
	FS fs.FS
	// Path is the environment's directory inside FS (slash-separated; "." is the root). Only
	// files under it are ever rewritten.
	Path string
	// Images are the wanted images.
	Images []Image
	// Environment is copied into every Change.
	Environment string
	// Readers is how many files are read, screened and parsed at once, before the files are
	// walked. Above 1, FS must be safe for concurrent use (os.DirFS and fstest.MapFS are); 0
	// or 1 reads and parses one file at a time, as the walk reaches it.
	Readers int
	// Parsed, when set, remembers the files parsed, for later runs over trees that share them
	// (nil: every run parses what it reads).
	Parsed *ParseCache
}

// Edit is a planned rewrite: the changes and the files they touch. Nothing is written until
// Write is called.
type Edit struct {
	Changes []Change
	// Files holds only the files that change, in path order.
	Files []File
}

// File is one changed file. Path is slash-separated, relative to the FS root.
type File struct {
	Path     string
	Old, New []byte
	Mode     fs.FileMode
}

// Ref is what an environment currently runs for a wanted image, and where that is written.
type Ref struct {
	Image      string `json:"image"`
	File       string `json:"file"`
	Line       int    `json:"line"`
	Field      string `json:"field"`
	Repository string `json:"repository,omitempty"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`
}

// ErrInvalidOptions is returned (wrapped) when Options cannot be used.
var ErrInvalidOptions = errors.New("invalid options")

// wanted is a validated Image with what it writes.
type wanted struct {
	img         Image
	key, newKey string // canonical repository and new name
	tag, digest string // what Pin writes
	label       string // Change.Image
	id          string // Ref.Image
	fields      []field
}

type field struct {
	path, part, files string
	segs              []fieldSeg
}

// run is the state of one Plan or Find.
type run struct {
	fsys      fs.FS
	root      string
	env       string
	find      bool
	imgs      []*wanted
	byKey     map[string]*wanted
	byMarker  map[string]*wanted
	normMemo  map[string]string
	screens   []repoScreen
	byLast    *screenIndex // with many screens: which screens a name may match
	globs     []string     // Files globs of explicit fields; "" means every file
	readers   int
	pre       map[string]screened // what prescreen learnt of each file, when it ran
	preparsed map[string]*yfile   // what prescreen parsed
	data      map[string][]byte
	parsed    map[string]*yfile
	kusts     map[string]*kust
	covered   map[string]bool
	cache     *ParseCache
}

func newRun(opts Options, find bool) (*run, error) {
	bad := func(format string, args ...any) (*run, error) {
		return nil, fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalidOptions)
	}
	if opts.FS == nil {
		return bad("no FS given")
	}
	root := path.Clean(strings.TrimSuffix(opts.Path, "/"))
	if opts.Path == "" {
		root = "."
	}
	if !fs.ValidPath(root) {
		return bad("environment path %q: want a slash-separated path inside the tree", opts.Path)
	}
	r := &run{
		fsys: opts.FS, root: root, env: opts.Environment, find: find, readers: opts.Readers, cache: opts.Parsed,
		byKey: map[string]*wanted{}, byMarker: map[string]*wanted{}, normMemo: map[string]string{},
		data: map[string][]byte{}, parsed: map[string]*yfile{}, preparsed: map[string]*yfile{}, kusts: map[string]*kust{}, covered: map[string]bool{},
	}
	for _, img := range opts.Images {
		what := img.Name
		if what == "" {
			what = img.Repository
		}
		w := &wanted{img: img, label: img.Name, id: what, key: normalize(img.Repository)}
		if w.key == "" {
			return bad("image %q: repository %q is not valid", what, img.Repository)
		}
		if img.NewName != "" {
			if w.newKey = normalize(img.NewName); w.newKey == "" {
				return bad("image %q: new name %q is not a valid repository", what, img.NewName)
			}
		}
		if img.Tag != "" && !tagRE().MatchString(img.Tag) {
			return bad("image %q: tag %q is not valid", what, img.Tag)
		}
		if img.Digest != "" && !digestRE().MatchString(img.Digest) {
			return bad("image %q: digest %q is not valid (want sha256:<64 hex digits>)", what, img.Digest)
		}
		switch img.Pin {
		case PinTagDigest:
			w.tag, w.digest = img.Tag, img.Digest
		case PinDigest:
			if img.Digest == "" && !find {
				return bad("image %q: pin digest needs a digest", what)
			}
			w.digest = img.Digest
		case PinTag:
			if img.Tag == "" && !find {
				return bad("image %q: pin tag needs a tag", what)
			}
			w.tag = img.Tag
		default:
			return bad("image %q: unknown pin %d", what, img.Pin)
		}
		if prev := r.byKey[w.key]; prev != nil {
			return bad("images %q and %q name the same repository %s", prev.id, what, w.key)
		}
		r.byKey[w.key] = w
		r.screens = append(r.screens, newRepoScreen(w.key))
		names := img.Markers
		if img.Name != "" {
			names = append([]string{img.Name}, names...)
		}
		for _, m := range names {
			if prev := r.byMarker[m]; prev != nil && prev != w {
				return bad("marker name %q means both %q and %q", m, prev.id, what)
			}
			r.byMarker[m] = w
		}
		for _, fd := range img.Fields {
			segs, err := parseFieldPath(fd.Path)
			if err != nil {
				return bad("image %q: field %q: %v", what, fd.Path, err)
			}
			part := fd.Part
			switch part {
			case "":
				part = partRef
			case partRef, partName, partTag, partDigest:
			default:
				return bad("image %q: field %q: part %q: want ref, name, tag or digest", what, fd.Path, fd.Part)
			}
			if _, err := path.Match(fd.Files, ""); err != nil {
				return bad("image %q: field %q: files %q: %v", what, fd.Path, fd.Files, err)
			}
			w.fields = append(w.fields, field{path: fd.Path, part: part, files: fd.Files, segs: segs})
			r.globs = append(r.globs, fd.Files)
		}
		r.imgs = append(r.imgs, w)
	}
	r.indexScreens(screenIndexMin)
	return r, nil
}

// norm memoises normalize.
func (r *run) norm(s string) string {
	n, ok := r.normMemo[s]
	if !ok {
		n = normalize(s)
		r.normMemo[s] = n
	}
	return n
}

// match returns the wanted image whose repository s spells, if any.
func (r *run) match(s string) *wanted {
	if n := r.norm(s); n != "" {
		return r.byKey[n]
	}
	return nil
}

// resolveMarker finds the image a marker names, and the part it selects.
func (r *run) resolveMarker(name string) (*wanted, string) {
	if w := r.byMarker[name]; w != nil {
		return w, partRef
	}
	for _, suffix := range []string{partTag, partName, partDigest} {
		if base, ok := strings.CutSuffix(name, ":"+suffix); ok {
			if w := r.byMarker[base]; w != nil {
				return w, suffix
			}
		}
	}
	return nil, ""
}

func (r *run) inPath(p string) bool {
	return r.root == "." || p == r.root || strings.HasPrefix(p, r.root+"/")
}

func (r *run) isDir(p string) bool {
	fi, err := fs.Lstat(r.fsys, p)
	return err == nil && fi.IsDir()
}

func (r *run) isRegular(p string) bool {
	fi, err := fs.Lstat(r.fsys, p)
	return err == nil && fi.Mode().IsRegular()
}

func (r *run) read(p string) ([]byte, error) {
	if b, ok := r.data[p]; ok {
		return b, nil
	}
	b, err := fs.ReadFile(r.fsys, p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	r.data[p] = b
	return b, nil
}

// parse parses p when force is set or the file passes screening; it returns nil, nil for a
// file that need not be parsed, or that is a template or an unscreened file that is not
// valid YAML.
func (r *run) parse(p string, force bool) (*yfile, error) {
	if f, ok := r.parsed[p]; ok {
		return f, nil
	}
	if s, ok := r.pre[p]; ok && !force && !s.mentions {
		return nil, nil
	}
	data, err := r.read(p)
	if err != nil {
		return nil, err
	}
	mentions := r.screen(data)
	if !force && !mentions {
		delete(r.data, p) // keep memory flat over large trees
		return nil, nil
	}
	f, err := r.parseCached(p, data)
	if err != nil {
		if !mentions || isTemplate(p, data) {
			r.parsed[p] = nil
			return nil, nil
		}
		return nil, err
	}
	r.parsed[p] = f
	return f, nil
}

// parseScreened parses p if it mentions a wanted repository or one of extra's.
func (r *run) parseScreened(p string, extra map[string]bool) (*yfile, error) {
	data, err := r.read(p)
	if err != nil {
		return nil, err
	}
	force := false
	for x := range extra {
		if newRepoScreen(x).match(data) {
			force = true
			break
		}
	}
	return r.parse(p, force)
}

// isTemplate recognises Helm templates and other text templates, which are not YAML.
func isTemplate(p string, data []byte) bool {
	return bytes.Contains(data, []byte("{{")) || strings.Contains("/"+p, "/templates/")
}

func isYAMLName(p string) bool {
	return strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") || isKustomization(p)
}

// files lists the YAML files under the environment's path, not following symlinks.
func (r *run) files() ([]string, error) {
	fi, err := fs.Stat(r.fsys, r.root)
	if err != nil {
		return nil, fmt.Errorf("environment path %s: %w", r.root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("environment path %s: not a directory", r.root)
	}
	var out []string
	err = fs.WalkDir(r.fsys, r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walking %s: %w", p, err)
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != r.root {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && isYAMLName(p) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// wantsFields reports whether explicit fields may apply to a file with this base name.
func (r *run) wantsFields(base string) bool {
	for _, g := range r.globs {
		if g == "" {
			return true
		}
		if ok, _ := path.Match(g, base); ok {
			return true
		}
	}
	return false
}

// load parses an in-path file if any rule may apply to it; nil means skip.
func (r *run) load(p string) (*fileCtx, error) {
	kust := isKustomization(p)
	force := r.wantsFields(path.Base(p))
	if kust {
		// A kustomization matters if it mentions an image, or if a resource may lie outside
		// the path (only a relative path with ".." can): then it may need a new entry.
		s, ok := r.pre[p]
		if !ok {
			data, err := r.read(p)
			if err != nil {
				return nil, err
			}
			s.dotdot = bytes.Contains(data, []byte(".."))
		}
		force = force || r.find || s.dotdot
	}
	f, err := r.parse(p, force)
	if err != nil || f == nil {
		return nil, err
	}
	return newFileCtx(r, f, kust), nil
}

// Plan finds every reference to the wanted images under opts.Path and plans its rewrite. It
// writes nothing; see Write.
func Plan(opts Options) (*Edit, error) {
	r, err := newRun(opts, false)
	if err != nil {
		return nil, err
	}
	files, err := r.files()
	if err != nil {
		return nil, err
	}
	if err := r.prescreen(files); err != nil {
		return nil, err
	}
	var ctxs []*fileCtx
	for _, p := range files {
		fc, err := r.load(p)
		if err != nil {
			return nil, err
		}
		if fc == nil {
			continue
		}
		if err := fc.process(); err != nil {
			return nil, err
		}
		if fc.kust {
			if k := r.loadKustomization(path.Dir(p)); k != nil && k.file == p {
				r.overlayEntries(fc, k)
				if fc.err != nil {
					return nil, fc.err
				}
			}
		}
		ctxs = append(ctxs, fc)
	}
	e := &Edit{}
	for _, fc := range ctxs {
		e.Changes = append(e.Changes, fc.changes...)
		if len(fc.edits) == 0 {
			continue
		}
		out, err := applyEdits(fc.f.path, fc.f.src, fc.edits)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(out, fc.f.src) {
			continue
		}
		if _, err := parseYAML(fc.f.path, out); err != nil {
			return nil, fmt.Errorf("%s: the rewrite would not parse (please report this ferry bug): %w", fc.f.path, err)
		}
		mode := fs.FileMode(0o644)
		if fi, err := fs.Stat(r.fsys, fc.f.path); err == nil {
			mode = fi.Mode().Perm()
		}
		e.Files = append(e.Files, File{Path: fc.f.path, Old: fc.f.src, New: out, Mode: mode})
	}
	sort.SliceStable(e.Changes, func(i, j int) bool {
		a, b := e.Changes[i], e.Changes[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return e, nil
}

// Find reports what the environment at opts.Path currently runs for each wanted image (only
// Repository, Name and Markers of the images are used): the effective value, so a
// kustomization's images entry wins over the workloads and bases it applies to.
func Find(opts Options) ([]Ref, error) {
	r, err := newRun(opts, true)
	if err != nil {
		return nil, err
	}
	return r.findRefs()
}

// Finder is Find prepared once for many trees: the images are validated and their screens
// built when it is made, so reading many versions of an environment (ferry history) pays
// for that once. A Finder is not safe for concurrent use.
type Finder struct{ proto *run }

// NewFinder prepares Find for opts's Path, Images and Environment; opts.FS may be nil.
func NewFinder(opts Options) (*Finder, error) {
	if opts.FS == nil {
		opts.FS = emptyFS{}
	}
	r, err := newRun(opts, true)
	if err != nil {
		return nil, err
	}
	return &Finder{proto: r}, nil
}

// Find is Find over fsys with the Finder's options.
func (f *Finder) Find(fsys fs.FS) ([]Ref, error) {
	r := *f.proto
	r.fsys = fsys
	r.data, r.parsed, r.preparsed, r.kusts, r.covered = map[string][]byte{}, map[string]*yfile{}, map[string]*yfile{}, map[string]*kust{}, map[string]bool{}
	r.pre = nil
	return r.findRefs()
}

type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (r *run) findRefs() ([]Ref, error) {
	files, err := r.files()
	if err != nil {
		return nil, err
	}
	if err := r.prescreen(files); err != nil {
		return nil, err
	}
	var refs []Ref
	// Kustomizations: evaluate the top-level ones (those no other in-path kustomization
	// includes) and mark what they cover.
	var kdirs []string
	included := map[string]bool{}
	for _, p := range files {
		if !isKustomization(p) {
			continue
		}
		if k := r.loadKustomization(path.Dir(p)); k != nil && k.file == p {
			kdirs = append(kdirs, k.dir)
			for _, rp := range k.resources {
				included[rp] = true
			}
		}
	}
	for _, d := range kdirs {
		if included[d] {
			continue
		}
		for _, er := range r.eval(d, nil, map[string]bool{}) {
			if w := r.match(er.spelled); w != nil {
				refs = append(refs, Ref{Image: w.id, File: er.file, Line: er.line, Field: er.field, Repository: er.spelled, Tag: er.tag, Digest: er.digest})
			}
		}
	}
	for _, p := range files {
		fc, err := r.load(p)
		if err != nil {
			return nil, err
		}
		if fc == nil {
			continue
		}
		if r.covered[p] && !fc.kust {
			fc.markersOnly = true
		}
		if err := fc.process(); err != nil {
			return nil, err
		}
		refs = append(refs, fc.refs...)
	}
	seen := map[[3]string]bool{}
	out := refs[:0]
	for _, ref := range refs {
		k := [3]string{ref.File, fmt.Sprint(ref.Line), ref.Field}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, ref)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}
