package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
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
	images, err := setImageImages(c.Args().Slice(), c.StringSlice("marker"))
	if err != nil {
		return err
	}
	t, err := openSetImageTree(c.String("path"))
	if err != nil {
		return err
	}
	e, err := manifests.Plan(manifests.Options{FS: os.DirFS(t.root), Path: t.envPath, Images: images, Readers: runtime.GOMAXPROCS(0)})
	var perr *manifests.ParseError
	if errors.As(err, &perr) {
		perr.File = filepath.Join(t.root, filepath.FromSlash(perr.File)) // name the file as on disk
	}
	if err != nil {
		return err
	}
	local, shown, err := t.rebase(e)
	if err != nil {
		return err
	}
	dry := c.Bool("dry-run")
	if !dry {
		if err := atomicfile.Replace(t.dir, local); err != nil {
			return err
		}
	}
	return printSetImage(c.App.Writer, format, dry, shown)
}

// setImageImages parses the REF arguments and binds each --marker NAME=REPO to the REF for
// REPO.
func setImageImages(args, markers []string) ([]manifests.Image, error) {
	if len(args) == 0 {
		return nil, usageError("set-image: give at least one REF (name[=newName][:tag][@digest])")
	}
	var images []manifests.Image
	for _, arg := range args {
		img, err := manifests.ParseImageArg(arg)
		if err != nil {
			return nil, usageError("set-image: %v", err)
		}
		images = append(images, img)
	}
	for _, m := range markers {
		if err := bindMarker(images, m); err != nil {
			return nil, err
		}
	}
	return images, nil
}

// bindMarker adds the marker name of m (NAME=REPO) to every image of repository REPO.
func bindMarker(images []manifests.Image, m string) error {
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
	return nil
}

// setImageTree is where set-image reads and writes: it reads from root (the Git top level
// above --path, or the file system root) so that kustomize bases outside the directory can be
// read, and writes only inside dir, which is envPath below root.
type setImageTree struct {
	userPath  string // --path as the user spelled it
	dir, root string // absolute
	envPath   string // dir relative to root, slash-separated
}

func openSetImageTree(userPath string) (*setImageTree, error) {
	dir, err := filepath.Abs(userPath)
	if err != nil {
		return nil, fmt.Errorf("--path %s: %w", userPath, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("--path %s: %w", userPath, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("--path %s: not a directory", userPath)
	}
	root := readRoot(dir)
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return nil, fmt.Errorf("--path %s: %w", userPath, err)
	}
	return &setImageTree{userPath: userPath, dir: dir, root: root, envPath: filepath.ToSlash(rel)}, nil
}

// rebase moves the edit's paths onto the directory: for writing (relative to it) and for
// display (as the user spelled --path). A path outside the directory is refused.
func (t *setImageTree) rebase(e *manifests.Edit) ([]atomicfile.File, *manifests.Edit, error) {
	var local []atomicfile.File
	shown := &manifests.Edit{Changes: []manifests.Change{}}
	for _, f := range e.Files {
		r, err := t.inDir(f.Path)
		if err != nil {
			return nil, nil, err
		}
		local = append(local, atomicfile.File{Path: r, Old: f.Old, New: f.New, Mode: f.Mode})
		shown.Files = append(shown.Files, manifests.File{Path: t.display(r), Old: f.Old, New: f.New, Mode: f.Mode})
	}
	for _, ch := range e.Changes {
		r, err := t.inDir(ch.File)
		if err != nil {
			return nil, nil, err
		}
		ch.File = t.display(r)
		shown.Changes = append(shown.Changes, ch)
	}
	return local, shown, nil
}

// inDir is p (relative to root) relative to the directory.
func (t *setImageTree) inDir(p string) (string, error) {
	if t.envPath == "." {
		return p, nil
	}
	r, ok := strings.CutPrefix(p, t.envPath+"/")
	if !ok {
		return "", fmt.Errorf("refusing to write %s: outside --path %s", p, t.userPath)
	}
	return r, nil
}

// display is r (relative to the directory) as the user would spell it.
func (t *setImageTree) display(r string) string {
	return filepath.ToSlash(filepath.Join(t.userPath, r))
}

// printSetImage prints the result: JSON, the diff of a dry run, or a line per change.
func printSetImage(out io.Writer, format string, dry bool, shown *manifests.Edit) error {
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
