package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/testenv"
)

// TestDemo runs `ferry demo` end to end in-process: the narration shows each step's key
// line in order, the kept clone holds the final state, and nothing else is left behind.
func TestDemo(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // every temporary file the demo and ferry make goes here
	code, out, errOut := runCLI(t, "demo")
	if code != 0 {
		t.Fatalf("ferry demo: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// The narration: each key line, in this order.
	rest := out
	for _, want := range []string{
		"pushed 127.0.0.1:",
		"1.0.0, 1.1.0, 1.2.0 signed; 1.3.0 pushed but never signed",
		"$ ferry watch --once",
		"dev: envs/dev/kustomization.yaml:8 images[0]: ",
		"/demo/api:1.2.0@sha256:",
		"dev: committed ",
		"skipped dev api 1.3.0: unsigned",
		"$ ferry promote dev staging",
		"staging: envs/staging/values.yaml:",
		"staging: committed ",
		"$ ferry promote staging prod",
		"prod: envs/prod/deployment.yaml:",
		"prod: pushed branch ferry/prod/from-staging",
		"$ ferry status",
		"staging      api              1.2.0 ",
		"prod         api              1.0.0 ",
		"$ ferry rollback dev --image api",
		"/demo/api:1.2.0@sha256:",
		"dev: committed ",
		"$ ferry watch --once",
		"skipped dev api 1.2.0: rolled-back",
		"$ ferry history",
		" dev          api    rollback ",
		" staging      api    promote ",
		"ROLLBACKS",
		"$ git log --all",
		"(ferry/prod/from-staging) prod: update api, web from staging",
		"Ferry-Source: staging",
		"Ferry-Environment: prod",
		"Ferry-Source: dev",
		"Ferry-Image: api=127.0.0.1:",
		"Ferry-Source: registry",
		"the config repo is kept at",
	} {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("narration lacks %q after the lines before it:\n%s", want, out)
		}
		rest = rest[i+len(want):]
	}
	// the rollback commit, wherever git log puts it among commits made in the same second
	if log := out[strings.Index(out, "$ git log --all"):]; !strings.Contains(log, "(HEAD -> main) dev: roll back api\n") || !strings.Contains(log, "Ferry-Rollback: api=127.0.0.1:") {
		t.Errorf("git log lacks the rollback commit:\n%s", log)
	}
	if errOut != "" {
		t.Errorf("stderr is not empty:\n%s", errOut)
	}

	// Only the kept clone is left in the temporary directory.
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 1 || !strings.HasPrefix(left[0], "ferry-demo-") {
		t.Fatalf("left in TMPDIR: %v, want one ferry-demo-* directory", left)
	}
	repo := filepath.Join(tmp, left[0])
	if !strings.Contains(out, repo) {
		t.Errorf("narration does not print the kept repo's path %s", repo)
	}

	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	if diff := cmp.Diff([]string{"ferry/prod/from-staging", "main"}, strings.Fields(git("branch", "--format=%(refname:short)"))); diff != "" {
		t.Errorf("kept branches (-want +got):\n%s", diff)
	}
	if got := git("remote"); got != "" {
		t.Errorf("kept clone still has remotes: %q (its remote was removed)", got)
	}
	if got := git("status", "--porcelain"); got != "" {
		t.Errorf("kept clone is not clean:\n%s", got)
	}
	for _, tc := range []struct {
		rev, file string
		want      []string
		not       []string
	}{
		// dev was rolled back from api 1.2.0 to 1.0.0
		{"main", "envs/dev/kustomization.yaml", []string{"newTag: 1.0.0", "/demo/web"}, []string{"1.3.0", "1.2.0"}},
		{"main", "envs/staging/values.yaml", []string{`tag: "1.2.0"`, `tag: "2.1.0"`}, []string{"1.3.0"}},
		{"main", "envs/prod/deployment.yaml", []string{"/demo/api:1.0.0@sha256:", "/demo/web:2.0.0@sha256:"}, nil},
		{"ferry/prod/from-staging", "envs/prod/deployment.yaml", []string{"/demo/api:1.2.0@sha256:", "/demo/web:2.1.0@sha256:"}, nil},
		{"main", "base/deployment.yaml", []string{"/demo/api:1.0.0\n", "/demo/web:2.0.0\n"}, nil},
	} {
		t.Run(tc.rev+":"+tc.file, func(t *testing.T) {
			got := git("show", tc.rev+":"+tc.file)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("holds %q:\n%s", n, got)
				}
			}
		})
	}

	// dev's overlay still builds.
	build := exec.Command(testenv.Tool(t, "kustomize"), "build", filepath.Join(repo, "envs", "dev"))
	b, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("kustomize build envs/dev: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), "/demo/api@sha256:") && !strings.Contains(string(b), "/demo/api:1.0.0@") {
		t.Errorf("kustomize build does not run api 1.0.0 by digest:\n%s", b)
	}
}

func TestDemoRefusals(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"an argument", []string{"demo", "extra"}, exitUsage, "takes no arguments"},
		{"a non-empty dir", []string{"demo", "--dir", full}, exitError, "is not empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.code, tc.msg)
			}
		})
	}
}
