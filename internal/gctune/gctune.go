// Package gctune sets ferry's garbage-collector defaults when it is initialised, before most
// of the program's package initialisers run, so that start-up does not collect either.
//
// ferry is a short-lived process whose live heap is a few MB of package state: with Go's
// default GOGC it collects several times per run for nothing, once during start-up already
// (the dependencies' initialisers allocate about 3.5 MB, against a first heap goal of 4 MB).
// So GOGC defaults to 400 here. The soft memory limit keeps a run that allocates a lot
// (history over thousands of commits) from growing its heap to five times what it holds just
// to collect less: past it, the collector runs as often as it needs. A user's GOGC or
// GOMEMLIMIT still wins.
//
// Rules: cmd/ferry imports it for its side effect; it imports only os and runtime/debug, so
// it is initialised as soon as those are (package initialisation follows imports, then import
// paths in byte order), ahead of the dependencies that allocate most.
package gctune

import (
	"os"
	"runtime/debug"
)

// Defaults, unless GOGC or GOMEMLIMIT is set.
const (
	GCPercent   = 400
	MemoryLimit = 64 << 20
)

func init() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}
