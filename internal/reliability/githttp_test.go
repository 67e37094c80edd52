package reliability

import (
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gitOp classifies a smart-HTTP request.
type gitOp string

const (
	opRefs        gitOp = "refs"         // GET info/refs (either service)
	opUploadPack  gitOp = "upload-pack"  // POST git-upload-pack: a fetch
	opReceivePack gitOp = "receive-pack" // POST git-receive-pack: a push
)

func classifyGit(r *http.Request) gitOp {
	switch {
	case strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
		return opReceivePack
	case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
		return opUploadPack
	}
	return opRefs
}

// gitFault is what the server does to one request.
type gitFault int

const (
	serve       gitFault = iota
	dropBefore           // read part of the request, then reset the connection unanswered
	dropAfter            // let git process the request fully, then reset instead of answering
	status500            // answer 500 without running git
	hangThenDie          // call onHang, then reset (used to kill the client mid-request)
)

// gitServer is git's own smart-HTTP server (git http-backend through net/http/cgi) for the
// bare repositories in a directory, with fault injection per request and optional Basic auth.
type gitServer struct {
	URL  string
	root string
	cgi  *cgi.Handler

	inFlight atomic.Int64 // requests being served (git http-backend may outlive its client)

	mu         sync.Mutex
	faults     map[gitOp][]gitFault
	seen       map[gitOp]int
	auth       string // required Authorization header, if set
	onHang     func(gitOp)
	afterApply func(gitOp)
}

// setAuth makes the server require this Authorization header ("" for none).
func (s *gitServer) setAuth(header string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = header
}

// setHooks sets what hangThenDie calls before it resets, and what dropAfter calls once git
// applied the request.
func (s *gitServer) setHooks(onHang, afterApply func(gitOp)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onHang, s.afterApply = onHang, afterApply
}

func newGitServer(t testing.TB, root string) *gitServer {
	t.Helper()
	backend, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	s := &gitServer{
		root:   root,
		faults: map[gitOp][]gitFault{},
		seen:   map[gitOp]int{},
		cgi: &cgi.Handler{
			Path:       filepath.Join(strings.TrimSpace(string(backend)), "git-http-backend"),
			Env:        []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
			InheritEnv: []string{"PATH"},
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// repoURL is the clone URL of the bare repository root/<name>; it must allow pushes over
// HTTP (http.receivepack), which allowPush sets.
func (s *gitServer) repoURL(name string) string { return s.URL + "/" + name }

func allowPush(t testing.TB, bare string) { git(t, bare, "config", "http.receivepack", "true") }

// inject queues faults for the next requests of op, one per request.
func (s *gitServer) inject(op gitOp, f ...gitFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = append(s.faults[op], f...)
}

// quiesce waits (up to a minute) until no request is being served: after its client is
// killed, git http-backend finishes (or abandons) the request on its own, cleaning up as it
// goes.
func (s *gitServer) quiesce(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); s.inFlight.Load() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the git server is still serving %d requests a minute after the client died", s.inFlight.Load())
		}
	}
}

func (s *gitServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	op := classifyGit(r)
	s.mu.Lock()
	s.seen[op]++
	f := serve
	if q := s.faults[op]; len(q) > 0 {
		f, s.faults[op] = q[0], q[1:]
	}
	auth, onHang, afterApply := s.auth, s.onHang, s.afterApply
	s.mu.Unlock()

	if auth != "" && r.Header.Get("Authorization") != auth {
		w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	switch f {
	case dropBefore:
		_, _ = io.CopyN(io.Discard, r.Body, 64)
		resetConn(w)
	case dropAfter:
		rec := httptest.NewRecorder()
		s.cgi.ServeHTTP(rec, r)
		if afterApply != nil {
			afterApply(op)
		}
		resetConn(w)
	case status500:
		http.Error(w, "injected failure", http.StatusInternalServerError)
	case hangThenDie:
		if onHang != nil {
			onHang(op)
		}
		resetConn(w)
	default:
		s.cgi.ServeHTTP(w, r)
	}
}

// resetConn closes the client's connection with a TCP reset and no answer.
func resetConn(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}
