package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/urfave/cli/v2"

	"github.com/ferryhq/ferry/internal/atomicfile"
	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote"
)

func setImageCommand() *cli.Command {
	return &cli.Command{
		Name:      "set-image",
		Usage:     "rewrite image references in a directory, with no Git and no config",
		ArgsUsage: "REF...",
		Description: `Each REF is kustomize's name[=newName][:tag][@digest]. Every reference to the
repository under --path is rewritten: kustomization images entries (an entry is added to
the overlay when only a base outside --path uses the image; bases are never written),
container images of any workload, Helm values, and fields carrying a $ferry or
$imagepolicy marker (map marker names to repositories with --marker).

Examples:
   ferry set-image --path envs/dev ghcr.io/acme/api:1.4.2
   ferry set-image nginx=ghcr.io/acme/nginx:1.27@sha256:…
   ferry set-image --marker flux-system:api=ghcr.io/acme/api --dry-run ghcr.io/acme/api:1.4.2`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "path", Value: ".", Usage: "the directory to rewrite; files outside it are read (kustomize bases) but never written", EnvVars: []string{"FERRY_PATH"}},
			&cli.StringSliceFlag{Name: "marker", Usage: "NAME=REPO: a $ferry or $imagepolicy marker name that means the REF for REPO (repeatable)", EnvVars: []string{"FERRY_MARKER"}},
			dryRunFlag(),
			outputFlag(),
		},
		Action: runSetImage,
	}
}

func runSetImage(c *cli.Context) error {
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageError("set-image: give at least one REF (name[=newName][:tag][@digest])")
	}
	var images []manifests.Image
	for _, arg := range c.Args().Slice() {
		img, err := manifests.ParseImageArg(arg)
		if err != nil {
			return usageError("set-image: %v", err)
		}
		images = append(images, img)
	}
	for _, m := range c.StringSlice("marker") {
		markerName, repo, ok := strings.Cut(m, "=")
		if !ok || markerName == "" || repo == "" {
			return usageError("--marker %q: want NAME=REPO", m)
		}
		want, err := name.NewRepository(repo)
		if err != nil {
			return usageError("--marker %q: %q is not a repository: %v", m, repo, err)
		}
		found := false
		for i := range images {
			if r, err := name.NewRepository(images[i].Repository); err == nil && r.Name() == want.Name() {
				images[i].Markers = append(images[i].Markers, markerName)
				found = true
			}
		}
		if !found {
			return usageError("--marker %q: no REF names repository %s", m, repo)
		}
	}

	userPath := c.String("path")
	dir, err := filepath.Abs(userPath)
	if err != nil {
		return fmt.Errorf("--path %s: %w", userPath, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("--path %s: %w", userPath, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("--path %s: not a directory", userPath)
	}
	// Read from the Git top level (or the file system root) so that kustomize bases outside
	// the directory can be read; write only inside it.
	root := readRoot(dir)
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return fmt.Errorf("--path %s: %w", userPath, err)
	}
	envPath := filepath.ToSlash(rel)
	e, err := manifests.Plan(manifests.Options{FS: os.DirFS(root), Path: envPath, Images: images})
	var perr *manifests.ParseError
	if errors.As(err, &perr) {
		perr.File = filepath.Join(root, filepath.FromSlash(perr.File)) // name the file as on disk
	}
	if err != nil {
		return err
	}

	// Rebase the edit on the directory: for writing (paths relative to it) and for display
	// (paths as the user spelled --path).
	var local []atomicfile.File
	shown := &manifests.Edit{Changes: []manifests.Change{}}
	inDir := func(p string) (string, error) {
		if envPath == "." {
			return p, nil
		}
		r, ok := strings.CutPrefix(p, envPath+"/")
		if !ok {
			return "", fmt.Errorf("refusing to write %s: outside --path %s", p, userPath)
		}
		return r, nil
	}
	display := func(r string) string { return filepath.ToSlash(filepath.Join(userPath, r)) }
	for _, f := range e.Files {
		r, err := inDir(f.Path)
		if err != nil {
			return err
		}
		local = append(local, atomicfile.File{Path: r, Old: f.Old, New: f.New, Mode: f.Mode})
		shown.Files = append(shown.Files, manifests.File{Path: display(r), Old: f.Old, New: f.New, Mode: f.Mode})
	}
	for _, ch := range e.Changes {
		r, err := inDir(ch.File)
		if err != nil {
			return err
		}
		ch.File = display(r)
		shown.Changes = append(shown.Changes, ch)
	}

	dry := c.Bool("dry-run")
	if !dry {
		if err := atomicfile.Replace(dir, local); err != nil {
			return err
		}
	}
	out := c.App.Writer
	if format == "json" {
		res := promote.Result{Changes: shown.Changes, Commits: []promote.Commit{}, PullRequests: []promote.PullRequest{}, Skipped: []promote.Skip{}}
		if dry {
			res.Diff = shown.Diff()
		}
		return writeJSON(out, res)
	}
	if dry {
		_, err := fmt.Fprint(out, shown.Diff())
		return err
	}
	if len(shown.Changes) == 0 {
		_, err := fmt.Fprintln(out, "no changes")
		return err
	}
	for _, ch := range shown.Changes {
		from := ch.From
		if from == "" {
			from = "(new)"
		}
		if _, err := fmt.Fprintf(out, "%s:%d %s: %s -> %s\n", ch.File, ch.Line, ch.Field, from, ch.To); err != nil {
			return err
		}
	}
	return nil
}

// readRoot is the directory whose tree Plan reads: the Git top level above dir, else "/".
func readRoot(dir string) string {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return d
		}
		d = parent
	}
}
