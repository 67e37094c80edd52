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

	"github.com/ferryhq/ferry/internal/imagebuild"
	"github.com/ferryhq/ferry/internal/testenv"
	"github.com/ferryhq/ferry/promote/config"
)

// The examples are documentation that runs: these tests keep them true. Every ferry.yaml
// loads and lints; every kustomize tree builds; every CI file uses only pinned actions, the
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

// TestExampleConfigs loads every example ferry.yaml with ferry's own loader (strict schema,
// line-numbered errors), checks that the files it names exist, and runs `ferry lint` on each
// example repo as a user would.
func TestExampleConfigs(t *testing.T) {
	ferry := buildFerry(t)
	for _, dir := range exampleConfigRepos(t) {
		t.Run(dir, func(t *testing.T) {
			fsys := os.DirFS(dir)
			cfg, err := config.Load(fsys, "ferry.yaml")
			if err != nil {
				t.Fatalf("%s/ferry.yaml: %v", dir, err)
			}
			if err := cfg.CheckFiles(fsys); err != nil {
				t.Errorf("%s/ferry.yaml: %v", dir, err)
			}
			if len(cfg.Images) < 2 || len(cfg.Environments) != 3 {
				t.Errorf("want at least two images and dev, staging, prod; got %d images, %d environments", len(cfg.Images), len(cfg.Environments))
			}
			out, err := exec.Command(ferry, "lint", "--repo", dir).CombinedOutput()
			if err != nil {
				t.Errorf("ferry lint --repo %s: %v\n%s", dir, err, out)
			}
		})
	}
	// The annotated reference example loads too (its key files are illustrative).
	if _, err := config.Load(os.DirFS("examples"), "ferry.yaml"); err != nil {
		t.Errorf("examples/ferry.yaml: %v", err)
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
	for _, f := range []string{"examples/kubernetes/cronjob.yaml", "examples/kubernetes/indexed-job.yaml", "examples/kubernetes/deployment.yaml"} {
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

// TestExampleFerryImage checks that the examples run ferry as it is shipped: the Kubernetes
// manifests name ferry's own image and run as its user, and GitLab CI needs no Go toolchain.
func TestExampleFerryImage(t *testing.T) {
	uid, _, _ := strings.Cut(imagebuild.User, ":")
	for _, f := range []string{"examples/kubernetes/cronjob.yaml", "examples/kubernetes/indexed-job.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		images := regexp.MustCompile(`(?m)^\s*image: (\S+)$`).FindAllStringSubmatch(string(data), -1)
		if len(images) != 1 || !regexp.MustCompile(`^ghcr\.io/ferryhq/ferry:\d+\.\d+\.\d+$`).MatchString(images[0][1]) {
			t.Errorf("%s: images %v, want one ghcr.io/ferryhq/ferry:<version>", f, images)
		}
		if !strings.Contains(string(data), "runAsUser: "+uid+"\n") {
			t.Errorf("%s: does not run as the image's user %s", f, uid)
		}
	}
	data, err := os.ReadFile("examples/gitlab-ci/.gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"golang:", "go install", "go build"} {
		if strings.Contains(string(data), bad) {
			t.Errorf(".gitlab-ci.yml: %q; ferry comes from a release, not a Go toolchain", bad)
		}
	}
	if !strings.Contains(string(data), "sha256sum -c") {
		t.Errorf(".gitlab-ci.yml does not check the release archive against checksums.txt")
	}
}
