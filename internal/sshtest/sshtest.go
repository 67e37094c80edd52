// Package sshtest starts a real OpenSSH server (Debian's openssh-server) on a loopback port for
// tests of SSH git remotes: generated host keys, an authorized_keys file the test controls, and
// the git commands of the current user's login shell on the other side.
//
// Nothing outside the test's temporary directory is written, except that sshd's privilege
// separation directory (/run/sshd) is created when running as root and it is missing, as the
// openssh-server service would.
package sshtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running sshd. It is stopped by the test's cleanup.
type Server struct {
	// Addr is host:port (127.0.0.1 and a free port).
	Addr string
	// Host and Port make up Addr.
	Host string
	Port int
	// User is the login name (the current user; the git commands run as it).
	User string
	// Dir is the server's private directory (config, host keys, log, authorized_keys).
	Dir string
	// HostKeys are the server's public host keys in authorized_keys format, ed25519 first.
	HostKeys []string
	// KnownHosts is a known_hosts file naming the server's ed25519 host key only (a client
	// must negotiate that algorithm among the several the server offers).
	KnownHosts string
	// ClientKey is an unencrypted ed25519 private key whose public key is authorized.
	ClientKey string

	authorized string
	mu         sync.Mutex
	log        *bytes.Buffer
}

// Options configure Start. The zero value is fine.
type Options struct {
	// Env is set for every session ("KEY=value"), e.g. a git configuration for the git commands.
	Env []string
}

// Start runs sshd in the foreground on a free 127.0.0.1 port and waits until it listens. It
// fails the test (never skips it) when sshd or ssh-keygen is missing.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	sshd := findSSHD(t)
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: current user: %v", err)
	}
	dir := t.TempDir()
	s := &Server{Host: "127.0.0.1", User: u.Username, Dir: dir, authorized: filepath.Join(dir, "authorized_keys"), log: new(bytes.Buffer)}
	if os.Getuid() == 0 {
		// sshd refuses to start without its privilege separation directory; the service
		// unit creates it, but the service is not running here.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshtest: creating /run/sshd: %v", err)
		}
	}
	var hostKeys []string
	for _, typ := range []string{"ed25519", "ecdsa"} {
		priv := filepath.Join(dir, "host_"+typ)
		pub := KeyGen(t, priv, typ, "")
		hostKeys = append(hostKeys, priv)
		s.HostKeys = append(s.HostKeys, pub)
	}
	s.ClientKey = filepath.Join(dir, "client_ed25519")
	s.Authorize(t, KeyGen(t, s.ClientKey, "ed25519", ""))

	for attempt := 1; ; attempt++ {
		port := freePort(t)
		err := s.run(t, sshd, port, hostKeys, opts)
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("sshtest: starting sshd: %v\nsshd log:\n%s", err, s.Log())
		}
	}
	s.KnownHosts = filepath.Join(dir, "known_hosts")
	s.WriteKnownHosts(t, s.KnownHosts, s.HostKeys[0])
	return s
}

func findSSHD(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("sshd"); err == nil && filepath.IsAbs(p) {
		return p
	}
	for _, p := range []string{"/usr/sbin/sshd", "/usr/local/sbin/sshd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("sshtest: sshd not found: run `make tools` (installs Debian's openssh-server)")
	return ""
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sshtest: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run starts sshd on port and waits for "Server listening"; an error means it exited first
// (e.g. the port was taken meanwhile).
func (s *Server) run(t testing.TB, sshd string, port int, hostKeys []string, opts Options) error {
	t.Helper()
	s.Port = port
	s.Addr = net.JoinHostPort(s.Host, strconv.Itoa(port))
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "ListenAddress %s\n", s.Addr)
	for _, k := range hostKeys {
		fmt.Fprintf(&cfg, "HostKey %s\n", k)
	}
	fmt.Fprintf(&cfg, "PidFile %s\n", filepath.Join(s.Dir, "sshd.pid"))
	fmt.Fprintf(&cfg, "AuthorizedKeysFile %s\n", s.authorized)
	fmt.Fprintf(&cfg, "AllowUsers %s\n", s.User)
	cfg.WriteString("StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n" +
		"PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n" +
		"AllowAgentForwarding no\nAllowTcpForwarding no\nX11Forwarding no\nPermitTTY no\n" +
		"PrintMotd no\nLogLevel VERBOSE\n")
	if len(opts.Env) > 0 {
		fmt.Fprintf(&cfg, "SetEnv %s\n", strings.Join(quoteAll(opts.Env), " "))
	}
	conf := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(cfg.String()), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if out, err := exec.Command(sshd, "-t", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("sshtest: sshd -t rejects the configuration %s: %v\n%s", conf, err, out)
	}

	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshtest: starting %s: %v", sshd, err)
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "Server listening on") {
				signalled = true
				close(ready)
			}
		}
		done <- cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-ready:
	case err := <-done:
		return fmt.Errorf("sshd exited before listening on %s: %v", s.Addr, err)
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("sshd did not listen on %s within 30s", s.Addr)
	}
	t.Cleanup(func() {
		// sshd -D runs in its own process group; sessions still open end with it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.Log())
		}
	})
	return nil
}

func quoteAll(env []string) []string {
	out := make([]string, len(env))
	for i, e := range env {
		out[i] = strconv.Quote(e)
	}
	return out
}

// Log is what sshd wrote so far (it runs with -e and LogLevel VERBOSE).
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// URL is the ssh:// URL of the absolute path on the server, with the user and port.
func (s *Server) URL(path string) string {
	return "ssh://" + s.User + "@" + s.Addr + path
}

// Authorize appends a public key (authorized_keys format) to the keys that may log in. sshd
// reads the file at every login, so it takes effect at once.
func (s *Server) Authorize(t testing.TB, pub string) {
	t.Helper()
	f, err := os.OpenFile(s.authorized, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.TrimSpace(pub) + "\n"); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
}

// WriteKnownHosts writes a known_hosts file at path naming hostKey (authorized_keys format)
// for this server's address.
func (s *Server) WriteKnownHosts(t testing.TB, path, hostKey string) {
	t.Helper()
	line := fmt.Sprintf("[%s]:%d %s\n", s.Host, s.Port, strings.TrimSpace(hostKey))
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
}

// KeyGen makes a key pair with ssh-keygen at path (private, OpenSSH format) and path.pub, of
// type typ ("ed25519", "ecdsa", "rsa"), encrypted with passphrase when it is not empty. It
// returns the public key line.
func KeyGen(t testing.TB, path, typ, passphrase string) string {
	t.Helper()
	args := []string{"-q", "-t", typ, "-N", passphrase, "-C", "sshtest-" + typ, "-f", path}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	cmd := exec.Command("ssh-keygen", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			t.Fatalf("sshtest: ssh-keygen not found: run `make tools` (installs Debian's openssh-client)")
		}
		t.Fatalf("sshtest: ssh-keygen -t %s: %v\n%s", typ, err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return strings.TrimSpace(string(pub))
}
