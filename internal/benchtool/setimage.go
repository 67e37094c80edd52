package main

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const setImageRepo = "ghcr.io/acme/api"

// setImageGrep finds the kustomizations with an entry for setImageRepo, before and after
// kustomize re-serialises them (it sorts an entry's fields, so name may not come first).
const setImageGrep = `^ *(- )?name: ghcr\.io/acme/api$`

// setImageTree is the generated config tree of the set-image benchmark: two bases outside the
// rewritten path, and overlays/oNNNN with five files each (kustomization.yaml, configmap.yaml,
// hpa.yaml, pdb.yaml, replicas.yaml). An overlay where used(i) builds on base (which runs
// ghcr.io/acme/api) and has an images entry for it; the others build on base-other and have
// an entry for registry.example.com/team/other.
func setImageTree(overlays int, used func(int) bool) map[string]string {
	files := map[string]string{}
	for _, b := range []struct{ dir, name, image string }{{"base", "api", setImageRepo + ":1.0.0"}, {"base-other", "other", "registry.example.com/team/other:1.0.0"}} {
		files[b.dir+"/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n"
		files[b.dir+"/deployment.yaml"] = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels: {app: %[1]s}
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
        - name: %[1]s
          image: %[2]s
          ports:
            - containerPort: 8080
`, b.name, b.image)
		files[b.dir+"/service.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %[1]s\nspec:\n  selector: {app: %[1]s}\n  ports:\n    - port: 80\n      targetPort: 8080\n", b.name)
	}
	for i := range overlays {
		dir := fmt.Sprintf("overlays/o%04d/", i)
		base, app, image := "../../base-other", "other", "registry.example.com/team/other"
		if used(i) {
			base, app, image = "../../base", "api", setImageRepo
		}
		files[dir+"kustomization.yaml"] = fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namePrefix: o%04d-
resources:
  - %s
  - configmap.yaml
  - hpa.yaml
  - pdb.yaml
patches:
  - path: replicas.yaml
images:
  - name: %s
    newTag: 1.0.0
`, i, base, image)
		files[dir+"configmap.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-config\ndata:\n  OVERLAY: o%04d\n  LOG_LEVEL: info\n", app, i)
		files[dir+"hpa.yaml"] = fmt.Sprintf("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: %[1]s\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: %[1]s}\n  minReplicas: 2\n  maxReplicas: 10\n", app)
		files[dir+"pdb.yaml"] = fmt.Sprintf("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: %[1]s\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels: {app: %[1]s}\n", app)
		files[dir+"replicas.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: %d\n", app, 2+i%3)
	}
	return files
}

func writeTree(root string, files map[string]string) error {
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// setImageRef is the n-th reference written: ghcr.io/acme/api:1.n.0@sha256:…
func setImageRef(n int) (ref, tag, digest string) {
	tag = fmt.Sprintf("1.%d.0", n)
	digest = fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(tag)))
	return setImageRepo + ":" + tag + "@" + digest, tag, digest
}

// benchSetImage: ferry set-image over a 10,000-file tree against kustomize edit set image run
// in each overlay that uses the image, on identical copies of the tree.
func benchSetImage(e *env, fs *flag.FlagSet, args []string) (string, error) {
	overlays := fs.Int("overlays", 2000, "overlay directories (five files each)")
	if err := e.setup(fs, args); err != nil {
		return "", err
	}
	kustomize, err := e.tool("kustomize")
	if err != nil {
		return "", err
	}
	variants := []*setImageVariant{{name: "all", dir: "all", every: 1}, {name: "1%", dir: "one-percent", every: 100}}
	var steps []step
	for _, v := range variants {
		if err := v.writeTrees(e, *overlays); err != nil {
			return "", err
		}
		steps = append(steps, v.steps(e, kustomize)...)
	}
	r := &runner{Runs: e.runs, Log: os.Stderr}
	if err := r.run(steps); err != nil {
		return "", err
	}
	// Both tools have now written the same references the same number of times.
	_, lastTag, lastDigest := setImageRef(e.runs + 1)
	checks := map[string]*setImageCheck{}
	for _, v := range variants {
		if checks[v.name], err = v.check(e, kustomize, *overlays, lastTag, lastDigest); err != nil {
			return "", err
		}
	}
	return setImageDoc(e, *overlays, variants, checks, r, steps), nil
}

// setImageVariant is one shape of the tree (every overlay uses the image, or one in every
// hundred) with a copy per tool: ferry's, kustomize's, and the original to compare against.
type setImageVariant struct {
	name, dir string
	every     int               // an overlay uses the image when i%every == 0
	used      int               // overlays that use it
	trees     map[string]string // tool → tree root
	nf, nk    int               // runs so far of ferry and of kustomize
}

func (v *setImageVariant) writeTrees(e *env, overlays int) error {
	files := setImageTree(overlays, func(i int) bool { return i%v.every == 0 })
	v.used = (overlays + v.every - 1) / v.every
	v.trees = map[string]string{}
	for _, tool := range []string{"ferry", "kustomize", "original"} {
		root := filepath.Join(e.work, v.dir, tool)
		if err := writeTree(root, files); err != nil {
			return err
		}
		v.trees[tool] = root
	}
	e.logf("set-image %s: %d files under overlays, %d overlays use %s", v.name, 5*overlays, v.used, setImageRepo)
	return nil
}

// Each tool writes the n-th reference on its n-th run, so both trees go through the same
// states and every run changes every entry that names the image.

func (v *setImageVariant) ferryProc(e *env) proc {
	v.nf++
	ref, _, _ := setImageRef(v.nf)
	return proc{Args: []string{e.ferry, "set-image", "--path", "overlays", ref}, Dir: v.trees["ferry"]}
}

// kustomizeProcs is one kustomize process per overlay that uses the image: every overlay,
// or (1%) those a grep finds, as a user would.
func (v *setImageVariant) kustomizeProcs(kustomize string) ([]proc, error) {
	v.nk++
	ref, _, _ := setImageRef(v.nk)
	var dirs []string
	if v.every == 1 {
		entries, err := os.ReadDir(filepath.Join(v.trees["kustomize"], "overlays"))
		if err != nil {
			return nil, err
		}
		for _, en := range entries {
			dirs = append(dirs, filepath.Join(v.trees["kustomize"], "overlays", en.Name()))
		}
	} else {
		// Which overlays name the image: what a user would grep for. Timed with the rest.
		r, err := runProc(proc{Args: []string{"grep", "-rlE", "--include=kustomization.yaml", setImageGrep, "overlays"}, Dir: v.trees["kustomize"]})
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(r.Stdout.String()) {
			dirs = append(dirs, filepath.Join(v.trees["kustomize"], filepath.Dir(f)))
		}
	}
	if len(dirs) != v.used {
		return nil, fmt.Errorf("found %d overlays to edit, want %d", len(dirs), v.used)
	}
	var ps []proc
	for _, d := range dirs {
		ps = append(ps, proc{Args: []string{kustomize, "edit", "set", "image", ref}, Dir: d})
	}
	return ps, nil
}

// steps are ferry's and kustomize's steps for the variant.
func (v *setImageVariant) steps(e *env, kustomize string) []step {
	kustomizeRun := func() (sample, error) {
		// The grep (1% variant) and every kustomize process are inside the timing.
		var s sample
		start := time.Now()
		ps, err := v.kustomizeProcs(kustomize)
		if err != nil {
			return s, err
		}
		s, err = measure(ps...)
		s.Wall = time.Since(start)
		return s, err
	}
	kustomizeRSS := func() (int64, error) {
		ps, err := v.kustomizeProcs(kustomize)
		if err != nil {
			return 0, err
		}
		kb, err := peakRSS(ps[0]) // every invocation does the same work
		if err != nil {
			return 0, err
		}
		_, err = measure(ps[1:]...)
		return kb, err
	}
	kustomizeCmd := "for D in overlays/*/; do (cd $D && kustomize edit set image $REF); done"
	if v.every != 1 {
		kustomizeCmd = "for D in $(grep -rlE --include=kustomization.yaml '" + setImageGrep + "' overlays); do (cd $(dirname $D) && kustomize edit set image $REF); done"
	}
	return []step{
		{Name: "ferry " + v.name, Cmd: "ferry set-image --path overlays $REF",
			Run: func() (sample, error) { return measure(v.ferryProc(e)) },
			RSS: func() (int64, error) { return peakRSS(v.ferryProc(e)) }},
		{Name: "kustomize " + v.name, Cmd: kustomizeCmd, Note: "each kustomize process started by the harness, no shell",
			Run: kustomizeRun, RSS: kustomizeRSS},
	}
}

// setImageCheck is what comparing a variant's ferry and kustomize trees found.
type setImageCheck struct {
	kustomizations, sameData, otherFiles, sameBytes, withNewTag, builds int
	ferryLines, kustomizeLines                                          int
}

// check compares the variant's two trees after the runs: every file equal (kustomizations as
// YAML data, the others byte for byte), the overlays that use the image at lastTag and
// lastDigest, and kustomize build of a few overlays the same from both.
func (v *setImageVariant) check(e *env, kustomize string, overlays int, lastTag, lastDigest string) (*setImageCheck, error) {
	c := &setImageCheck{}
	if err := v.compareFiles(e, c, lastTag, lastDigest); err != nil {
		return nil, err
	}
	if c.sameData != c.kustomizations || c.sameBytes != c.otherFiles || c.withNewTag != v.used {
		return nil, fmt.Errorf("variant %s: the trees differ: %+v (want every file equal and %d entries at %s)", v.name, *c, v.used, lastTag)
	}
	for _, i := range []int{0, overlays / 2, overlays - 1} {
		if err := v.compareBuild(kustomize, fmt.Sprintf("overlays/o%04d", i), i == 0, lastTag, lastDigest); err != nil {
			return nil, err
		}
		c.builds++
	}
	return c, v.countChangedLines(c)
}

// compareFiles walks ferry's tree and counts the files equal to kustomize's.
func (v *setImageVariant) compareFiles(e *env, c *setImageCheck, lastTag, lastDigest string) error {
	return filepath.WalkDir(v.trees["ferry"], func(p string, de iofs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(v.trees["ferry"], p)
		a, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(v.trees["kustomize"], rel))
		if err != nil {
			return err
		}
		if filepath.Base(p) != "kustomization.yaml" {
			c.otherFiles++
			if bytes.Equal(a, b) {
				c.sameBytes++
			}
			return nil
		}
		c.kustomizations++
		var da, db any
		if err := yaml.Unmarshal(a, &da); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := yaml.Unmarshal(b, &db); err != nil {
			return fmt.Errorf("%s (kustomize's): %w", rel, err)
		}
		if reflect.DeepEqual(da, db) {
			c.sameData++
		} else {
			e.logf("set-image %s: %s differs:\n--- ferry\n%s--- kustomize\n%s", v.name, rel, a, b)
		}
		if bytes.Contains(a, []byte("newTag: "+lastTag+"\n")) && bytes.Contains(a, []byte(lastDigest)) {
			c.withNewTag++
		}
		return nil
	})
}

// compareBuild checks that kustomize build of dir prints the same objects from both trees
// (and, for an overlay that uses the image, runs it at lastTag and lastDigest).
func (v *setImageVariant) compareBuild(kustomize, dir string, usesImage bool, lastTag, lastDigest string) error {
	a, err := runProc(proc{Args: []string{kustomize, "build", dir}, Dir: v.trees["ferry"]})
	if err != nil {
		return err
	}
	b, err := runProc(proc{Args: []string{kustomize, "build", dir}, Dir: v.trees["kustomize"]})
	if err != nil {
		return err
	}
	if !bytes.Equal(a.Stdout.Bytes(), b.Stdout.Bytes()) {
		return fmt.Errorf("variant %s: kustomize build %s differs between the trees", v.name, dir)
	}
	if usesImage && !strings.Contains(a.Stdout.String(), "image: "+setImageRepo+":"+lastTag+"@"+lastDigest) {
		return fmt.Errorf("variant %s: kustomize build %s does not run %s:%s", v.name, dir, setImageRepo, lastTag)
	}
	return nil
}

// countChangedLines counts the lines of overlay 0's kustomization.yaml each tool changed.
func (v *setImageVariant) countChangedLines(c *setImageCheck) error {
	orig, err := os.ReadFile(filepath.Join(v.trees["original"], "overlays/o0000/kustomization.yaml"))
	if err != nil {
		return err
	}
	for tool, n := range map[string]*int{"ferry": &c.ferryLines, "kustomize": &c.kustomizeLines} {
		b, err := os.ReadFile(filepath.Join(v.trees[tool], "overlays/o0000/kustomization.yaml"))
		if err != nil {
			return err
		}
		*n = changedLines(string(orig), string(b))
	}
	return nil
}

// setImageDoc is the section: the tree, the table of r's runs, the ratios, and what the checks
// found.
func setImageDoc(e *env, overlays int, variants []*setImageVariant, checks map[string]*setImageCheck, r *runner, steps []step) string {
	var d doc
	e.header(&d, "Manifest rewrite on a 10,000-file tree: `ferry set-image` against `kustomize edit set image`", "set-image")
	d.p("A generated tree of %s overlays (`overlays/oNNNN/`, five files each: kustomization.yaml, configmap.yaml, hpa.yaml, pdb.yaml and a replicas patch; %s files) on two bases outside the rewritten path.",
		fmtInt(overlays), fmtInt(5*overlays))
	d.p("An overlay that uses `%s` builds on `base` (whose Deployment runs it) and has an `images:` entry for it; the others build on `base-other` and have an entry for another image. So both tools do the same work: change that one entry in each overlay that uses the image, and nothing else.", setImageRepo)
	d.p("**all**: every overlay uses the image (%s entries to change); **1%%**: one overlay in a hundred does (%s), and the kustomize side first finds them with `grep` (timed with it).",
		fmtInt(variants[0].used), fmtInt(variants[1].used))
	d.p("Each tool has its own copy of the tree; run n of either writes `%s:1.n.0@sha256:…`, so every run changes every entry. kustomize runs as one process per overlay, started straight from the harness (no shell). No warm-up round (the tree was just written, so it is in the page cache).", setImageRepo)
	d.p("")
	var rows [][]string
	for _, v := range variants {
		f, k := r.stats("ferry "+v.name), r.stats("kustomize "+v.name)
		rows = append(rows,
			[]string{"ferry " + v.name, fmtInt(v.used), fmtDur(f.Wall), fmtDur(f.Min) + " – " + fmtDur(f.Max), "1.00×", fmtDur(f.CPU), fmtMB(f.MaxRSSKB)},
			[]string{"kustomize " + v.name, fmtInt(v.used), fmtDur(k.Wall), fmtDur(k.Min) + " – " + fmtDur(k.Max), fmtRatio(k.Wall, f.Wall), fmtDur(k.CPU), fmtMB(k.MaxRSSKB) + " per process"})
	}
	d.table([]string{"command", "entries changed", "median", "range", "/ ferry", "CPU", "peak RSS"}, "lrrrrrr", rows)
	all := variants[0]
	d.p("**kustomize / ferry: %s with every overlay using the image, %s with 1%%.** ferry reads and parses all %s files either way (its cost barely depends on how many entries change); kustomize pays one process start per overlay it edits (%s per overlay in the all case).",
		fmtRatio(r.stats("kustomize all").Wall, r.stats("ferry all").Wall), fmtRatio(r.stats("kustomize 1%").Wall, r.stats("ferry 1%").Wall),
		fmtInt(5*overlays), fmtDur(r.stats("kustomize all").Wall/durN(all.used)))
	d.p("")
	d.p("Equivalent results, checked after the runs: in both variants all %s kustomization.yaml files decode to the same YAML data in the two trees, the other %s files are byte-identical, the overlays that use the image name `%s` with the last tag and digest, and `kustomize build` of overlays 0, %d and %d prints the same objects from both trees.",
		fmtInt(checks["all"].kustomizations), fmtInt(checks["all"].otherFiles), setImageRepo, overlays/2, overlays-1)
	d.p("The files differ in form only: ferry changes the entry's lines in place (%d lines of overlay 0's kustomization.yaml), kustomize re-serialises the whole file (%d lines differ: fields sorted, lists re-indented, comments dropped).",
		checks["all"].ferryLines, checks["all"].kustomizeLines)
	d.p("")
	d.commands(steps)
	return d.String()
}

func durN(n int) time.Duration { return time.Duration(max(n, 1)) }

// changedLines counts the lines of b that are not lines of a (as a multiset).
func changedLines(a, b string) int {
	have := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		have[l]++
	}
	n := 0
	for _, l := range strings.Split(b, "\n") {
		if have[l] > 0 {
			have[l]--
			continue
		}
		n++
	}
	return n
}
