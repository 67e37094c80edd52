package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/gitrepo"
	"github.com/ferryhq/ferry/promote/history"
)

// DefaultHistoryWindow is how far back history, rollback and holds read when not told.
const DefaultHistoryWindow = 90 * 24 * time.Hour

// HistoryOptions narrow `ferry history`.
type HistoryOptions struct {
	// Env keeps one environment's events ("" keeps all).
	Env string
	// Images keep these images' events (empty keeps all).
	Images []string
	// Since is how far back to read; default DefaultHistoryWindow.
	Since time.Duration
}

// History reads every change to the environments' images from the config repo's first-parent
// history of git.branch, newest first, with a DORA summary per environment. The clone is
// deepened only as far as Since needs.
func History(ctx context.Context, opts Options, h HistoryOptions) (*history.Report, error) {
	r, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	envs, err := r.historyEnvs(h.Env)
	if err != nil {
		return nil, err
	}
	for _, name := range h.Images {
		if r.cfg.Image(name) == nil {
			return nil, fmt.Errorf("--image %s: no such image in %s", name, r.opts.Config)
		}
	}
	// Lead times need the arrivals in the first environment of each chain, so the walk reads
	// every environment of the chains asked about; the others are filtered out afterwards.
	walkEnvs := r.withChainRoots(envs)
	rep, err := r.readHistory(ctx, walkEnvs, h.Since)
	if err != nil {
		return nil, err
	}
	keepEnv := map[string]bool{}
	var names []string
	for _, e := range envs {
		keepEnv[e.Name] = true
		names = append(names, e.Name)
	}
	history.Finish(rep, names, r.chains(), func(e history.Event) bool {
		return keepEnv[e.Environment] && (len(h.Images) == 0 || slices.Contains(h.Images, e.Image))
	})
	return rep, nil
}

// historyEnvs is the environment --env names, or all of them in ferry.yaml's order.
func (r *runner) historyEnvs(name string) ([]*config.Environment, error) {
	if name != "" {
		env := r.cfg.Environment(name)
		if env == nil {
			return nil, fmt.Errorf("--env %s: no such environment in %s", name, r.opts.Config)
		}
		return []*config.Environment{env}, nil
	}
	var out []*config.Environment
	for i := range r.cfg.Environments {
		out = append(out, &r.cfg.Environments[i])
	}
	return out, nil
}

// chains maps every environment to the registry-fed environment its chain starts at.
func (r *runner) chains() history.Chains {
	c := history.Chains{}
	for i := range r.cfg.Environments {
		env := &r.cfg.Environments[i]
		root := env
		for n := 0; root != nil && !root.FromRegistry() && n < len(r.cfg.Environments); n++ {
			root = r.cfg.SourceOf(root)
		}
		if root != nil && root.FromRegistry() {
			c[env.Name] = root.Name
		}
	}
	return c
}

// withChainRoots adds to envs the first environment of each one's chain.
func (r *runner) withChainRoots(envs []*config.Environment) []*config.Environment {
	chains := r.chains()
	out := slices.Clone(envs)
	for _, e := range envs {
		if root := r.cfg.Environment(chains[e.Name]); root != nil && !slices.Contains(out, root) {
			out = append(out, root)
		}
	}
	return out
}

// readHistory walks the branch's first-parent history back to since and returns one event
// per environment × image change (unsorted, without lead times or summary).
func (r *runner) readHistory(ctx context.Context, envs []*config.Environment, window time.Duration) (*history.Report, error) {
	if window <= 0 {
		window = DefaultHistoryWindow
	}
	now := r.opts.now()
	rep := &history.Report{Since: now.Add(-window), Until: now}
	entries, err := r.repo.History(ctx, gitrepo.HistoryQuery{Since: rep.Since, Step: 200})
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	w := &walker{r: r, envs: envs, last: make([]envState, len(envs)), files: map[fileKey][]manifests.Ref{}, finders: map[string]*manifests.Finder{}}
	for i := range envs {
		w.paths = append(w.paths, envs[i].Path)
	}
	if err := w.prefetchAll(ctx, entries); err != nil {
		return nil, err
	}
	for _, e := range entries {
		rep.Complete = rep.Complete || e.Root
		ev, err := w.step(ctx, e)
		if err != nil {
			return nil, err
		}
		rep.Events = append(rep.Events, ev...)
	}
	if rep.Complete && len(entries) > 0 {
		if first := entries[len(entries)-1].Committer.When; first.After(rep.Since) {
			rep.Since = first // the repo is younger than the window: rates use its real age
		}
	}
	return rep, nil
}

// walker turns commits into events. Walking newest first, a commit's first parent is the next
// commit walked, so what each environment ran at the parent is kept for the next step.
type walker struct {
	r       *runner
	envs    []*config.Environment
	paths   []string
	last    []envState // per environment: the state at the last parent read
	files   map[fileKey][]manifests.Ref
	finders map[string]*manifests.Finder // per environment

	// the first parent of the commit last walked, which is the next commit walked
	parentSHA    string
	parentSnap   *gitrepo.Snapshot
	parentHashes []string
}

type fileKey struct {
	env  int
	path string
	blob gitrepo.ObjectID
}

// envState is what one environment's manifests name at one version of its directory: the
// references of each file, in path order. A kustomize environment is read whole, as one
// entry with an empty path.
type envState struct {
	hash  string // PathHash of the environment's directory
	read  bool
	files []stateFile
	// broken: the manifests could not be read at this version (a hand edit that broke the
	// YAML); changes into or out of it are not reported.
	broken bool
}

type stateFile struct {
	path string
	blob gitrepo.ObjectID
	refs []manifests.Ref
}

// first is what the environment runs for image: the first reference to it in path order, as
// r.current reports it.
func (s envState) first(image string) (manifests.Ref, bool) {
	for _, f := range s.files {
		for _, ref := range f.refs {
			if ref.Image == image {
				return ref, true
			}
		}
	}
	return manifests.Ref{}, false
}

// changed returns, for the images named in a file that differs between a and b, what each
// state runs: only those images can have changed.
func changed(a, b envState) (before, after map[string]manifests.Ref) {
	images := map[string]bool{}
	mark := func(f stateFile) {
		for _, ref := range f.refs {
			images[ref.Image] = true
		}
	}
	i, j := 0, 0
	for i < len(a.files) || j < len(b.files) {
		switch {
		case j == len(b.files) || i < len(a.files) && a.files[i].path < b.files[j].path:
			mark(a.files[i])
			i++
		case i == len(a.files) || b.files[j].path < a.files[i].path:
			mark(b.files[j])
			j++
		default:
			if a.files[i].blob != b.files[j].blob {
				mark(a.files[i])
				mark(b.files[j])
			}
			i, j = i+1, j+1
		}
	}
	before, after = map[string]manifests.Ref{}, map[string]manifests.Ref{}
	for img := range images {
		if ref, ok := a.first(img); ok {
			before[img] = ref
		}
		if ref, ok := b.first(img); ok {
			after[img] = ref
		}
	}
	return before, after
}

// step compares commit e with its first parent in every environment whose directory changed.
func (w *walker) step(ctx context.Context, e gitrepo.Entry) ([]history.Event, error) {
	snap, hashes := w.parentSnap, w.parentHashes // the last commit's parent is this commit
	if w.parentSHA != e.SHA {
		var err error
		if snap, err = w.r.repo.SnapshotOf(ctx, e.SHA); err != nil {
			return nil, err
		}
		if hashes, err = snap.PathHashes(w.paths); err != nil {
			return nil, err
		}
	}
	parent, parentHashes, err := w.parentOf(ctx, e)
	if err != nil {
		return nil, err
	}
	if err := w.prefetch(ctx, snap, parent, hashes, parentHashes); err != nil {
		return nil, err
	}
	var out []history.Event
	var trailers []gitrepo.Trailer
	var author string
	for i, env := range w.envs {
		if hashes[i] == parentHashes[i] {
			continue
		}
		cur := w.last[i]
		if !cur.read || cur.hash != hashes[i] {
			cur = w.read(i, snap, hashes[i])
		}
		prev := envState{hash: parentHashes[i], read: true}
		if parent != nil {
			prev = w.read(i, parent, parentHashes[i])
		}
		w.last[i] = prev
		if cur.broken || prev.broken {
			continue
		}
		if trailers == nil {
			trailers, author = changeTrailers(e)
		}
		before, after := changed(prev, cur)
		out = append(out, w.events(e, env, before, after, trailers, author)...)
	}
	return out, nil
}

// prefetchAll fetches, for a partial clone, the files of the environments each entry changed,
// at both ends, in one request: a walk over thousands of commits would otherwise make one
// request per commit. Commits it cannot read are left to the walk, which reports them.
func (w *walker) prefetchAll(ctx context.Context, entries []gitrepo.Entry) error {
	var files []gitrepo.File
	var last *gitrepo.Snapshot
	hashesOf := func(sha string) (*gitrepo.Snapshot, []string) {
		snap, err := w.r.repo.SnapshotOf(ctx, sha)
		if err != nil {
			return nil, nil
		}
		hs, err := snap.PathHashes(w.paths)
		if err != nil {
			return nil, nil
		}
		return snap, hs
	}
	var next []string // the hashes at the entry walked next (this entry's parent)
	for _, e := range entries {
		snap, hashes := last, next
		if snap == nil || snap.SHA() != e.SHA {
			if snap, hashes = hashesOf(e.SHA); snap == nil {
				continue
			}
		}
		last, next = nil, nil
		if len(e.Parents) > 0 {
			last, next = hashesOf(e.Parents[0])
		}
		for i, env := range w.envs {
			if next != nil && hashes[i] == next[i] {
				continue
			}
			fs, _ := snap.Files(env.Path)
			files = append(files, fs...)
			if last != nil {
				fs, _ := last.Files(env.Path)
				files = append(files, fs...)
			}
		}
	}
	if len(files) == 0 || w.r.repo == nil {
		return nil
	}
	tip, err := w.r.repo.Tip(ctx)
	if err != nil {
		return err
	}
	return tip.PrefetchFiles(ctx, files)
}

// prefetch fetches, for a partial clone, the files of the environments the step changed, at
// both ends (one request each; the commit itself was the step before's parent, so it usually
// has them already).
func (w *walker) prefetch(ctx context.Context, snap, parent *gitrepo.Snapshot, hashes, parentHashes []string) error {
	var changed []string
	for i, env := range w.envs {
		if hashes[i] != parentHashes[i] {
			changed = append(changed, env.Path)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := snap.Prefetch(ctx, changed...); err != nil {
		return err
	}
	if parent == nil {
		return nil
	}
	return parent.Prefetch(ctx, changed...)
}

// parentOf reads e's first parent and its environments' directory hashes (all empty for the
// first commit), and keeps them for the next step.
func (w *walker) parentOf(ctx context.Context, e gitrepo.Entry) (*gitrepo.Snapshot, []string, error) {
	var parent *gitrepo.Snapshot
	var hashes []string
	w.parentSHA = ""
	if len(e.Parents) > 0 {
		var err error
		if parent, err = w.r.repo.SnapshotOf(ctx, e.Parents[0]); err != nil {
			return nil, nil, err
		}
		if hashes, err = parent.PathHashes(w.paths); err != nil {
			return nil, nil, err
		}
		w.parentSHA = e.Parents[0]
	} else {
		hashes = make([]string, len(w.paths))
	}
	w.parentSnap, w.parentHashes = parent, hashes
	return parent, hashes, nil
}

// read reads what environment i's manifests name at snap (nothing when hash, its directory's,
// is empty).
func (w *walker) read(i int, snap *gitrepo.Snapshot, hash string) envState {
	st := envState{hash: hash, read: true}
	if hash == "" {
		return st
	}
	files, err := w.readFiles(i, snap, hash)
	if err != nil {
		w.r.log.Warn("history: cannot read an environment at this commit; its changes there are not reported",
			"environment", w.envs[i].Name, "commit", shortSHA(snap.SHA()), "error", err)
		st.broken = true
		return st
	}
	st.files = files
	return st
}

// readFiles reads environment i at snap file by file. Without kustomizations every file is
// read on its own (manifests.IsKustomization), so each version of a file is parsed once
// however many commits keep it: a walk costs one parse per file changed, not per commit.
// With a kustomization, the environment is read whole; hash is its directory's.
func (w *walker) readFiles(i int, snap *gitrepo.Snapshot, hash string) ([]stateFile, error) {
	env := w.envs[i]
	files, err := snap.Files(env.Path)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if manifests.IsKustomization(f.Path) {
			refs, err := w.r.current(snap.FS(), env)
			if err != nil {
				return nil, err
			}
			whole := stateFile{blob: gitrepo.ParseObjectID(hash)} // changes with every file
			for _, name := range sortedKeys(refs) {
				whole.refs = append(whole.refs, refs[name])
			}
			return []stateFile{whole}, nil
		}
	}
	out := make([]stateFile, 0, len(files))
	for _, f := range files {
		refs, err := w.fileRefs(i, snap, f)
		if err != nil {
			return nil, err
		}
		if len(refs) > 0 {
			out = append(out, stateFile{path: f.Path, blob: f.Blob, refs: refs})
		}
	}
	return out, nil
}

// fileRefs is what one file names, remembered by environment, path and blob.
func (w *walker) fileRefs(i int, snap *gitrepo.Snapshot, f gitrepo.File) ([]manifests.Ref, error) {
	env := w.envs[i]
	key := fileKey{i, f.Path, f.Blob}
	if refs, ok := w.files[key]; ok {
		return refs, nil
	}
	data, err := snap.ReadBlob(f.Blob)
	if err != nil {
		return nil, err
	}
	finder := w.finders[env.Name]
	if finder == nil {
		if finder, err = manifests.NewFinder(manifests.Options{Path: env.Path, Images: w.r.findImages(), Environment: env.Name}); err != nil {
			return nil, fmt.Errorf("environment %s: %w", env.Name, err)
		}
		w.finders[env.Name] = finder
	}
	refs, err := finder.Find(fstest.MapFS{f.Path: &fstest.MapFile{Data: data, Mode: 0o644}})
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	w.files[key] = refs
	return refs, nil
}

func shortSHA(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// changeTrailers are the trailers that describe commit e's change: its own, or for a merge
// commit without ferry trailers, those of the merged branch's head (a merged pull request).
// The author is that commit's.
func changeTrailers(e gitrepo.Entry) ([]gitrepo.Trailer, string) {
	if trailer(e, TrailerEnvironment) == "" && e.Merged != nil && trailer(*e.Merged, TrailerEnvironment) != "" {
		return e.Merged.Trailers, e.Merged.Author.Name
	}
	if e.Trailers == nil {
		return []gitrepo.Trailer{}, e.Author.Name
	}
	return e.Trailers, e.Author.Name
}

// events lists the image changes of one environment between two states.
func (w *walker) events(e gitrepo.Entry, env *config.Environment, before, after map[string]manifests.Ref, trailers []gitrepo.Trailer, author string) []history.Event {
	var out []history.Event
	for _, name := range unionKeys(before, after) {
		a, hadA := before[name]
		b, hasB := after[name]
		if hadA && hasB && a.Tag == b.Tag && a.Digest == b.Digest && sameRepoOrEmpty(a.Repository, b.Repository) {
			continue
		}
		img := w.r.cfg.Image(name)
		ev := history.Event{
			Time: e.Committer.When, Commit: e.SHA, Author: author,
			Environment: env.Name, Image: name, How: history.HowManual,
		}
		if hadA {
			ev.From, ev.FromDigest = refString(img, a), a.Digest
		}
		if hasB {
			ev.To, ev.ToDigest = refString(img, b), b.Digest
		}
		describe(&ev, env, trailers, b)
		out = append(out, ev)
	}
	return out
}

// describe fills How, Source, Signer and RolledBackFrom from ferry's trailers when they claim
// exactly this change: the commit names env, and its Ferry-Image trailer for the image names
// the reference the tree now holds. Anything else is a manual change.
func describe(ev *history.Event, env *config.Environment, trailers []gitrepo.Trailer, now manifests.Ref) {
	if trailerOf(trailers, TrailerEnvironment) != env.Name {
		return
	}
	claimed := false
	for _, v := range gitrepo.TrailerValues(trailers, TrailerImage) {
		if name, tv, ok := parseImageTrailer(v); ok && name == ev.Image && sameVersionAs(tv, now) {
			claimed = true
			break
		}
	}
	if !claimed {
		return
	}
	ev.Source = trailerOf(trailers, TrailerSource)
	ev.Signer = imageTrailer(trailers, TrailerSigner, ev.Image)
	ev.RolledBackFrom = imageTrailer(trailers, TrailerRollback, ev.Image)
	switch how := trailerOf(trailers, TrailerCommand); {
	case ev.RolledBackFrom != "":
		ev.How = history.HowRollback
	case how == history.HowBump || how == history.HowWatch || how == history.HowPromote:
		ev.How = how
	case ev.Source == config.SourceRegistry:
		ev.How = history.HowWatch // written before ferry named its command
	default:
		ev.How = history.HowPromote
	}
}

// sameVersionAs reports whether a trailer's tag@digest is what a manifest reference names.
// With pin: tag the manifests hold the tag alone while the trailer also names the digest
// that verified; the tags must then agree.
func sameVersionAs(tv trailerValue, ref manifests.Ref) bool {
	if tv.digest != "" && ref.Digest != "" {
		return tv.digest == ref.Digest
	}
	return ref.Digest == "" && ref.Tag != "" && tv.tag == ref.Tag
}

// imageTrailer is the value after "image=" of the trailer key naming image.
func imageTrailer(trailers []gitrepo.Trailer, key, image string) string {
	for _, v := range gitrepo.TrailerValues(trailers, key) {
		if name, val, ok := strings.Cut(v, "="); ok && strings.TrimSpace(name) == image {
			return strings.TrimSpace(val)
		}
	}
	return ""
}

func trailerOf(trailers []gitrepo.Trailer, key string) string {
	if v := gitrepo.TrailerValues(trailers, key); len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// refString formats what a manifest names as repo:tag@digest, with the image's repository
// when the field holds no repository (a tag-only field).
func refString(img *config.Image, ref manifests.Ref) string {
	repo := ref.Repository
	if repo == "" && img != nil {
		repo = img.Repository
	}
	return target{repo: repo, tag: ref.Tag, digest: ref.Digest}.ref()
}

func sameRepoOrEmpty(a, b string) bool { return a == b || a == "" || b == "" || sameRepo(a, b) }

func unionKeys(a, b map[string]manifests.Ref) []string {
	keys := sortedKeys(a)
	for _, k := range sortedKeys(b) {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// ErrNoHistory is wrapped when an environment has no earlier version of an image in the window.
var ErrNoHistory = errors.New("no earlier version")
