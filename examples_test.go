package ferry_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferryhq/ferry/internal/testenv"
)

// The examples are documentation that runs: these tests keep them true. Every ferry.yaml
// follows the schema; every kustomize tree builds; every CI file uses only pinned actions, the
// Action's real inputs, and ferry commands and flags that exist.

// exampleConfigRepos are the example config repositories: directories with a ferry.yaml.
func exampleConfigRepos(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir("examples", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "ferry.yaml" && filepath.Dir(p) != "examples" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"examples/helm", "examples/kustomize", "examples/plain"}
	if diff := cmp.Diff(want, dirs); diff != "" {
		t.Fatalf("example config repos (-want +got):\n%s", diff)
	}
	return dirs
}

// schemaNode is DESIGN.md's ferry.yaml schema: object keys, list items, or a scalar leaf.
type schemaNode struct {
	keys map[string]*schemaNode
	item *schemaNode
}

var leaf = &schemaNode{}

func obj(keys map[string]*schemaNode) *schemaNode { return &schemaNode{keys: keys} }
func list(item *schemaNode) *schemaNode           { return &schemaNode{item: item} }

var pullRequestSchema = obj(map[string]*schemaNode{
	"provider": leaf, "url": leaf, "title": leaf, "body": leaf, "labels": list(leaf),
	"reviewers": list(leaf), "assignees": list(leaf), "draft": leaf, "autoMerge": leaf,
})

var ferrySchema = obj(map[string]*schemaNode{
	"images": list(obj(map[string]*schemaNode{
		"name": leaf, "repository": leaf,
		"policy": obj(map[string]*schemaNode{
			"semver": leaf, "prerelease": leaf, "numerical": leaf, "alphabetical": leaf,
			"newestBuild": obj(map[string]*schemaNode{}), "digest": leaf,
		}),
		"tags":      obj(map[string]*schemaNode{"allow": leaf, "ignore": list(leaf)}),
		"platforms": list(leaf),
		"verify": list(obj(map[string]*schemaNode{
			"key": leaf, "requireTlog": leaf,
			"keyless": obj(map[string]*schemaNode{
				"issuer": leaf, "issuerRegexp": leaf, "identity": leaf, "identityRegexp": leaf,
				"trustedRoot": leaf, "insecureIgnoreTlog": leaf, "insecureIgnoreSCT": leaf,
			}),
		})),
		"insecureSkipVerify": leaf, "pin": leaf, "markers": list(leaf),
		"fields": list(obj(map[string]*schemaNode{"path": leaf, "part": leaf, "files": leaf})),
	})),
	"registries": list(obj(map[string]*schemaNode{
		"host": leaf, "insecure": leaf, "tokenEnv": leaf, "requestsPerSecond": leaf, "immutableTags": leaf,
	})),
	"environments": list(obj(map[string]*schemaNode{
		"name": leaf, "path": leaf, "source": leaf, "write": leaf,
		"gates": obj(map[string]*schemaNode{"soak": leaf}), "pullRequest": pullRequestSchema,
	})),
	"git": obj(map[string]*schemaNode{
		"branch": leaf, "author": leaf, "committer": leaf, "commitMessage": leaf,
		"signingKey":  obj(map[string]*schemaNode{"gpg": leaf, "ssh": leaf}),
		"pullRequest": pullRequestSchema,
	}),
})

// checkSchema reports every key the schema does not know, and every shape mismatch, by line.
func checkSchema(n *yaml.Node, s *schemaNode, path string) []string {
	var errs []string
	switch {
	case s.keys != nil:
		if n.Kind != yaml.MappingNode {
			return []string{fmt.Sprintf("line %d: %s: want a map", n.Line, path)}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub, ok := s.keys[k.Value]
			if !ok {
				errs = append(errs, fmt.Sprintf("line %d: %s.%s: unknown key", k.Line, path, k.Value))
				continue
			}
			errs = append(errs, checkSchema(v, sub, path+"."+k.Value)...)
		}
	case s.item != nil:
		if n.Kind != yaml.SequenceNode {
			return []string{fmt.Sprintf("line %d: %s: want a list", n.Line, path)}
		}
		for i, c := range n.Content {
			errs = append(errs, checkSchema(c, s.item, fmt.Sprintf("%s[%d]", path, i))...)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			errs = append(errs, fmt.Sprintf("line %d: %s: want a scalar", n.Line, path))
		}
	}
	return errs
}

// exampleConfig is the part of ferry.yaml the example tests read.
type exampleConfig struct {
	Images []struct {
		Name       string `yaml:"name"`
		Repository string `yaml:"repository"`
		Verify     []struct {
			Key string `yaml:"key"`
		} `yaml:"verify"`
		InsecureSkipVerify bool `yaml:"insecureSkipVerify"`
	} `yaml:"images"`
	Environments []struct {
		Name   string `yaml:"name"`
		Path   string `yaml:"path"`
		Source string `yaml:"source"`
		Write  string `yaml:"write"`
	} `yaml:"environments"`
}

// TestExampleConfigs checks every example ferry.yaml against DESIGN.md's schema and that the
// files it names exist.
//
// TODO(config): when promote/config lands on main, load with config.Load and check with
// (*Config).CheckFiles instead of this schema copy.
func TestExampleConfigs(t *testing.T) {
	for _, dir := range exampleConfigRepos(t) {
		t.Run(dir, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "ferry.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatalf("ferry.yaml: %v", err)
			}
			for _, e := range checkSchema(doc.Content[0], ferrySchema, "") {
				t.Errorf("%s/ferry.yaml: %s", dir, e)
			}
			var cfg exampleConfig
			if err := yaml.Unmarshal(data, &cfg); err != nil {
				t.Fatal(err)
			}
			envs := map[string]bool{}
			for _, e := range cfg.Environments {
				envs[e.Name] = true
				if fi, err := os.Stat(filepath.Join(dir, e.Path)); err != nil || !fi.IsDir() {
					t.Errorf("environment %s: path %s is not a directory", e.Name, e.Path)
				}
				if e.Write != "commit" && e.Write != "pull-request" {
					t.Errorf("environment %s: write %q", e.Name, e.Write)
				}
			}
			for _, e := range cfg.Environments {
				if e.Source != "registry" && !envs[e.Source] {
					t.Errorf("environment %s: source %q names no environment", e.Name, e.Source)
				}
			}
			for _, img := range cfg.Images {
				if len(img.Verify) == 0 && !img.InsecureSkipVerify {
					t.Errorf("image %s: no verify entries", img.Name)
				}
				for _, v := range img.Verify {
					if v.Key == "" || strings.HasPrefix(v.Key, "env://") {
						continue
					}
					if _, err := os.Stat(filepath.Join(dir, v.Key)); err != nil {
						t.Errorf("image %s: key %s: %v", img.Name, v.Key, err)
					}
				}
			}
		})
	}
}

// TestExampleKustomizeBuilds runs `kustomize build` on every kustomization in examples/ and
// on each Kubernetes example manifest, so the examples stay valid Kubernetes configuration.
func TestExampleKustomizeBuilds(t *testing.T) {
	kustomize := testenv.Tool(t, "kustomize")
	var dirs []string
	err := filepath.WalkDir("examples", func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 4 {
		t.Fatalf("found kustomizations %v, want the kustomize example's base and three overlays", dirs)
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			if out, err := exec.Command(kustomize, "build", dir).CombinedOutput(); err != nil {
				t.Errorf("kustomize build %s: %v\n%s", dir, err, out)
			}
		})
	}
	// The overlays pin what their images: entries say.
	for _, env := range []string{"dev", "staging", "prod"} {
		t.Run("examples/kustomize/overlays/"+env+" images", func(t *testing.T) {
			out, err := exec.Command(kustomize, "build", "examples/kustomize/overlays/"+env).Output()
			if err != nil {
				t.Fatal(err)
			}
			images := regexp.MustCompile(`image: (\S+)`).FindAllStringSubmatch(string(out), -1)
			if len(images) != 3 {
				t.Fatalf("want 3 images in the output, got %v", images)
			}
			for _, m := range images {
				if !regexp.MustCompile(`^ghcr\.io/acme/(api|worker):[\w.]+@sha256:[0-9a-f]{64}$`).MatchString(m[1]) {
					t.Errorf("image %s is not pinned by tag and digest", m[1])
				}
			}
		})
	}
	manifests, err := filepath.Glob("examples/kubernetes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range manifests {
		if filepath.Base(m) == "kustomization.yaml" {
			continue
		}
		t.Run(m, func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(m)), data, 0o644); err != nil {
				t.Fatal(err)
			}
			k := "resources:\n  - " + filepath.Base(m) + "\n"
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(kustomize, "build", dir).CombinedOutput(); err != nil {
				t.Errorf("kustomize build of %s: %v\n%s", m, err, out)
			}
		})
	}
}

// ferryCall is one ferry invocation found in an example CI file.
type ferryCall struct {
	where   string
	command string
	args    []string
}

// TestExampleWorkflows checks the GitHub Actions examples: pinned third-party actions, the
// Action's real inputs, permissions, and a shard matrix that covers every shard once.
func TestExampleWorkflows(t *testing.T) {
	a, _ := loadAction(t)
	files, err := filepath.Glob("examples/github-actions/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if diff := cmp.Diff([]string{"post-build.yml", "promote.yml", "watch-sharded.yml", "watch.yml"}, names); diff != "" {
		t.Fatalf("workflows (-want +got):\n%s", diff)
	}
	pinned := regexp.MustCompile(`^[\w.-]+/[\w.-]+@[0-9a-f]{40}$`)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			wf := readWorkflow(t, f)
			if len(wf.On) == 0 {
				t.Errorf("no triggers")
			}
			for job, j := range wf.Jobs {
				for i, st := range j.Steps {
					switch {
					case strings.HasPrefix(st.Uses, "ferryhq/ferry@"):
						for k := range st.With {
							if _, ok := a.Inputs[k]; !ok {
								t.Errorf("job %s step %d: input %q is not in action.yml", job, i, k)
							}
						}
						if !slices.Contains([]string{"bump", "watch", "promote", "status", "verify", "tags"}, st.With["command"]) {
							t.Errorf("job %s step %d: command %q", job, i, st.With["command"])
						}
					case st.Uses != "" && !pinned.MatchString(st.Uses):
						t.Errorf("job %s step %d: %s is not pinned by commit", job, i, st.Uses)
					}
					if strings.Contains(st.Run, "${{") {
						t.Errorf("job %s step %d: an expression inside run:; pass it through env", job, i)
					}
				}
			}
			switch filepath.Base(f) {
			case "post-build.yml":
				wantPerms(t, wf, map[string]string{"contents": "read", "packages": "write", "id-token": "write"})
			default:
				wantPerms(t, wf, map[string]string{"contents": "write", "pull-requests": "write", "packages": "read"})
			}
		})
	}

	// The sharded watcher's matrix is 0..N-1 and each job passes --shard I/N.
	wf := readWorkflow(t, "examples/github-actions/watch-sharded.yml")
	job := wf.Jobs["watch"]
	shards := job.Strategy.Matrix["shard"]
	for i, s := range shards {
		if s != fmt.Sprint(i) {
			t.Errorf("matrix shard[%d] = %s, want %d", i, s, i)
		}
	}
	var args string
	for _, st := range job.Steps {
		if strings.HasPrefix(st.Uses, "ferryhq/ferry@") {
			args = st.With["args"]
		}
	}
	if want := fmt.Sprintf("--once --shard ${{ matrix.shard }}/%d", len(shards)); args != want {
		t.Errorf("sharded args %q, want %q", args, want)
	}

	// The Indexed Job's completions match its --shard total.
	data, err := os.ReadFile("examples/kubernetes/indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ij struct {
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Args []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(data, &ij); err != nil {
		t.Fatal(err)
	}
	wantArg := fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", ij.Spec.Completions)
	if ij.Spec.CompletionMode != "Indexed" || !slices.Contains(ij.Spec.Template.Spec.Containers[0].Args, wantArg) {
		t.Errorf("indexed job: mode %q, args %v; want Indexed and %q", ij.Spec.CompletionMode, ij.Spec.Template.Spec.Containers[0].Args, wantArg)
	}
}

type workflow struct {
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Strategy struct {
			Matrix map[string][]string `yaml:"matrix"`
		} `yaml:"strategy"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"jobs"`
}

func readWorkflow(t *testing.T, path string) *workflow {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &wf
}

func wantPerms(t *testing.T, wf *workflow, want map[string]string) {
	t.Helper()
	if diff := cmp.Diff(want, wf.Permissions); diff != "" {
		t.Errorf("permissions (-want +got):\n%s", diff)
	}
}

// exampleFerryCalls collects every ferry invocation in the CI examples: the Action's command
// and args, GitLab script lines, and Kubernetes container args.
func exampleFerryCalls(t *testing.T) []ferryCall {
	t.Helper()
	var calls []ferryCall
	files, _ := filepath.Glob("examples/github-actions/*.yml")
	for _, f := range files {
		for job, j := range readWorkflow(t, f).Jobs {
			for _, st := range j.Steps {
				if strings.HasPrefix(st.Uses, "ferryhq/ferry@") {
					calls = append(calls, ferryCall{where: f + " job " + job, command: st.With["command"], args: strings.Fields(st.With["args"])})
				}
			}
		}
	}
	data, err := os.ReadFile("examples/gitlab-ci/.gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var gl map[string]any
	if err := yaml.Unmarshal(data, &gl); err != nil {
		t.Fatalf(".gitlab-ci.yml: %v", err)
	}
	for name, job := range gl {
		m, ok := job.(map[string]any)
		if !ok {
			continue
		}
		script, _ := m["script"].([]any)
		for _, line := range script {
			s, _ := line.(string)
			if f := strings.Fields(s); len(f) > 1 && f[0] == "ferry" {
				calls = append(calls, ferryCall{where: ".gitlab-ci.yml job " + name, command: f[1], args: f[2:]})
			}
		}
	}
	for _, f := range []string{"examples/kubernetes/cronjob.yaml", "examples/kubernetes/indexed-job.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^\s*args: \[(.*)\]$`).FindAllStringSubmatch(string(data), -1) {
			var args []string
			for _, a := range strings.Split(m[1], ",") {
				args = append(args, strings.Trim(strings.TrimSpace(a), `"`))
			}
			calls = append(calls, ferryCall{where: f, command: args[0], args: args[1:]})
		}
	}
	if len(calls) < 10 {
		t.Fatalf("found only %d ferry calls in the CI examples: %+v", len(calls), calls)
	}
	return calls
}

// TestExampleFerryCalls checks that every ferry command and flag the CI examples use exists,
// by asking the built ferry for each command's help.
func TestExampleFerryCalls(t *testing.T) {
	ferry := buildFerry(t)
	helps := map[string]string{}
	for _, c := range exampleFerryCalls(t) {
		help, ok := helps[c.command]
		if !ok {
			out, err := exec.Command(ferry, c.command, "--help").CombinedOutput()
			if err != nil {
				t.Errorf("%s: ferry %s --help: %v\n%s", c.where, c.command, err, out)
				helps[c.command] = ""
				continue
			}
			help = string(out)
			helps[c.command] = help
		}
		if help == "" {
			continue
		}
		for _, a := range c.args {
			if flag, ok := strings.CutPrefix(a, "--"); ok {
				flag, _, _ = strings.Cut(flag, "=")
				if !strings.Contains(help, "--"+flag+" ") && !strings.Contains(help, "--"+flag+"\t") && !strings.Contains(help, "--"+flag+",") {
					t.Errorf("%s: ferry %s has no flag --%s", c.where, c.command, flag)
				}
			}
		}
	}
}
