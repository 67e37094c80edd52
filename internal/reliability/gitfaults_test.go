package reliability

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// failFirstHook is a hook that declines its first n invocations, then accepts.
func failFirstHook(n int) string {
	return fmt.Sprintf(`#!/bin/sh
f="$GIT_DIR/hook-count"
c=$(cat "$f" 2>/dev/null || echo 0); c=$((c+1)); echo $c > "$f"
if [ $c -le %d ]; then echo "injected refusal $c" >&2; exit 1; fi
exit 0
`, n)
}

// randomHook declines about half of its invocations.
const randomHook = `#!/bin/sh
b=$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')
if [ $((b % 2)) -eq 0 ]; then echo "injected random refusal" >&2; exit 1; fi
exit 0
`

// TestGitRemoteFailures runs `ferry watch` against a remote that refuses or breaks the push
// (hooks declining, a smart-HTTP server that resets the connection before or after git
// processed the push, 500s, a broken fetch). Every run either lands the whole intended commit
// on main, fast-forward, or fails with an error that says what failed and leaves main where it
// was; the remote stays fsck-clean with no lock files; re-running until it succeeds reaches the
// intended state with exactly one new commit.
func TestGitRemoteFailures(t *testing.T) {
	type tc struct {
		name  string
		http  bool
		setup func(w *world, s *gitServer)
		// codes are the exit codes of the successive runs; the last must be 0.
		codes []int
		// errText must appear in the stderr of every failing run.
		errText string
	}
	cases := []tc{
		{name: "pre-receive declines once", setup: func(w *world, _ *gitServer) { installHook(t, w.bare, "pre-receive", failFirstHook(1)) },
			codes: []int{1, 0}, errText: "pre-receive hook declined"},
		{name: "update hook declines twice", setup: func(w *world, _ *gitServer) {
			installHook(t, w.bare, "update", strings.Replace(failFirstHook(2), "exit 0\n", "", 1)+updateHookBody)
		}, codes: []int{1, 1, 0}, errText: "hook declined"},
		{name: "http: reset before git reads the push", http: true, setup: func(_ *world, s *gitServer) { s.inject(opReceivePack, dropBefore) },
			codes: []int{1, 0}, errText: "pushing main to http://"},
		{name: "http: reset after git applied the push", http: true, setup: func(_ *world, s *gitServer) { s.inject(opReceivePack, dropAfter) },
			codes: []int{0}},
		{name: "http: 500 on the push", http: true, setup: func(_ *world, s *gitServer) { s.inject(opReceivePack, status500) },
			codes: []int{1, 0}, errText: "pushing main to http://"},
		{name: "http: reset during the fetch", http: true, setup: func(_ *world, s *gitServer) { s.inject(opUploadPack, dropBefore) },
			codes: []int{1, 0}, errText: "http://"},
		{name: "http: 500 on the ref advertisement", http: true, setup: func(_ *world, s *gitServer) { s.inject(opRefs, status500) },
			codes: []int{1, 0}, errText: "http://"},
	}
	for i := range iters(0, 3) {
		cases = append(cases, tc{name: fmt.Sprintf("pre-receive declines at random %d", i), setup: func(w *world, _ *gitServer) {
			installHook(t, w.bare, "pre-receive", randomHook)
		}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, worldOptions{})
			repo := w.bare
			var srv *gitServer
			if c.http {
				srv = newGitServer(t, filepath.Dir(w.bare))
				allowPush(t, w.bare)
				repo = srv.repoURL(filepath.Base(w.bare))
			}
			c.setup(w, srv)
			seed := w.head()
			want := map[string]string{}
			for _, img := range w.images {
				want[img] = w.repo(img) + ":1.1.0@" + w.digest[img+":1.1.0"]
			}

			var codes []int
			for attempt := 0; attempt < 20; attempt++ {
				before := w.head()
				r := ferry(t, nil, "watch", "--repo", repo, "--output", "json")
				codes = append(codes, r.code)
				fsck(t, w.bare)
				if locks := lockFiles(t, w.bare); len(locks) > 0 {
					t.Errorf("lock files left in the remote: %v", locks)
				}
				if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
					t.Fatalf("ferry panicked:\n%s", r)
				}
				after := w.head()
				if r.code != 0 {
					if after != before {
						t.Errorf("a failed run moved main from %s to %s\n%s", before, after, r)
					}
					t.Logf("run %d failed as injected: %s", attempt+1, strings.TrimSpace(lastLine(r.stderr)))
					if c.errText != "" && !strings.Contains(r.stderr, c.errText) {
						t.Errorf("stderr does not say %q:\n%s", c.errText, r)
					}
					if !strings.HasPrefix(strings.TrimSpace(lastLine(r.stderr)), "ferry: ") {
						t.Errorf("the failure is not reported as one ferry: line:\n%s", r)
					}
					continue
				}
				if diff := cmp.Diff(want, w.devImages("main")); diff != "" {
					t.Errorf("envs/dev after the successful run (-want +got):\n%s\n%s", diff, r)
				}
				if !strings.Contains(r.stdout, after) {
					t.Errorf("the run reports no commit %s:\n%s", after, r)
				}
				break
			}
			if c.codes != nil {
				if diff := cmp.Diff(c.codes, codes); diff != "" {
					t.Errorf("exit codes of successive runs (-want +got):\n%s", diff)
				}
			}
			if n := len(strings.Fields(git(t, w.bare, "rev-list", seed+"..main"))); n != 1 {
				t.Errorf("main gained %d commits, want 1", n)
			}
			w.checkLinear()
			w.checkEveryCommitVerified()
		})
	}
}

// updateHookBody is updateHook without its shebang, to append to another hook.
var updateHookBody = strings.TrimPrefix(updateHook, "#!/bin/sh\n")

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}
