package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/ferryhq/ferry/promote/config"
)

func lintCommand() *cli.Command {
	return &cli.Command{
		Name:      "lint",
		Usage:     "check ferry.yaml without touching a registry or a remote",
		UsageText: "ferry lint [--config ferry.yaml] [--repo DIR]",
		Description: `lint loads ferry.yaml from the config repo's working tree at --repo, validates every
key (see docs/config.md), and checks that the key files and trusted roots it names exist and
that every environment's path is a directory. It prints "<config>: ok", or every problem as
file:line: key: message and exits 1. It contacts no registry and no remote.

Examples:
   ferry lint
   ferry lint --repo ../config-repo
   ferry lint --repo ../config-repo --config /etc/ferry/ferry.yaml`,
		Flags:  []cli.Flag{configFlag(), repoFlag()},
		Action: lint,
	}
}

// remoteLike matches what --repo accepts as a remote elsewhere: URLs and scp-like git@host:path.
var remoteLike = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://|[^/:]+@[^/:]+:)`) })

func lint(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("lint takes no arguments, got %q", c.Args().Slice())
	}
	repo := c.String("repo")
	if remoteLike().MatchString(repo) {
		return usageError("--repo %q: lint reads a local checkout, not a remote; clone it first or run lint inside it", repo)
	}
	if fi, err := os.Stat(repo); err != nil {
		return usageError("--repo %q: %v", repo, err)
	} else if !fi.IsDir() {
		return usageError("--repo %q is not a directory", repo)
	}
	cfg, name, err := loadConfig(repo, c.String("config"))
	if err != nil {
		var ee *exitErr
		if errors.As(err, &ee) || !errors.Is(err, config.ErrInvalid) {
			return err
		}
		return reportProblems(c.App.ErrWriter, name, err)
	}
	if err := cfg.CheckFiles(os.DirFS(repo)); err != nil {
		return reportProblems(c.App.ErrWriter, name, err)
	}
	_, err = fmt.Fprintf(c.App.Writer, "%s: ok\n", name)
	return err
}

// loadConfig loads --config from the repo's working tree, or from a local file when the path is
// absolute. It returns the name the config is reported under.
func loadConfig(repo, cfgPath string) (*config.Config, string, error) {
	if filepath.IsAbs(cfgPath) {
		data, err := os.ReadFile(cfgPath)
		if err != nil {
			return nil, cfgPath, fmt.Errorf("reading --config: %w", err)
		}
		cfg, err := config.Parse(cfgPath, data)
		return cfg, cfgPath, err
	}
	name := path.Clean(filepath.ToSlash(cfgPath))
	if !fs.ValidPath(name) {
		return nil, cfgPath, usageError("--config %q: a relative path names a file inside the repo; use an absolute path for a file elsewhere", cfgPath)
	}
	cfg, err := config.Load(os.DirFS(repo), name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, name, fmt.Errorf("%w; is --repo %s the config repo's checkout?", err, repo)
	}
	return cfg, name, err
}

// reportProblems prints every problem on its own line and a count, and returns an exit 1 that
// run does not print again.
func reportProblems(w io.Writer, name string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	noun := "problems"
	if len(lines) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(w, "%s: %d %s\n", name, len(lines), noun)
	return &exitErr{code: exitError}
}
