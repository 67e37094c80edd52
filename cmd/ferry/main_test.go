package main

import (
	"os"
	"testing"

	"github.com/ferryhq/ferry/promote/forge/giteatest"
)

// TestMain lets the test binary stand in for ferry (FERRY_TEST_RUN_MAIN=1: the completion
// tests run it from a shell), and stops the Gitea the pull-request tests shared (giteatest.Shared).
func TestMain(m *testing.M) {
	if os.Getenv("FERRY_TEST_RUN_MAIN") == "1" {
		main()
	}
	code := m.Run()
	giteatest.StopShared()
	os.Exit(code)
}
