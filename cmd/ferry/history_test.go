package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/history"
	"github.com/ferryhq/ferry/promote/promotetest"
)

func TestHistoryAndRollbackCommands(t *testing.T) {
	w := promotetest.New(t, nil)
	common := []string{"--repo", w.Bare, "--cache-dir", t.TempDir()}
	run := func(want int, args ...string) string {
		t.Helper()
		extra := common
		if args[0] == "history" {
			extra = common[:2] // history asks no registry
		}
		code, out, errOut := runCLI(t, append(args, extra...)...)
		if code != want {
			t.Fatalf("ferry %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out + errOut
	}
	run(0, "watch")
	run(0, "rollback", "dev", "--image", "api")

	var rep history.Report
	if err := json.Unmarshal([]byte(run(0, "history", "--env", "dev", "--output", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Events) < 2 || rep.Events[0].How != "rollback" || rep.Events[0].Image != "api" || rep.Summary[0].Rollbacks != 1 {
		t.Fatalf("history --output json: %+v", rep)
	}
	if md := run(0, "history", "--output", "markdown"); !strings.Contains(md, "| environment | deployments |") || !strings.Contains(md, "| rollback |") {
		t.Errorf("history --output markdown:\n%s", md)
	}
	if page := run(0, "history", "--output", "html"); !strings.HasPrefix(strings.TrimSpace(page), "<!DOCTYPE html>") || !strings.Contains(page, "rollback") {
		t.Errorf("history --output html does not look like the page:\n%.300s", page)
	}
	if text := run(0, "history", "--since", "2w"); !strings.Contains(text, "rollback") || !strings.Contains(text, "CHANGE FAILURE RATE") {
		t.Errorf("history text:\n%s", text)
	}
	// The rollback holds 1.1.0 out of dev.
	out := run(0, "bump", "--env", "dev", "-o", "json", w.Repository("api")+":1.1.0")
	var res promote.Result
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &res); err != nil || len(res.Skipped) != 1 || res.Skipped[0].Reason != "rolled-back" {
		t.Errorf("bump of a held version: %s (%v)", out, err)
	}
	run(0, "bump", "--env", "dev", "--allow-rolled-back", w.Repository("api")+":1.1.0")

	// Bad input: usage errors exit 2, a version never run exits 1, nothing written.
	head := w.Head("main")
	run(2, "history", "--since", "soon")
	run(2, "history", "--output", "yaml")
	run(2, "rollback")
	run(2, "rollback", "dev", "--to", "1.0.0", "--steps", "2")
	if out := run(1, "rollback", "dev", "--image", "api", "--to", "7.7.7"); !strings.Contains(out, "7.7.7") {
		t.Errorf("rollback --to 7.7.7 does not name the version:\n%s", out)
	}
	run(1, "rollback", "qa")
	if w.Head("main") != head {
		t.Error("a refused rollback wrote")
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour,
		"2026-12-01": 60 * time.Hour, "2026-12-03T11:00:00Z": time.Hour,
	} {
		if got, err := parseSince(in, now); err != nil || got != want {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-3d", "xd", "soon", "2027-01-01", "-1h"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) = nil error", bad)
		}
	}
}
