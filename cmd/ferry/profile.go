package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// profileEnv names a file to write a CPU profile of the whole run to, for measuring ferry as
// the benchmarks run it (docs/benchmarks.md): FERRY_CPUPROFILE=cpu.out ferry tags …, then
// go tool pprof bin/ferry cpu.out. Unset, nothing is profiled.
const profileEnv = "FERRY_CPUPROFILE"

// startProfile starts the CPU profile profileEnv asks for and returns what stops it; a profile
// that cannot start is reported on stderr and the run goes on unprofiled.
func startProfile(stderr io.Writer) (stop func()) {
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
