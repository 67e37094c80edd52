package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/ferryhq/ferry/policy"
	"github.com/ferryhq/ferry/registry"
)

// tagsVerifier builds the verifier from the verify flags, using client's RemoteOptions so
// signature requests share ferry's retrying, rate-limited transport. It returns an untyped nil
// when no verify flag was given: `ferry tags` then does not verify (DESIGN.md, "Commands,
// exactly").
func tagsVerifier(c *cli.Context, client *registry.Client) (registry.DigestVerifier, error) {
	entries, err := verifyEntriesFromFlags(c)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	v, err := registry.NewVerifier(entries, registry.WithLogger(slog.Default()), registry.WithRemoteOptions(client.RemoteOptions(c.Context)...),
		registry.WithRemoteOptionsFor(client.RemoteOptionsFor), registry.WithCache(client))
	if err != nil {
		return nil, err
	}
	return v, nil
}

func tagsCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "semver", Usage: "semver constraint, e.g. '>=1.2.0 <2' (the default kind: '*')", EnvVars: []string{"FERRY_SEMVER"}},
		&cli.BoolFlag{Name: "prerelease", Usage: "include semver prereleases", EnvVars: []string{"FERRY_PRERELEASE"}},
		&cli.StringFlag{Name: "numerical", Usage: "order tags as numbers: asc (greatest newest) or desc", EnvVars: []string{"FERRY_NUMERICAL"}},
		&cli.StringFlag{Name: "alphabetical", Usage: "order tags by bytes: asc (last newest) or desc", EnvVars: []string{"FERRY_ALPHABETICAL"}},
		&cli.BoolFlag{Name: "newest-build", Usage: "order by the image's created time", EnvVars: []string{"FERRY_NEWEST_BUILD"}},
		&cli.StringFlag{Name: "digest", Usage: "follow one mutable tag (e.g. main) by digest", EnvVars: []string{"FERRY_DIGEST"}},
		&cli.StringFlag{Name: "allow", Usage: "regexp a tag must match; its named group 'version' is what is ordered", EnvVars: []string{"FERRY_ALLOW"}},
		&cli.StringSliceFlag{Name: "ignore", Usage: "glob of tags to leave out (repeatable)", EnvVars: []string{"FERRY_IGNORE"}},
		&cli.StringSliceFlag{Name: "platform", Usage: "os/arch[/variant] the chosen image must serve (repeatable)", EnvVars: []string{"FERRY_PLATFORM"}},
		&cli.StringFlag{Name: "cache-dir", Usage: "cache of digests' created times and platforms (default $XDG_CACHE_HOME/ferry)", EnvVars: []string{"FERRY_CACHE_DIR"}},
		outputFlag(),
	}
	flags = append(flags, verifyFlags()...)
	return &cli.Command{
		Name:      "tags",
		Usage:     "pick the newest tag that passes policy, platforms and (with verify flags) signature; say why the others lost",
		ArgsUsage: "REPO",
		Description: `Lists REPO's tags, orders those the policy allows newest first, and walks down until one
serves every --platform and (given verify flags) verifies. Prints the chosen tag@digest, then
every other tag and why it lost. Exit 1 when nothing qualifies.

Examples:
   ferry tags ghcr.io/acme/api --semver '>=1.2.0 <2' --platform linux/amd64 --platform linux/arm64
   ferry tags ghcr.io/acme/api --newest-build --allow '^main-' --output json`,
		Flags:  flags,
		Action: runTags,
	}
}

// tagsJSON is `ferry tags --output json` (DESIGN.md).
type tagsJSON struct {
	Chosen     *registry.Chosen `json:"chosen"`
	Candidates []tagVerdict     `json:"candidates"`
}

type tagVerdict struct {
	Tag    string `json:"tag"`
	Digest string `json:"digest,omitempty"`
	// Verdict is passed-over (examined and refused), older (ranked below the chosen tag, not
	// examined) or rejected (left out by the policy).
	Verdict string `json:"verdict"`
	// Reason is a short fixed word: the refusal reason, "older", or the policy's reason.
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

func runTags(c *cli.Context) error {
	args := c.Args().Slice()
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usageError("tags: want exactly one REPO, got %d arguments", len(args))
	}
	repo := args[0]
	pol, err := policy.New(policy.Spec{
		Semver:       c.String("semver"),
		Prerelease:   c.Bool("prerelease"),
		Numerical:    c.String("numerical"),
		Alphabetical: c.String("alphabetical"),
		NewestBuild:  c.Bool("newest-build"),
		Digest:       c.String("digest"),
		Allow:        c.String("allow"),
		Ignore:       c.StringSlice("ignore"),
	})
	if err != nil {
		return usageError("tags: %v", err)
	}
	for _, p := range c.StringSlice("platform") {
		if _, err := registry.ParsePlatform(p); err != nil {
			return usageError("tags: --platform: %v", err)
		}
	}
	var opts []registry.Option
	if d := c.String("cache-dir"); d != "" {
		opts = append(opts, registry.WithCacheDir(d))
	}
	client, err := registry.New(opts...)
	if err != nil {
		return err
	}
	if _, err := client.ParseRepository(repo); err != nil {
		return usageError("tags: %v", err)
	}
	verifier, err := tagsVerifier(c, client)
	if err != nil {
		return err
	}
	o := registry.SelectOptions{Repository: repo, Policy: pol, Platforms: c.StringSlice("platform")}
	if verifier != nil {
		o.Verifier = verifier
	}
	sel, err := client.Select(c.Context, o)
	var none *registry.NoQualifyingTagError
	switch {
	case errors.As(err, &none):
		sel = none.Selection
	case err != nil:
		return err
	}
	out := c.App.Writer
	if format == "json" {
		if werr := writeJSON(out, tagsResult(sel)); werr != nil {
			return werr
		}
	} else if werr := writeTagsText(out, sel); werr != nil {
		return werr
	}
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	return nil
}

// tagsResult flattens a Selection into the JSON shape: passed over (newest first), then the
// candidates older than the chosen one, then the policy's rejections.
func tagsResult(sel *registry.Selection) tagsJSON {
	r := tagsJSON{Chosen: sel.Chosen, Candidates: make([]tagVerdict, 0, len(sel.PassedOver)+len(sel.NotReached)+len(sel.Rejected))}
	for _, p := range sel.PassedOver {
		r.Candidates = append(r.Candidates, tagVerdict{Tag: p.Tag, Digest: p.Digest, Verdict: "passed-over", Reason: p.Reason, Detail: p.Detail})
	}
	detail := ""
	if sel.Chosen != nil {
		detail = "older than " + sel.Chosen.Tag
	}
	for _, n := range sel.NotReached {
		r.Candidates = append(r.Candidates, tagVerdict{Tag: n.Tag, Verdict: "older", Reason: "older", Detail: detail})
	}
	for _, rej := range sel.Rejected {
		r.Candidates = append(r.Candidates, tagVerdict{Tag: rej.Tag, Verdict: "rejected", Reason: string(rej.Reason), Detail: rej.Detail})
	}
	return r
}

func writeTagsText(out io.Writer, sel *registry.Selection) error {
	// One write per 64 KiB, not several per cell: with thousands of tags, unbuffered output
	// was most of the command's time.
	w := bufio.NewWriterSize(out, 64<<10)
	if sel.Chosen != nil {
		line := sel.Chosen.Tag + "@" + sel.Chosen.Digest
		if sel.Chosen.Signer != "" {
			line += "  signed by " + sel.Chosen.Signer
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	} else if _, err := fmt.Fprintf(w, "no tag of %s qualifies\n", sel.Repository); err != nil {
		return err
	}
	if err := writeVerdicts(w, tagsResult(sel).Candidates); err != nil {
		return err
	}
	return w.Flush()
}
