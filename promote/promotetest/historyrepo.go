package promotetest

import (
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// HistorySpec sizes a generated config repo with a long history (HistoryRepo).
type HistorySpec struct {
	Envs, Images, Commits int
	// Registry is the images' registry host (default registry.example); nothing is asked of it.
	Registry string
	// Start is the first commit's time; the commits are spread evenly from it to one hour ago.
	Start time.Time
}

// HistoryRepo writes a bare config repo at bare with git fast-import: ferry.yaml naming
// Images images (insecureSkipVerify: nothing is verified) and Envs environments envs/eNN (e00
// fed by the registry, each next one by the one before), each with one Deployment file per
// image (envs/eNN/img-MM.yaml, as config repos keep one file per workload); then Commits commits, each moving one image in one environment one patch version
// on, like ferry's (with its trailers), every tenth one by hand (no trailers). It returns the
// number of commits that changed an image.
func HistoryRepo(bare string, s HistorySpec) (int, error) {
	if s.Registry == "" {
		s.Registry = "registry.example"
	}
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", bare).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("git init: %v\n%s", err, out)
	}
	version := make([][]int, s.Envs) // env → image → patch version
	for e := range version {
		version[e] = make([]int, s.Images)
	}
	var b strings.Builder
	when := s.Start
	step := time.Until(s.Start.Add(time.Hour)) / time.Duration(max(s.Commits, 1))
	step = -step
	commit := func(author, msg string, files map[string]string) {
		fmt.Fprintf(&b, "commit refs/heads/main\nauthor %s %d +0000\ncommitter %s %d +0000\ndata %d\n%s\n",
			author, when.Unix(), author, when.Unix(), len(msg), msg)
		for p, c := range files {
			fmt.Fprintf(&b, "M 100644 inline %s\ndata %d\n%s\n", p, len(c), c)
		}
		when = when.Add(step)
	}
	files := map[string]string{"ferry.yaml": historyConfig(s), "README.md": "generated config repo\n"}
	for e := range s.Envs {
		for img := range s.Images {
			files[historyFile(e, img)] = historyDeployment(s, img, version[e][img])
		}
	}
	commit("seed <seed@example.test>", "seed\n", files)
	changed := 0
	for i := range s.Commits {
		e, img := i%s.Envs, (i/s.Envs)%s.Images
		version[e][img]++
		ref := historyRef(s, img, version[e][img])
		source := "registry"
		if e > 0 {
			source = fmt.Sprintf("e%02d", e-1)
		}
		msg := fmt.Sprintf("e%02d: update img-%02d\n\n- img-%02d -> %s\n\nFerry-Image: img-%02d=%s\nFerry-Source: %s\nFerry-Environment: e%02d\nFerry-Command: promote\n",
			e, img, img, ref, img, ref, source, e)
		author := "ferry <ferry@example.test>"
		if i%10 == 9 {
			msg, author = fmt.Sprintf("hand edit of e%02d\n", e), "Dana Operator <dana@example.test>"
		}
		commit(author, msg, map[string]string{historyFile(e, img): historyDeployment(s, img, version[e][img])})
		changed++
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("git fast-import: %v\n%s", err, out)
	}
	if out, err := exec.Command("git", "-C", bare, "gc", "-q").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("git gc: %v\n%s", err, out)
	}
	return changed, nil
}

func historyFile(e, img int) string { return fmt.Sprintf("envs/e%02d/img-%02d.yaml", e, img) }

// historyRef is image img at patch version v, pinned by a digest derived from both.
func historyRef(s HistorySpec, img, v int) string {
	return fmt.Sprintf("%s/acme/img-%02d:1.0.%d@sha256:%064x", s.Registry, img, v, img*1_000_000+v)
}

func historyDeployment(s HistorySpec, img, v int) string {
	return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: img-%02d\n  labels:\n    app: img-%02d\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: app\n          image: %s\n          ports:\n            - containerPort: 8080\n", img, img, historyRef(s, img, v))
}

func historyConfig(s HistorySpec) string {
	var b strings.Builder
	b.WriteString("images:\n")
	for i := range s.Images {
		fmt.Fprintf(&b, "  - name: img-%02d\n    repository: %s/acme/img-%02d\n    policy:\n      semver: \">=1.0.0\"\n    insecureSkipVerify: true\n", i, s.Registry, i)
	}
	b.WriteString("environments:\n")
	for e := range s.Envs {
		source := "registry"
		if e > 0 {
			source = fmt.Sprintf("e%02d", e-1)
		}
		fmt.Fprintf(&b, "  - name: e%02d\n    path: envs/e%02d\n    source: %s\n    write: commit\n", e, e, source)
	}
	b.WriteString("git:\n  branch: main\n  author: ferry <ferry@example.test>\n")
	return b.String()
}
