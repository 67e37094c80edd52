package ferry_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// This file is a small stand-in for the GitHub Actions runner: it reads action.yml and runs
// its composite steps the way a runner does (expressions substituted, `if:` evaluated, each
// step with its own $GITHUB_OUTPUT, scripts run by `bash --noprofile --norc -eo pipefail`).
// `uses:` steps are simulated: actions/setup-go must be skipped when Go is on PATH, and
// actions/cache is a directory keyed by the cache key.

type actionFile struct {
	Name        string                  `yaml:"name"`
	Description string                  `yaml:"description"`
	Inputs      map[string]actionInput  `yaml:"inputs"`
	Outputs     map[string]actionOutput `yaml:"outputs"`
	Runs        struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionInput struct {
	Description string `yaml:"description"`
	Required    bool   `yaml:"required"`
	Default     string `yaml:"default"`
}

type actionOutput struct {
	Description string `yaml:"description"`
	Value       string `yaml:"value"`
}

type actionStep struct {
	Name             string            `yaml:"name"`
	ID               string            `yaml:"id"`
	If               string            `yaml:"if"`
	Shell            string            `yaml:"shell"`
	Run              string            `yaml:"run"`
	Uses             string            `yaml:"uses"`
	WorkingDirectory string            `yaml:"working-directory"`
	Env              map[string]string `yaml:"env"`
	With             map[string]string `yaml:"with"`
}

func loadAction(t *testing.T) (*actionFile, []byte) {
	t.Helper()
	data, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return &a, data
}

// runner holds what persists between runs of the action in one simulated job (the cache).
type runner struct {
	t          *testing.T
	action     *actionFile
	actionPath string // the action's checkout: this repository
	actionRef  string
	workspace  string // $GITHUB_WORKSPACE
	cacheDir   string // actions/cache storage, one directory per key
	token      string // what ${{ github.token }} is
	path       string // PATH given to the steps
	os, arch   string // runner.os and runner.arch
	extraEnv   []string
}

func newRunner(t *testing.T) *runner {
	t.Helper()
	a, _ := loadAction(t)
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return &runner{
		t:          t,
		action:     a,
		actionPath: root,
		actionRef:  "v0.0.0-test",
		workspace:  t.TempDir(),
		cacheDir:   t.TempDir(),
		token:      "ghs_TestOnlyTokenThatMustNeverBePrinted0123",
		path:       os.Getenv("PATH"),
		os:         "Linux",
		arch:       "X64",
	}
}

// stepRun is what one step did.
type stepRun struct {
	step    actionStep
	skipped bool
	code    int
	stdout  string
	stderr  string
	outputs map[string]string
	summary string
	path    string // what the step appended to $GITHUB_PATH
}

// actionRun is what one use of the action did.
type actionRun struct {
	steps   []stepRun
	outputs map[string]string // the action's outputs
	summary string            // the job summary, all steps
	failed  bool
	code    int // the failing step's exit code
}

// stepByID returns the action's step with that id.
func (r *runner) stepByID(t *testing.T, id string) actionStep {
	t.Helper()
	for _, st := range r.action.Runs.Steps {
		if st.ID == id {
			return st
		}
	}
	t.Fatalf("action.yml has no step with id %q", id)
	return actionStep{}
}

func (r *actionRun) step(t *testing.T, name string) stepRun {
	t.Helper()
	for _, s := range r.steps {
		if s.step.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q ran", name)
	return stepRun{}
}

// run uses the action once with the given inputs.
func (r *runner) run(inputs map[string]string) *actionRun {
	t := r.t
	t.Helper()
	temp := t.TempDir() // $RUNNER_TEMP is per job
	ctx := map[string]string{
		"github.action_path": r.actionPath,
		"github.action_ref":  r.actionRef,
		"github.token":       r.token,
		"github.workspace":   r.workspace,
		"runner.temp":        temp,
		"runner.os":          r.os,
		"runner.arch":        r.arch,
	}
	for name, in := range r.action.Inputs {
		v, given := inputs[name]
		if !given {
			v = expand(t, in.Default, ctx)
		}
		ctx["inputs."+name] = v
	}
	for name := range inputs {
		if _, ok := r.action.Inputs[name]; !ok {
			t.Fatalf("input %q is not declared in action.yml", name)
		}
	}

	res := &actionRun{outputs: map[string]string{}}
	var saves []func()
	for i, st := range r.action.Runs.Steps {
		cond := st.If
		if cond == "" {
			cond = "success()"
		}
		if !evalIf(t, cond, ctx, res.failed) {
			res.steps = append(res.steps, stepRun{step: st, skipped: true})
			continue
		}
		var sr stepRun
		switch {
		case strings.HasPrefix(st.Uses, "actions/setup-go@"):
			t.Fatalf("step %d (%s) ran although Go is on PATH", i, st.Name)
		case strings.HasPrefix(st.Uses, "actions/cache@"):
			sr, saves = r.cacheStep(st, ctx), append(saves, r.cacheSave(st, ctx))
		case st.Uses != "":
			t.Fatalf("step %d uses %s, which this test does not simulate", i, st.Uses)
		default:
			sr = r.runStep(st, ctx, temp)
		}
		if st.ID != "" {
			for k, v := range sr.outputs {
				ctx["steps."+st.ID+".outputs."+k] = v
			}
		}
		res.summary += sr.summary
		if sr.path != "" {
			r.path = strings.TrimSpace(sr.path) + string(os.PathListSeparator) + r.path
		}
		res.steps = append(res.steps, sr)
		if sr.code != 0 {
			res.failed, res.code = true, sr.code
		}
	}
	if !res.failed {
		for _, save := range saves { // actions/cache saves in the job's post step, on success
			save()
		}
	}
	for name, out := range r.action.Outputs {
		res.outputs[name] = expand(t, out.Value, ctx)
	}
	return res
}

func (r *runner) runStep(st actionStep, ctx map[string]string, temp string) stepRun {
	t := r.t
	t.Helper()
	if st.Shell != "bash" {
		t.Fatalf("step %q: shell %q, want bash", st.Name, st.Shell)
	}
	dir := t.TempDir()
	files := map[string]string{}
	for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_PATH", "GITHUB_ENV"} {
		files[f] = filepath.Join(dir, strings.ToLower(f))
		if err := os.WriteFile(files[f], nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(script, []byte(expand(t, st.Run, ctx)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
	cmd.Dir = r.workspace
	if wd := expand(t, st.WorkingDirectory, ctx); wd != "" {
		if !filepath.IsAbs(wd) {
			wd = filepath.Join(r.workspace, wd)
		}
		cmd.Dir = wd
	}
	env := []string{
		"PATH=" + r.path,
		"HOME=" + os.Getenv("HOME"),
		"GITHUB_ACTIONS=true",
		"CI=true",
		"GITHUB_ACTION_PATH=" + r.actionPath,
		"GITHUB_ACTION_REF=" + r.actionRef,
		"GITHUB_WORKSPACE=" + r.workspace,
		"RUNNER_TEMP=" + temp,
		"RUNNER_OS=Linux",
		"RUNNER_ARCH=X64",
	}
	// Go's own settings, so that builds use this machine's caches and module proxy.
	for _, k := range []string{"GOCACHE", "GOPATH", "GOMODCACHE", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN", "GONOSUMDB", "GOPRIVATE", "GOSUMDB", "XDG_CACHE_HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for f, p := range files {
		env = append(env, f+"="+p)
	}
	env = append(env, r.extraEnv...)
	for k, v := range st.Env {
		env = append(env, k+"="+expand(t, v, ctx))
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	sr := stepRun{step: st}
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("step %q: %v", st.Name, err)
		}
		sr.code = ee.ExitCode()
	}
	sr.stdout, sr.stderr = stdout.String(), stderr.String()
	out, err := os.ReadFile(files["GITHUB_OUTPUT"])
	if err != nil {
		t.Fatal(err)
	}
	sr.outputs = parseGitHubOutput(t, string(out))
	summary, _ := os.ReadFile(files["GITHUB_STEP_SUMMARY"])
	sr.summary = string(summary)
	p, _ := os.ReadFile(files["GITHUB_PATH"])
	sr.path = string(p)
	return sr
}

// cacheStep restores actions/cache's path when its key was saved before.
func (r *runner) cacheStep(st actionStep, ctx map[string]string) stepRun {
	t := r.t
	key := expand(t, st.With["key"], ctx)
	path := expand(t, st.With["path"], ctx)
	if key == "" || path == "" {
		t.Fatalf("actions/cache step without key or path: %+v", st.With)
	}
	saved := filepath.Join(r.cacheDir, key)
	if _, err := os.Stat(saved); err != nil {
		return stepRun{step: st, outputs: map[string]string{"cache-hit": "false"}}
	}
	copyTree(t, saved, path)
	return stepRun{step: st, outputs: map[string]string{"cache-hit": "true"}}
}

func (r *runner) cacheSave(st actionStep, ctx map[string]string) func() {
	key := expand(r.t, st.With["key"], ctx)
	// The path names a step output that is known now but the files appear later.
	return func() {
		path := expand(r.t, st.With["path"], ctx)
		saved := filepath.Join(r.cacheDir, key)
		if _, err := os.Stat(saved); err == nil {
			return // a cache entry is never overwritten
		}
		copyTree(r.t, path, saved)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, info.Mode())
	})
	if err != nil {
		t.Fatalf("copying %s to %s: %v", from, to, err)
	}
}

var exprRE = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// expand substitutes ${{ name }} expressions; only plain context lookups are allowed, which
// is all action.yml may use outside `if:`.
func expand(t *testing.T, s string, ctx map[string]string) string {
	t.Helper()
	return exprRE.ReplaceAllStringFunc(s, func(m string) string {
		name := exprRE.FindStringSubmatch(m)[1]
		v, ok := ctx[name]
		if !ok && !strings.HasPrefix(name, "steps.") {
			t.Fatalf("expression %q names nothing this runner knows", m)
		}
		return v // an unset step output is the empty string, as on GitHub
	})
}

var condRE = regexp.MustCompile(`^([a-z][a-z0-9_.-]*)\s*(==|!=)\s*'([^']*)'$`)

// evalIf evaluates the `if:` forms action.yml uses: success(), always(), failure(), and
// `context.path == 'literal'` or `!=`, joined by &&. Anything else fails the test.
func evalIf(t *testing.T, cond string, ctx map[string]string, failed bool) bool {
	t.Helper()
	cond = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(cond), "${{"), "}}"))
	statusChecked := false
	result := true
	for _, part := range strings.Split(cond, "&&") {
		part = strings.TrimSpace(part)
		switch part {
		case "success()":
			statusChecked = true
			result = result && !failed
			continue
		case "always()":
			statusChecked = true
			continue
		case "failure()":
			statusChecked = true
			result = result && failed
			continue
		}
		m := condRE.FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("if: %q is not a form this runner evaluates", cond)
		}
		v := ctx[m[1]]
		if m[2] == "==" {
			result = result && v == m[3]
		} else {
			result = result && v != m[3]
		}
	}
	if !statusChecked && failed {
		return false // an implicit success()
	}
	return result
}

// parseGitHubOutput reads a $GITHUB_OUTPUT file the way the runner does.
func parseGitHubOutput(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, delim, ok := strings.Cut(line, "<<"); ok {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				t.Fatalf("output %s: delimiter %s never closes", name, delim)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("bad $GITHUB_OUTPUT line %q", line)
		}
		out[name] = val
	}
	return out
}

func (r *actionRun) String() string {
	var b strings.Builder
	for _, s := range r.steps {
		if s.skipped {
			fmt.Fprintf(&b, "- %s: skipped\n", s.step.Name)
			continue
		}
		fmt.Fprintf(&b, "- %s: exit %d\n  stdout: %s\n  stderr: %s\n", s.step.Name, s.code, s.stdout, s.stderr)
	}
	return b.String()
}
