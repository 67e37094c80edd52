package main

import (
	"encoding/json"
	"io"

	"github.com/urfave/cli/v2"
)

// Shared flags. Every flag has an environment variable FERRY_<NAME>.

func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json", EnvVars: []string{"FERRY_OUTPUT"}}
}

func dryRunFlag() cli.Flag {
	return &cli.BoolFlag{Name: "dry-run", Usage: "print the diff (and what would be opened); write nothing", EnvVars: []string{"FERRY_DRY_RUN"}}
}

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Value: "ferry.yaml", Usage: "ferry.yaml, at the config repo's root (an absolute path names a local file)", EnvVars: []string{"FERRY_CONFIG"}}
}

func repoFlag() cli.Flag {
	return &cli.StringFlag{Name: "repo", Value: ".", Usage: "the config repo: a URL to clone, a bare repo's path, or a local checkout", EnvVars: []string{"FERRY_REPO"}}
}

// outputFormat returns the validated --output value.
func outputFormat(c *cli.Context, allowed ...string) (string, error) {
	f := c.String("output")
	if len(allowed) == 0 {
		allowed = []string{"text", "json"}
	}
	for _, a := range allowed {
		if f == a {
			return f, nil
		}
	}
	return "", usageError("--output %q: want one of %v", f, allowed)
}

// writeJSON prints v as one indented JSON object.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
