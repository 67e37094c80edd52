package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/urfave/cli/v2"

	"github.com/ferryhq/ferry/manifests"
	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/config"
	"github.com/ferryhq/ferry/promote/forge"
	"github.com/ferryhq/ferry/promote/gitrepo"
	"github.com/ferryhq/ferry/promote/listen"
	"github.com/ferryhq/ferry/promote/notify"
	"github.com/ferryhq/ferry/registry"
)

// pipelineFlags are the flags every command that reads ferry.yaml and the config repo shares.
func pipelineFlags() []cli.Flag {
	return []cli.Flag{
		configFlag(),
		repoFlag(),
		outputFlag(),
		dryRunFlag(),
		&cli.StringFlag{Name: "branch", Usage: "work on this branch instead of git.branch", EnvVars: []string{"FERRY_BRANCH"}},
		&cli.BoolFlag{Name: "no-push", Usage: "with a local checkout: commit to the local branch only", EnvVars: []string{"FERRY_NO_PUSH"}},
		&cli.StringFlag{Name: "cache-dir", Usage: "registry metadata cache (default $XDG_CACHE_HOME/ferry)", EnvVars: []string{"FERRY_CACHE_DIR"}},
	}
}

// pipelineOptions turns flags and the environment into promote.Options. Tokens are read from
// the environment only, never from flags, so they cannot land in shell history or logs.
func pipelineOptions(c *cli.Context) (promote.Options, error) {
	opts := promote.Options{
		Repo:              c.String("repo"),
		Config:            c.String("config"),
		Branch:            c.String("branch"),
		DryRun:            c.Bool("dry-run"),
		NoPush:            c.Bool("no-push"),
		AllowDowngrade:    c.Bool("allow-downgrade"),
		AllowRolledBack:   c.Bool("allow-rolled-back"),
		Env:               c.String("env"),
		Log:               slog.Default(),
		GitAuth:           gitAuthFromEnv(),
		ForgeToken:        forgeToken,
		SigningPassphrase: os.Getenv("FERRY_SIGNING_PASSPHRASE"),
		Wait:              c.Duration("wait"),
	}
	app, err := githubAppFromEnv()
	if err != nil {
		return opts, err
	}
	opts.GitHubApp = app
	if dir := c.String("cache-dir"); dir != "" {
		opts.RegistryOptions = append(opts.RegistryOptions, registry.WithCacheDir(dir))
	}
	return opts, nil
}

// gitAuthFromEnv reads the config repo's credentials. FERRY_GIT_TOKEN goes to the remote,
// whatever its host; without it, promote sends the token of the forge that serves the remote's
// host (forgeToken, chosen per host: GITHUB_TOKEN never goes to a GitLab or Gitea host) or
// none. SSH remotes use FERRY_SSH_KEY (a key file, decrypted with FERRY_SSH_KEY_PASSPHRASE) or
// the SSH agent, with hosts checked against FERRY_SSH_KNOWN_HOSTS (a path list), else
// SSH_KNOWN_HOSTS or ~/.ssh/known_hosts.
func gitAuthFromEnv() gitrepo.Auth {
	a := gitrepo.Auth{
		Token:            os.Getenv("FERRY_GIT_TOKEN"),
		SSHKeyFile:       os.Getenv("FERRY_SSH_KEY"),
		SSHKeyPassphrase: os.Getenv("FERRY_SSH_KEY_PASSPHRASE"),
	}
	if kh := os.Getenv("FERRY_SSH_KNOWN_HOSTS"); kh != "" {
		a.KnownHosts = filepath.SplitList(kh)
	}
	return a
}

// githubAppFromEnv reads a GitHub App installation from FERRY_GITHUB_APP_ID,
// FERRY_GITHUB_APP_INSTALLATION_ID and FERRY_GITHUB_APP_PRIVATE_KEY_FILE; all three or none.
func githubAppFromEnv() (promote.GitHubApp, error) {
	id, inst, key := os.Getenv("FERRY_GITHUB_APP_ID"), os.Getenv("FERRY_GITHUB_APP_INSTALLATION_ID"), os.Getenv("FERRY_GITHUB_APP_PRIVATE_KEY_FILE")
	if id == "" && inst == "" && key == "" {
		return promote.GitHubApp{}, nil
	}
	if id == "" || inst == "" || key == "" {
		return promote.GitHubApp{}, usageError("a GitHub App needs FERRY_GITHUB_APP_ID, FERRY_GITHUB_APP_INSTALLATION_ID and FERRY_GITHUB_APP_PRIVATE_KEY_FILE")
	}
	appID, err1 := strconv.ParseInt(id, 10, 64)
	instID, err2 := strconv.ParseInt(inst, 10, 64)
	if err1 != nil || err2 != nil {
		return promote.GitHubApp{}, usageError("FERRY_GITHUB_APP_ID and FERRY_GITHUB_APP_INSTALLATION_ID are numbers")
	}
	return promote.GitHubApp{AppID: appID, InstallationID: instID, PrivateKeyPath: key}, nil
}

// forgeToken returns provider's token from its conventional variable (GITHUB_TOKEN,
// GITLAB_TOKEN, GITEA_TOKEN), else FERRY_FORGE_TOKEN. promote sends it only to that forge's
// hosts: its API, and Git pushes to a remote that forge serves.
func forgeToken(provider string) string {
	if t := os.Getenv(forge.TokenEnv(provider)); t != "" {
		return t
	}
	return os.Getenv("FERRY_FORGE_TOKEN")
}

// report prints a run's result and maps a refusal to exit 3.
func report(c *cli.Context, res *promote.Result, err error) error {
	format, ferr := outputFormat(c)
	if ferr != nil {
		return ferr
	}
	if res != nil {
		if format == "json" {
			if werr := writeJSON(c.App.Writer, jsonResult(res)); werr != nil {
				return werr
			}
		} else {
			printResult(c, res)
		}
	}
	if err != nil {
		if errors.Is(err, promote.ErrRefused) {
			return refused(err)
		}
		return withHint(err)
	}
	return nil
}

// withHint adds what to do to errors whose cure is in the user's environment.
func withHint(err error) error {
	var ce *promote.GitCredentialError
	switch {
	case errors.As(err, &ce):
		return err // it says which variable went to which host, and which to set
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%w\nthe config repo refused the credentials: set FERRY_GIT_TOKEN (HTTPS) or FERRY_SSH_KEY (SSH) to one that may push", err)
	case errors.Is(err, forge.ErrForbidden), errors.Is(err, forge.ErrUnauthorized):
		return fmt.Errorf("%w\nthe forge refused the token: check GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN and its permissions (docs/pull-requests.md)", err)
	}
	return err
}

// jsonResult makes empty lists print as [] rather than null.
func jsonResult(res *promote.Result) *promote.Result {
	out := *res
	if out.Changes == nil {
		out.Changes = []manifests.Change{}
	}
	if out.Commits == nil {
		out.Commits = []promote.Commit{}
	}
	if out.PullRequests == nil {
		out.PullRequests = []promote.PullRequest{}
	}
	if out.Skipped == nil {
		out.Skipped = []promote.Skip{}
	}
	return &out
}

func printResult(c *cli.Context, res *promote.Result) {
	w := c.App.Writer
	if res.Diff != "" {
		fmt.Fprint(w, res.Diff)
	}
	for _, ch := range res.Changes {
		fmt.Fprintf(w, "%s: %s:%d %s: %s -> %s\n", ch.Environment, ch.File, ch.Line, ch.Field, ch.From, ch.To)
	}
	for _, cm := range res.Commits {
		fmt.Fprintf(w, "%s: committed %s on %s\n", cm.Environment, cm.SHA, cm.Branch)
	}
	for _, pr := range res.PullRequests {
		switch {
		case pr.URL == "":
			fmt.Fprintf(w, "%s: pushed branch %s (no forge configured: open the pull request by hand)\n", pr.Environment, pr.Branch)
		case pr.Updated:
			fmt.Fprintf(w, "%s: updated pull request %s\n", pr.Environment, pr.URL)
		default:
			fmt.Fprintf(w, "%s: opened pull request %s\n", pr.Environment, pr.URL)
		}
		if pr.State != "" {
			fmt.Fprintf(w, "%s: pull request %s is %s\n", pr.Environment, pr.URL, pr.State)
		}
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "skipped %s %s %s: %s", s.Environment, s.Image, s.Tag, s.Reason)
		if s.Detail != "" {
			fmt.Fprintf(w, " (%s)", s.Detail)
		}
		fmt.Fprintln(w)
	}
	if len(res.Changes) == 0 && len(res.Commits) == 0 && len(res.PullRequests) == 0 {
		fmt.Fprintln(w, "nothing to change")
	}
}

func bumpCommand() *cli.Command {
	return &cli.Command{
		Name:      "bump",
		Usage:     "verify REFs and write them into the registry-fed environments (a post-build step)",
		ArgsUsage: "REF...",
		Description: `Each REF must be allowed by its image's policy, verify with its image's verify entries,
and not be older than what the environment runs (unless --allow-downgrade). All or nothing:
if any REF is refused, nothing is written and the exit code is 3.

Example:
   ferry bump ghcr.io/acme/api:1.4.2`,
		Flags: append(pipelineFlags(),
			&cli.StringFlag{Name: "env", Usage: "write only this environment", EnvVars: []string{"FERRY_ENV"}},
			&cli.BoolFlag{Name: "allow-downgrade", Usage: "write a version older than the environment runs", EnvVars: []string{"FERRY_ALLOW_DOWNGRADE"}},
			&cli.BoolFlag{Name: "allow-rolled-back", Usage: "write a version a rollback holds out of the environment", EnvVars: []string{"FERRY_ALLOW_ROLLED_BACK"}},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageError("bump: give at least one image reference, e.g. ferry bump ghcr.io/acme/api:1.4.2")
			}
			opts, err := pipelineOptions(c)
			if err != nil {
				return err
			}
			res, err := promote.Bump(c.Context, opts, c.Args().Slice())
			return report(c, res, err)
		},
	}
}

func watchCommand() *cli.Command {
	return &cli.Command{
		Name:  "watch",
		Usage: "pick the newest verified tag of every image and update the registry-fed environments",
		Description: `Runs one cycle and exits, unless --interval or --listen is given. SIGINT and SIGTERM
stop a long-running watch between cycles (a cycle in progress finishes first).

--listen ADDR serves registry push webhooks on POST /webhook/<kind> (dockerhub, ghcr, harbor,
quay, gitlab, distribution, generic) and runs a cycle for the pushed image alone; it also
serves /metrics (Prometheus), /healthz and /readyz. The shared secret comes from
FERRY_WEBHOOK_SECRET (docs/watch.md says how to point each registry at ferry). A full cycle
runs at the start and, with --interval, as a safety net.

Examples:
   ferry watch --once
   ferry watch --interval 5m
   ferry watch --once --shard 0/4
   FERRY_WEBHOOK_SECRET=… ferry watch --listen :8080 --interval 1h`,
		Flags: append(pipelineFlags(),
			&cli.BoolFlag{Name: "once", Usage: "run one cycle (the default)"},
			&cli.DurationFlag{Name: "interval", Usage: "run a cycle every D until stopped", EnvVars: []string{"FERRY_INTERVAL"}},
			&cli.StringFlag{Name: "listen", Usage: "serve registry webhooks, /metrics, /healthz and /readyz on ADDR (e.g. :8080); secret from FERRY_WEBHOOK_SECRET", EnvVars: []string{"FERRY_LISTEN"}},
			&cli.BoolFlag{Name: "allow-downgrade", Usage: "write a version older than the environment runs", EnvVars: []string{"FERRY_ALLOW_DOWNGRADE"}},
			&cli.StringFlag{Name: "shard", Usage: "I/N: handle only the images whose name hashes to shard I of N", EnvVars: []string{"FERRY_SHARD"}},
		),
		Action: func(c *cli.Context) error {
			if c.Bool("once") && (c.Duration("interval") > 0 || c.String("listen") != "") {
				return usageError("watch: --once excludes --interval and --listen")
			}
			opts, err := pipelineOptions(c)
			if err != nil {
				return err
			}
			var w promote.WatchOptions
			if s := c.String("shard"); s != "" {
				if _, err := fmt.Sscanf(s, "%d/%d", &w.Shard, &w.Shards); err != nil || w.Shards < 1 || w.Shard < 0 || w.Shard >= w.Shards {
					return usageError("--shard %q: want I/N with 0 <= I < N", s)
				}
			}
			interval, addr := c.Duration("interval"), c.String("listen")
			if interval == 0 && addr == "" {
				res, err := promote.Watch(c.Context, opts, w)
				return report(c, res, err)
			}
			// A long-running watcher finishes the cycle it is in when SIGINT or SIGTERM
			// arrives, then exits 0; a second signal ends it at once. It keeps one notifier,
			// so that a refused tag is told once, not every cycle.
			go func() {
				<-c.Context.Done()
				signal.Reset(os.Interrupt, syscall.SIGTERM)
			}()
			opts.Notifier = notify.New(notify.Options{Log: slog.Default()})
			if addr != "" {
				return listenWatch(c, opts, w, addr, interval)
			}
			cycle := context.WithoutCancel(c.Context)
			for {
				res, err := promote.Watch(cycle, opts, w)
				if rerr := report(c, res, err); rerr != nil {
					slog.Error("watch cycle failed; trying again next cycle", "err", rerr)
				}
				if !sleep(c.Context, interval) {
					slog.Info("stopping between cycles")
					return nil
				}
			}
		},
	}
}

// listenWatch runs the event-driven watcher until the command's context ends.
func listenWatch(c *cli.Context, opts promote.Options, w promote.WatchOptions, addr string, interval time.Duration) error {
	secret := os.Getenv("FERRY_WEBHOOK_SECRET")
	if secret == "" {
		return usageError("watch --listen: set FERRY_WEBHOOK_SECRET to the secret the registries' webhooks carry")
	}
	m := listen.NewMetrics()
	opts.RegistryOptions = append(opts.RegistryOptions, registry.WithRequestObserver(m.ObserveRequest))
	return listen.Run(c.Context, listen.Options{
		Addr:     addr,
		Secret:   []byte(secret),
		Interval: interval,
		Metrics:  m,
		Log:      slog.Default(),
		Config:   func(ctx context.Context) (*config.Config, error) { return promote.LoadConfig(ctx, opts) },
		Watch: func(ctx context.Context, images []string) (*promote.Result, error) {
			wo := w
			wo.Images = images
			return promote.Watch(ctx, opts, wo)
		},
		OnCycle: func(res *promote.Result, err error) {
			if rerr := report(c, res, err); rerr != nil {
				slog.Error("watch cycle failed; trying again at the next event or interval", "err", rerr)
			}
		},
	})
}

// sleep waits d or until ctx is done; it reports whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func promoteCommand() *cli.Command {
	return &cli.Command{
		Name:      "promote",
		Usage:     "copy the images SRC runs into DST, re-verified, honouring DST's gates",
		ArgsUsage: "SRC DST",
		Description: `DST gets the exact digests SRC runs, by a commit or a pull request as DST's write
says. Images refused by verification are skipped and the exit code is 3; a gate not yet met is
a skip with exit code 0.

Example:
   ferry promote staging prod`,
		Flags: append(pipelineFlags(),
			&cli.DurationFlag{Name: "wait", Usage: "wait up to D for the pull request to be merged or closed, and report which", EnvVars: []string{"FERRY_WAIT"}},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usageError("promote: want SRC and DST environments, e.g. ferry promote staging prod")
			}
			opts, err := pipelineOptions(c)
			if err != nil {
				return err
			}
			res, err := promote.Promote(c.Context, opts, c.Args().Get(0), c.Args().Get(1))
			return report(c, res, err)
		},
	}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "environments × images: tag, digest, verified, versions behind",
		Description: `Example:
   ferry status --output markdown`,
		Flags: []cli.Flag{configFlag(), repoFlag(), outputFlag(),
			&cli.StringFlag{Name: "branch", Usage: "read this branch instead of git.branch", EnvVars: []string{"FERRY_BRANCH"}},
			&cli.StringFlag{Name: "cache-dir", Usage: "registry metadata cache (default $XDG_CACHE_HOME/ferry)", EnvVars: []string{"FERRY_CACHE_DIR"}},
		},
		Action: func(c *cli.Context) error {
			format, err := outputFormat(c, "text", "json", "markdown")
			if err != nil {
				return err
			}
			opts, err := pipelineOptions(c)
			if err != nil {
				return err
			}
			rep, err := promote.Status(c.Context, opts)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(c.App.Writer, rep)
			}
			return rep.Write(c.App.Writer, format == "markdown")
		},
	}
}
