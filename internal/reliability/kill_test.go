package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/registry/registrytest"
)

// killPoint says when to kill -9 a running `ferry watch`.
type killPoint struct {
	name string
	// registry, when set, kills at the first registry request it matches.
	registry func(*http.Request) bool
	// git, when set, kills when the smart-HTTP server gets this request (before git runs it);
	// with applied, after git applied it (the push landed, the client never heard).
	git     gitOp
	applied bool
	// after kills after a delay, wherever the run is.
	after time.Duration
}

// TestKillDuringWatch starts `ferry watch --repo <local checkout>` (origin: a smart-HTTP
// remote) and kills it with SIGKILL at chosen points: while listing tags, reading a manifest,
// fetching a signature, fetching from Git, pushing, right after the remote applied the push,
// and at random moments. After each kill, the remote and the checkout pass git fsck --strict,
// hold no lock files, the working tree (with its uncommitted and untracked changes) is as it
// was, main is either untouched or holds the whole intended commit, and the next run succeeds
// and reaches the intended state with one commit.
func TestKillDuringWatch(t *testing.T) {
	points := []killPoint{
		{name: "listing tags", registry: func(r *http.Request) bool { return registrytest.Classify(r) == registrytest.TagList }},
		{name: "reading a manifest", registry: func(r *http.Request) bool { return registrytest.Classify(r) == registrytest.ManifestGet }},
		{name: "fetching a signature", registry: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ".sig") }},
		{name: "fetching from git", git: opRefs},
		{name: "pushing", git: opReceivePack},
		{name: "after the remote applied the push", git: opReceivePack, applied: true},
	}
	for i := range iters(3, 20) {
		points = append(points, killPoint{name: fmt.Sprintf("at random %d", i), after: time.Duration(1+rand.N(500)) * time.Millisecond}) // 0 would mean "no timed kill"
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			w := newWorld(t, worldOptions{})
			srv := newGitServer(t, filepath.Dir(w.bare))
			allowPush(t, w.bare)
			checkout := filepath.Join(t.TempDir(), "checkout")
			git(t, "", "clone", "-q", srv.repoURL(filepath.Base(w.bare)), checkout)
			// Work in progress that ferry must never touch.
			appendFile(t, filepath.Join(checkout, "README.md"), "uncommitted line\n")
			writeFile(t, filepath.Join(checkout, "notes.txt"), "untracked\n")
			statusBefore := git(t, checkout, "status", "--porcelain", "--untracked-files=all")
			readmeBefore := readFile(t, filepath.Join(checkout, "README.md"))
			seed := w.head()
			want := map[string]string{}
			for _, img := range w.images {
				want[img] = w.repo(img) + ":1.1.0@" + w.digest[img+":1.1.0"]
			}

			w.reg.SetLatency(20 * time.Millisecond) // a slow registry widens every window
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := command(t, ctx, nil, "watch", "--repo", checkout, "--output", "json")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			var once sync.Once
			var proc atomic.Pointer[os.Process] // set after Start; read by server goroutines
			killed := make(chan struct{})
			kill := func() {
				once.Do(func() {
					close(killed)
					for i := 0; proc.Load() == nil && i < 500; i++ {
						time.Sleep(10 * time.Millisecond) // Start has not returned yet
					}
					if p := proc.Load(); p != nil {
						_ = p.Kill() // SIGKILL
					}
				})
			}
			switch {
			case p.registry != nil:
				w.reg.FailWhere(func(r *http.Request) bool {
					if p.registry(r) {
						kill()
						return true
					}
					return false
				}, registrytest.Fault{Latency: 10 * time.Second})
			case p.git != "" && p.applied:
				srv.inject(p.git, dropAfter)
				srv.setHooks(nil, func(gitOp) { kill(); time.Sleep(100 * time.Millisecond) })
			case p.git != "":
				srv.inject(p.git, hangThenDie)
				srv.setHooks(func(gitOp) { kill(); time.Sleep(100 * time.Millisecond) }, nil)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			proc.Store(cmd.Process)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			if p.after > 0 {
				select {
				case <-time.After(p.after):
					kill()
				case <-done:
					done <- nil
				}
			}
			err := <-done
			select {
			case <-killed:
			default:
				if p.after == 0 {
					t.Fatalf("the kill point was never reached; the run ended: %v\n%s", err, out.String())
				}
				t.Logf("the run finished before the random kill (%s): %v", p.after, err)
			}
			w.reg.ClearFaults()
			w.reg.SetLatency(0)
			srv.setHooks(nil, nil)
			srv.quiesce(t) // the remote's own work on a request ferry abandoned ends first

			checkState := func(stage string) {
				t.Helper()
				fsck(t, w.bare)
				fsck(t, checkout)
				for _, dir := range []string{w.bare, filepath.Join(checkout, ".git")} {
					locks := lockFiles(t, dir)
					// kill -9 while ferry holds the checkout's index lock leaves it, as it
					// would git's; ferry marks it as its own, and its next run clears it.
					if stage == "after kill -9" && dir != w.bare && slices.Equal(locks, []string{"index.lock"}) {
						if _, err := os.Stat(filepath.Join(dir, "ferry-index-lock.pid")); err == nil {
							t.Logf("%s: ferry's own index.lock was left; the next run must clear it", stage)
							locks = nil
						}
					}
					if len(locks) > 0 {
						t.Errorf("%s: lock files left in %s: %v", stage, dir, locks)
					}
				}
				if got := readFile(t, filepath.Join(checkout, "README.md")); got != readmeBefore {
					t.Errorf("%s: the uncommitted change to README.md was touched:\n%s", stage, got)
				}
				if got := readFile(t, filepath.Join(checkout, "notes.txt")); got != "untracked\n" {
					t.Errorf("%s: the untracked notes.txt was touched: %q", stage, got)
				}
				head := w.head()
				if head != seed {
					if diff := cmp.Diff(want, w.devImages("main")); diff != "" {
						t.Errorf("%s: main moved to a commit that is not the whole intended change (-want +got):\n%s", stage, diff)
					}
				}
				local := strings.TrimSpace(git(t, checkout, "rev-parse", "main"))
				if local != seed && local != head {
					t.Errorf("%s: the checkout's main is at %s: neither the seed %s nor the remote's %s", stage, local, seed, head)
				}
			}
			checkState("after kill -9")
			if got := git(t, checkout, "status", "--porcelain", "--untracked-files=all"); got != statusBefore && strings.TrimSpace(git(t, checkout, "rev-parse", "main")) == seed {
				t.Errorf("after kill -9: the working tree changed although main did not move (-before +after):\n%s", cmp.Diff(statusBefore, got))
			}

			r := ferry(t, nil, "watch", "--repo", checkout, "--output", "json")
			if r.code != 0 {
				t.Fatalf("the run after kill -9 failed:\n%s", r)
			}
			checkState("after the next run")
			if diff := cmp.Diff(want, w.devImages("main")); diff != "" {
				t.Errorf("envs/dev after the next run (-want +got):\n%s", diff)
			}
			if n := len(strings.Fields(git(t, w.bare, "rev-list", seed+"..main"))); n != 1 {
				t.Errorf("main gained %d commits, want 1", n)
			}
			w.checkLinear()
			w.checkEveryCommitVerified()
		})
	}
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, p, s string) {
	t.Helper()
	writeFile(t, p, readFile(t, p)+s)
}
