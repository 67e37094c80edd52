package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for ferry (FERRY_TEST_RUN_MAIN=1: the completion
// tests run it from a shell), and stops the shared Gitea the pull-request tests started.
func TestMain(m *testing.M) {
	if os.Getenv("FERRY_TEST_RUN_MAIN") == "1" {
		main()
	}
	code := m.Run()
	if giteaSrv != nil {
		giteaSrv.Stop()
	}
	os.Exit(code)
}
