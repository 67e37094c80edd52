package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/testenv"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
	"github.com/ferryhq/ferry/promote/promotetest"
)

// buildFerry builds the ferry binary once into a temporary directory.
func buildFerry(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ferry")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestConcurrentBumpProcesses starts 10 ferry bump processes at once, each bumping a different
// image into the same environment (the same kustomization file) of one bare repo whose main
// branch refuses non-fast-forward pushes. Every process must succeed, and every change must be
// on main afterwards, each process's commit reachable, history linear, main never forced.
func TestConcurrentBumpProcesses(t *testing.T) {
	const n = 10
	bin := buildFerry(t)
	kustomize := testenv.Tool(t, "kustomize")
	var images []string
	for i := range n {
		images = append(images, fmt.Sprintf("img%d", i))
	}
	w := promotetest.NewWorld(t, promotetest.Spec{Images: images})
	start := w.Head("main")

	env := []string{}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasSuffix(k, "_TOKEN") {
			continue
		}
		env = append(env, kv)
	}
	type proc struct {
		cmd      *exec.Cmd
		out, err bytes.Buffer
	}
	procs := make([]*proc, n)
	for i, img := range images {
		p := &proc{cmd: exec.Command(bin, "--log-level", "debug", "bump", w.Reg.Ref("acme/"+img+":1.1.0"),
			"--repo", w.Bare, "--cache-dir", t.TempDir(), "--output", "json")}
		p.cmd.Env = env
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
		procs[i] = p
	}
	for _, p := range procs {
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var shas []string
	retried, maxLost := 0, 0
	for i, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("ferry bump %s: %v\n%s", images[i], err, p.err.String())
			continue
		}
		var res promote.Result
		if err := json.Unmarshal(p.out.Bytes(), &res); err != nil {
			t.Errorf("ferry bump %s: output is not JSON: %v\n%s", images[i], err, p.out.String())
			continue
		}
		if len(res.Commits) != 1 || res.Commits[0].Environment != "dev" || res.Commits[0].Branch != "main" {
			t.Errorf("ferry bump %s: commits %+v, want one on main for dev", images[i], res.Commits)
			continue
		}
		shas = append(shas, res.Commits[0].SHA)
		if lost := strings.Count(p.err.String(), "push lost a race"); lost > 0 {
			retried++
			maxLost = max(maxLost, lost)
		}
	}
	t.Logf("%d of %d processes lost at least one push race and recomputed; the unluckiest lost %d", retried, n, maxLost)
	if t.Failed() {
		return
	}

	// Every process's commit is on main; main holds exactly those 10 commits over the seed,
	// in a line.
	onMain := strings.Fields(promotetest.Git(t, w.Bare, "rev-list", start+"..main"))
	sort.Strings(onMain)
	sort.Strings(shas)
	if diff := cmp.Diff(shas, onMain); diff != "" {
		t.Errorf("commits on main over the seed (-reported by the processes +on main):\n%s", diff)
	}
	gittest.AssertNoForcePush(t, w.Bare, "main")

	// Each commit carries its own image alone, and all 10 images are in dev's overlay.
	var trailers []string
	for _, sha := range shas {
		trailers = append(trailers, strings.TrimSpace(promotetest.Git(t, w.Bare, "log", "-1", "--format=%(trailers:key=Ferry-Image,valueonly)", sha)))
	}
	sort.Strings(trailers)
	var want []string
	for _, img := range images {
		want = append(want, img+"="+w.Ref(img, "1.1.0"))
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, trailers); diff != "" {
		t.Errorf("Ferry-Image trailers (-want +got):\n%s", diff)
	}
	built := build(t, kustomize, w.Checkout("main"), "envs/dev")
	for _, img := range images {
		if !strings.Contains(built, w.Ref(img, "1.1.0")) {
			t.Errorf("dev does not run %s after the concurrent bumps:\n%s", w.Ref(img, "1.1.0"), built)
		}
	}
}
