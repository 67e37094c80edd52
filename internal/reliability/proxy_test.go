package reliability

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/registry/registrytest"
)

// bodyFault is what the proxy does to a response body; registrytest's own faults (status
// codes, resets before an answer, latency) cover the rest.
type bodyFault int

const (
	passBody  bodyFault = iota
	slowBody            // trickle the body a few bytes at a time
	truncate            // announce the full Content-Length, send half, reset the connection
	corrupt             // flip one byte of the body (same length)
	slowStall           // send headers, then stall 2s before the body
)

// faultProxy is a reverse proxy in front of a registrytest server that damages response
// bodies of the requests a rule matches.
type faultProxy struct {
	host  string
	proxy *httputil.ReverseProxy

	mu    sync.Mutex
	rules []bodyRule
}

type bodyRule struct {
	match func(*http.Request) bool
	fault bodyFault
	left  int // requests left; <0 forever
}

func newFaultProxy(t testing.TB, reg *registrytest.Server) *faultProxy {
	t.Helper()
	u, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{proxy: httputil.NewSingleHostReverseProxy(u)}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.host = srv.Listener.Addr().String()
	return p
}

// damage applies f to the next n matching requests (n < 0: all of them).
func (p *faultProxy) damage(match func(*http.Request) bool, f bodyFault, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, bodyRule{match: match, fault: f, left: n})
}

func (p *faultProxy) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := passBody
	p.mu.Lock()
	for i := range p.rules {
		rl := &p.rules[i]
		if rl.left != 0 && rl.match(r) {
			f = rl.fault
			if rl.left > 0 {
				rl.left--
			}
			break
		}
	}
	p.mu.Unlock()
	if f == passBody || r.Method == http.MethodHead {
		p.proxy.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.proxy.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code != http.StatusOK || len(body) == 0 {
		copyRecorded(w, rec, body)
		return
	}
	switch f {
	case corrupt:
		b := append([]byte(nil), body...)
		b[len(b)/2] ^= 0x20
		copyRecorded(w, rec, b)
	case slowBody, slowStall:
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		fl := w.(http.Flusher)
		fl.Flush()
		if f == slowStall {
			time.Sleep(2 * time.Second)
			_, _ = w.Write(body)
			return
		}
		for i := 0; i < len(body); i += 16 {
			_, _ = w.Write(body[i:min(i+16, len(body))])
			fl.Flush()
			time.Sleep(2 * time.Millisecond)
		}
	case truncate:
		conn, bufrw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		writeHead(bufrw, rec, len(body))
		_, _ = bufrw.Write(body[:len(body)/2])
		_ = bufrw.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		conn.Close()
	}
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

func writeHead(bw *bufio.ReadWriter, rec *httptest.ResponseRecorder, n int) {
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
	for k, vs := range rec.Header() {
		if k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			fmt.Fprintf(bw, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(bw, "Content-Length: %d\r\n\r\n", n)
}
