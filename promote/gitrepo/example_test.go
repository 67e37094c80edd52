package gitrepo_test

import (
	"context"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ferryhq/ferry/promote/gitrepo"
)

// Example writes one image tag into a config repo: the Intent reads the tip, returns the new
// file content, and Apply commits and pushes it, recomputing the Intent if someone else
// pushed meanwhile.
func Example() {
	bare := exampleRepo() // a bare repository with envs/dev/values.yaml on main
	defer os.RemoveAll(filepath.Dir(bare))
	ctx := context.Background()

	repo, err := gitrepo.Open(ctx, bare, gitrepo.Options{Branch: "main"})
	if err != nil {
		log.Fatal(err)
	}
	defer repo.Close()

	bump := func(ctx context.Context, tip fs.FS) (*gitrepo.Change, error) {
		old, err := fs.ReadFile(tip, "envs/dev/values.yaml")
		if err != nil {
			return nil, err
		}
		msg, err := gitrepo.FormatTrailers("dev: api 1.4.1 -> 1.4.2", []gitrepo.Trailer{
			{Key: gitrepo.TrailerImage, Value: "api=ghcr.io/acme/api:1.4.2@sha256:0123"},
			{Key: gitrepo.TrailerSource, Value: "registry"},
		})
		if err != nil {
			return nil, err
		}
		return &gitrepo.Change{
			Files:   map[string][]byte{"envs/dev/values.yaml": []byte(strings.ReplaceAll(string(old), "1.4.1", "1.4.2"))},
			Message: msg,
			Author:  gitrepo.Signature{Name: "ferry", Email: "ferry@example.com"},
		}, nil
	}
	res, err := repo.Apply(ctx, bump)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pushed:", res.Pushed, "attempts:", res.Attempts)

	again, err := repo.Apply(ctx, bump)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("second run changes nothing:", again.NoChange)

	hist, err := repo.History(ctx, gitrepo.HistoryQuery{Path: "envs/dev", Limit: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(gitrepo.TrailerValues(hist[0].Trailers, gitrepo.TrailerImage))
	// Output:
	// pushed: true attempts: 1
	// second run changes nothing: true
	// [api=ghcr.io/acme/api:1.4.2@sha256:0123]
}

func exampleRepo() string {
	dir, err := os.MkdirTemp("", "ferry-example-")
	if err != nil {
		log.Fatal(err)
	}
	bare := filepath.Join(dir, "config.git")
	work := filepath.Join(dir, "work")
	run := func(d string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = d
		if out, err := cmd.CombinedOutput(); err != nil {
			log.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run(dir, "init", "-q", "--bare", "-b", "main", bare)
	run(dir, "clone", "-q", bare, work)
	if err := os.MkdirAll(filepath.Join(work, "envs/dev"), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "envs/dev/values.yaml"), []byte("image:\n  tag: 1.4.1\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	run(work, "add", "-A")
	run(work, "commit", "-q", "-m", "seed")
	run(work, "push", "-q", "origin", "HEAD:main")
	return bare
}
