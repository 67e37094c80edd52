package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// profileEnv names a file to write a CPU profile of the whole run to, for measuring ferry as
// the benchmarks run it (docs/benchmarks.md): FERRY_CPUPROFILE=cpu.out ferry tags …, then
// go tool pprof bin/ferry cpu.out. memProfileEnv names a file for a heap profile written as
// the run ends (go tool pprof -sample_index=alloc_space bin/ferry mem.out shows what was
// allocated, inuse_space what was still live). Unset, nothing is profiled.
const (
	profileEnv    = "FERRY_CPUPROFILE"
	memProfileEnv = "FERRY_MEMPROFILE"
)

// startProfile starts the profiles the environment asks for and returns what stops them; a
// profile that cannot be written is reported on stderr and the run goes on.
func startProfile(stderr io.Writer) (stop func()) {
	stopCPU := startCPUProfile(stderr)
	memPath := os.Getenv(memProfileEnv)
	if memPath == "" {
		return stopCPU
	}
	return func() {
		stopCPU()
		f, err := os.Create(memPath)
		if err == nil {
			runtime.GC() // the live figures are those of the last collection
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "ferry: %s: %v\n", memProfileEnv, err)
		}
	}
}

func startCPUProfile(stderr io.Writer) (stop func()) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ferry: %s: %v\n", profileEnv, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "ferry: %s: %v\n", profileEnv, err)
		}
	}
}
