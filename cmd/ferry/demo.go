package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ferryhq/ferry/internal/demo"
)

// demoCommand runs the main job end to end on loopback (make demo).
func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run the main job end to end on loopback: a registry, signed images and a config repo made on the spot",
		Description: `Starts a registry in this process on 127.0.0.1, generates a cosign key pair, pushes
demo/api 1.0.0, 1.1.0, 1.2.0 (signed) and 1.3.0 (unsigned) and demo/web, makes a config repo
with dev (kustomize overlay), staging (Helm values) and prod (plain manifests), then runs
ferry watch, promote and status against it and shows the git log. Only the config repo's
clone is kept; its path is printed at the end. Needs git; no network beyond loopback.

Examples:
   ferry demo
   ferry demo --dir /tmp/ferry-demo`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "keep the config repo's clone here, a new or empty directory (default: a new temporary directory)", EnvVars: []string{"FERRY_DEMO_DIR"}},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError("demo: takes no arguments")
			}
			_, err := demo.Run(c.Context, demo.Options{Ferry: run, Out: c.App.Writer, Dir: c.String("dir")})
			return err
		},
	}
}
