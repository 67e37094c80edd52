// Command ferry moves signed container images through environments the GitOps way.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// memoryLimit is the soft limit on the Go runtime's memory unless GOMEMLIMIT is set.
const memoryLimit = 64 << 20

func main() {
	// ferry is a short-lived process whose live heap is a few MB of package state: with Go's
	// default GOGC it collects several times per run for nothing. The soft memory limit keeps
	// a run that allocates a lot (history over thousands of commits) from growing its heap to
	// five times what it holds just to collect less: past it, the collector runs as often as
	// it needs. A user's GOGC or GOMEMLIMIT still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile(os.Stderr)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}
