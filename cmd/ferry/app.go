package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"
)

// Exit codes (DESIGN.md).
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitRefused = 3
)

// exitErr carries an exit code with an error that has already been explained (or not).
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitErr) Unwrap() error { return e.err }

// usageError marks an error as a usage error (exit 2).
func usageError(format string, args ...any) error {
	return &exitErr{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// refused marks an error as a verification refusal of an explicitly requested image (exit 3).
func refused(err error) error { return &exitErr{code: exitRefused, err: err} }

// newApp builds the CLI. stdout carries results; stderr carries logs and errors.
func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "ferry",
		Usage: "move signed container images through environments the GitOps way",
		Description: `ferry runs in CI. It verifies an image's signature, writes the verified reference
into a Kubernetes config repo, and promotes it from environment to environment by commits
and pull requests.

Examples:
   ferry bump ghcr.io/acme/api:1.4.2          # after docker push and cosign sign
   ferry watch --once                         # on a CI schedule
   ferry promote staging prod                 # a pull request for prod
   ferry status --output markdown
   ferry history --env prod
   ferry rollback prod --image api
   ferry set-image --path envs/dev ghcr.io/acme/api:1.4.2
   ferry set-image --dry-run --output json nginx=ghcr.io/acme/nginx:1.27`,
		Version:              version,
		HideVersion:          true,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"FERRY_LOG_LEVEL"}},
		},
		Before: func(c *cli.Context) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return usageError("--log-level: %v", err)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})))
			return nil
		},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return &exitErr{code: exitUsage, err: err}
		},
		// run maps errors to exit codes; urfave/cli must not exit on its own (it would exit 3,
		// ferry's "verification refused", for an unknown command).
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			bumpCommand(),
			watchCommand(),
			promoteCommand(),
			statusCommand(),
			historyCommand(),
			rollbackCommand(),
			versionCommand(),
			tagsCommand(),
			lintCommand(),
			setImageCommand(),
			verifyCommand(),
			githubReportCommand(),
			docsCommand(),
			demoCommand(),
			completionCommand(),
		},
	}
	for _, cmd := range app.Commands {
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = app.OnUsageError
		}
	}
	return app
}

// run executes the CLI and maps errors to exit codes.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	if n := len(args); n == 0 || args[n-1] != "--generate-bash-completion" {
		// Shell completion needs its flag last and no "--": leave that command line as it is.
		args = flagsFirst(app, args)
	}
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	code := exitError
	var ee *exitErr
	if errors.As(err, &ee) {
		code = ee.code
	} else if isUsageText(err) {
		code = exitUsage
	}
	if msg := err.Error(); msg != "" && (ee == nil || ee.err != nil) {
		fmt.Fprintf(stderr, "ferry: %s\n", msg)
	}
	return code
}

// isUsageText recognises urfave/cli's own usage errors that bypass OnUsageError.
func isUsageText(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "flag provided but not defined") ||
		strings.HasPrefix(msg, "Required flag") ||
		strings.HasPrefix(msg, "No help topic")
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print ferry's version",
		Description: `Examples:
   ferry version`,
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "ferry %s\n", version)
			return err
		},
	}
}

// flagsFirst moves a command's flags ahead of its positional arguments. urfave/cli v2 stops
// parsing flags at the first positional argument, but `ferry tags REPO --semver …` and
// `ferry bump REF --repo …` are the documented forms. "--" still ends the flags.
func flagsFirst(app *cli.App, args []string) []string {
	takesValue := func(flags []cli.Flag) map[string]bool {
		m := map[string]bool{}
		for _, f := range flags {
			_, isBool := f.(*cli.BoolFlag)
			for _, n := range f.Names() {
				m[n] = !isBool
			}
		}
		return m
	}
	// Skip the program name and global flags to find the command.
	global := takesValue(app.Flags)
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if global[name] && !hasValue {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return args
	}
	value := takesValue(cmd.Flags)
	var flags, pos []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			pos = append(pos, rest[j+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if value[name] && !hasValue && j+1 < len(rest) {
			j++
			flags = append(flags, rest[j])
		}
	}
	out := append(append([]string{}, args[:i+1]...), flags...)
	if len(pos) > 0 {
		out = append(out, "--")
	}
	return append(out, pos...)
}
