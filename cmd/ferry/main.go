// Command ferry moves signed container images through environments the GitOps way.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// GOGC 400 and a 64 MiB soft memory limit unless GOGC or GOMEMLIMIT is set, applied
	// while the packages are initialised rather than in main, so start-up does not collect.
	_ "github.com/ferryhq/ferry/internal/gctune"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile(os.Stderr)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}
