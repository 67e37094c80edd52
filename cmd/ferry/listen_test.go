package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferryhq/ferry/promote/promotetest"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// TestWatchListenSIGTERMMidCycle runs `ferry watch --listen` as a process, sends it an event,
// and SIGTERM while the event's cycle is listing tags (the registry holds that answer back).
// The server stops taking requests, the cycle runs to its end, the push lands whole, the
// config repo is sound and the exit is 0.
func TestWatchListenSIGTERMMidCycle(t *testing.T) {
	w := promotetest.New(t, nil)
	var stderr promotetest.Buffer
	cmd := exec.Command(os.Args[0], "watch", "--listen", "127.0.0.1:0", "--repo", w.Bare, "--cache-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "FERRY_TEST_RUN_MAIN=1", "FERRY_WEBHOOK_SECRET=s3cret")
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s\n%s", what, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	addrRE := regexp.MustCompile(`listening for registry webhooks"? addr=(\S+)`)
	var base string
	waitFor("listening address", func() bool {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			base = "http://" + m[1]
		}
		return base != ""
	})
	waitFor("first cycle", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	d := w.Reg.PushRandom(t, "acme/api:1.3.0", registrytest.Image{})
	w.Sign("api", d)
	before := w.Reg.Count(registrytest.TagList)
	w.Reg.InjectWhere(func(r *http.Request) bool { return registrytest.Classify(r) == registrytest.TagList },
		registrytest.Fault{Latency: 2 * time.Second})
	req, _ := http.NewRequest(http.MethodPost, base+"/webhook/generic", strings.NewReader(`{"repository": "`+w.Repository("api")+`", "tag": "1.3.0"}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("event answered %d", resp.StatusCode)
	}
	waitFor("the event's cycle to list tags", func() bool { return w.Reg.Count(registrytest.TagList) > before })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("still running two minutes after SIGTERM\n%s", stderr.String())
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("the server still answers after exit")
	}
	// The cycle in progress ran to its end: its commit is whole on main.
	if !strings.Contains(w.Show("main", "envs/dev/kustomization.yaml"), d) {
		t.Errorf("the cycle's push did not land:\n%s\n%s", w.Show("main", "envs/dev/kustomization.yaml"), stderr.String())
	}
	promotetest.Git(t, w.Bare, "fsck", "--strict")
	if msg := promotetest.Git(t, w.Bare, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "Ferry-Image: api="+w.Ref("api", "1.3.0")) {
		t.Errorf("main's last commit is not the cycle's:\n%s", msg)
	}
}

func TestWatchListenUsage(t *testing.T) {
	t.Setenv("FERRY_WEBHOOK_SECRET", "")
	code, _, errOut := runCLI(t, "watch", "--listen", "127.0.0.1:0", "--repo", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "FERRY_WEBHOOK_SECRET") {
		t.Errorf("--listen without a secret: exit %d\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, "watch", "--once", "--listen", ":0")
	if code != exitUsage || !strings.Contains(errOut, "--once excludes") {
		t.Errorf("--once --listen: exit %d\n%s", code, errOut)
	}
}
