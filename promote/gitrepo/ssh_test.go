package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ferryhq/ferry/internal/sshtest"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

const sentinelPassphrase = "pass-SENTINEL-9c3e7a"

// sshServer starts sshd serving the bare repositories of this test, with the test's git
// configuration in the sessions.
func sshServer(t *testing.T) *sshtest.Server {
	t.Helper()
	return sshtest.Start(t, sshtest.Options{Env: []string{
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.Getenv("GIT_CONFIG_GLOBAL"),
	}})
}

func TestSSH(t *testing.T) {
	srv := sshServer(t)
	bare := newBare(t, seed)
	url := srv.URL(bare)
	ctx := context.Background()
	dir := t.TempDir()

	encKey := filepath.Join(dir, "enc_ed25519")
	srv.Authorize(t, sshtest.KeyGen(t, encKey, "ed25519", sentinelPassphrase))
	encPEM, err := os.ReadFile(encKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := filepath.Join(dir, "rsa")
	srv.Authorize(t, sshtest.KeyGen(t, rsaKey, "rsa", ""))
	strangerKey := filepath.Join(dir, "stranger")
	sshtest.KeyGen(t, strangerKey, "ed25519", "") // never authorized
	otherHost := filepath.Join(dir, "other_host")
	wrongHostKnown := filepath.Join(dir, "wrong_known_hosts")
	srv.WriteKnownHosts(t, wrongHostKnown, sshtest.KeyGen(t, otherHost, "ed25519", ""))
	otherHostKnown := filepath.Join(dir, "other_known_hosts")
	if err := os.WriteFile(otherHostKnown, []byte("[127.0.0.1]:1 "+srv.HostKeys[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ecdsaKnown := filepath.Join(dir, "ecdsa_known_hosts")
	srv.WriteKnownHosts(t, ecdsaKnown, srv.HostKeys[1])
	hashedKnown := filepath.Join(dir, "hashed_known_hosts")
	srv.WriteKnownHosts(t, hashedKnown, srv.HostKeys[0])
	if out, err := exec.Command("ssh-keygen", "-H", "-f", hashedKnown).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -H: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(hashedKnown); !strings.HasPrefix(string(b), "|1|") {
		t.Fatalf("known_hosts not hashed: %s", b)
	}
	revokedKnown := filepath.Join(dir, "revoked_known_hosts")
	srv.WriteKnownHosts(t, revokedKnown, srv.HostKeys[0])
	revoked, err := os.ReadFile(revokedKnown) // the host's line, and its key revoked
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(revokedKnown, append(revoked, "@revoked * "+srv.HostKeys[0]+"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}

	// Each case writes its own file; a refused case must leave main where it was.
	for _, tc := range []struct {
		name    string
		auth    Auth
		wantErr string // substring of the error; "" = the commit lands
		wantIs  error
	}{
		{name: "key file", auth: Auth{SSHKeyFile: srv.ClientKey, KnownHosts: []string{srv.KnownHosts}}},
		{name: "known_hosts with the ecdsa key only", auth: Auth{SSHKeyFile: srv.ClientKey, KnownHosts: []string{ecdsaKnown}}},
		{name: "hashed known_hosts", auth: Auth{SSHKeyFile: srv.ClientKey, KnownHosts: []string{hashedKnown}}},
		{name: "revoked host key", auth: Auth{SSHKeyFile: srv.ClientKey, KnownHosts: []string{revokedKnown}}, wantErr: "revoked", wantIs: ErrHostKey},
		{name: "encrypted key file", auth: Auth{SSHKeyFile: encKey, SSHKeyPassphrase: sentinelPassphrase, KnownHosts: []string{srv.KnownHosts}}},
		{name: "encrypted key bytes", auth: Auth{SSHKey: encPEM, SSHKeyPassphrase: sentinelPassphrase, KnownHosts: []string{srv.KnownHosts}}},
		{name: "rsa key", auth: Auth{SSHKeyFile: rsaKey, KnownHosts: []string{srv.KnownHosts}}},
		{name: "wrong host key", auth: Auth{SSHKeyFile: srv.ClientKey, KnownHosts: []string{wrongHostKnown}}, wantErr: "host key", wantIs: ErrHostKey},
		{name: "host not in known_hosts", auth: Auth{SSHKeyFile: srv.ClientKey, KnownHosts: []string{otherHostKnown}}, wantErr: "host key", wantIs: ErrHostKey},
		{name: "missing known_hosts", auth: Auth{SSHKeyFile: srv.ClientKey, KnownHosts: []string{filepath.Join(dir, "nope")}}, wantErr: "known_hosts"},
		{name: "key not authorized", auth: Auth{SSHKeyFile: strangerKey, KnownHosts: []string{srv.KnownHosts}}, wantErr: "unable to authenticate"},
		{name: "wrong passphrase", auth: Auth{SSHKeyFile: encKey, SSHKeyPassphrase: "wrong-" + sentinelPassphrase, KnownHosts: []string{srv.KnownHosts}}, wantErr: "passphrase"},
		{name: "no passphrase", auth: Auth{SSHKey: encPEM, KnownHosts: []string{srv.KnownHosts}}, wantErr: "passphrase"},
		{name: "missing key file", auth: Auth{SSHKeyFile: filepath.Join(dir, "nope"), KnownHosts: []string{srv.KnownHosts}}, wantErr: "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := git(t, bare, "rev-parse", "main")
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			p := "envs/dev/" + strings.ReplaceAll(tc.name, " ", "-") + ".yaml"
			r, err := Open(ctx, url, Options{Auth: tc.auth, Logger: logger})
			var res *Result
			if err == nil {
				defer r.Close()
				res, err = r.Apply(ctx, setFile(p, "over: ssh\n", "dev: "+tc.name))
			}
			leakCheck(t, err, logs.String(), fmt.Sprintf("%v %+v %#v %+v", tc.auth, tc.auth, tc.auth, Options{Auth: tc.auth}))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want an error containing %q", err, tc.wantErr)
				}
				t.Logf("refused: %v", err)
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("err = %v, want errors.Is %v", err, tc.wantIs)
				}
				if after := git(t, bare, "rev-parse", "main"); after != before {
					t.Errorf("main moved from %s to %s although the connection was refused", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := git(t, bare, "rev-parse", "main"); got != res.SHA || res.Parent != before {
				t.Errorf("main at %s, want %s on %s (result %+v)", got, res.SHA, before, res)
			}
			if got := git(t, bare, "show", "main:"+p); got != "over: ssh" {
				t.Errorf("%s = %q", p, got)
			}
			if !strings.Contains(r.URL(), "ssh://") {
				t.Errorf("URL() = %s", r.URL())
			}
		})
	}
	if !strings.Contains(srv.Log(), "Accepted publickey for "+srv.User) {
		t.Errorf("sshd never accepted a key: the git traffic did not go through sshd\n%s", srv.Log())
	}
	assertNoForcePush(t, bare, "main")
}

// leakCheck fails when the passphrase or private key material shows in an error, the logs or
// a description.
func leakCheck(t *testing.T, err error, texts ...string) {
	t.Helper()
	if err != nil {
		texts = append(texts, err.Error())
	}
	for _, s := range texts {
		for _, secret := range []string{sentinelPassphrase, "PRIVATE KEY", "b3BlbnNzaC1rZXktdjEA"} {
			if strings.Contains(s, secret) {
				t.Errorf("secret %q leaked into %q", secret, s)
			}
		}
	}
}

// TestSSHConflict: a push over SSH that loses a race is recomputed on the new tip and pushed
// again; history stays linear.
func TestSSHConflict(t *testing.T) {
	srv := sshServer(t)
	bare := newBare(t, seed)
	ctx := context.Background()
	r := open(t, srv.URL(bare), Options{Auth: Auth{SSHKeyFile: srv.ClientKey, KnownHosts: []string{srv.KnownHosts}}})
	n := 0
	res, err := r.Apply(ctx, func(ctx context.Context, tip fs.FS) (*Change, error) {
		n++
		if n == 1 {
			pushFromClone(t, bare, "main", map[string]string{"human": "x"}, "human")
		}
		return &Change{Files: map[string][]byte{"envs/dev/ssh.yaml": []byte("race: lost once\n")}, Message: "dev: over ssh"}, nil
	})
	if err != nil || res.Attempts != 2 {
		t.Fatalf("conflict over ssh: %+v, %v", res, err)
	}
	want := []string{"seed", "human", "dev: over ssh"}
	if got := firstParentLog(t, bare, "main"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("history = %q, want %q", got, want)
	}
	// History deepens over SSH too.
	hist, err := r.History(ctx, HistoryQuery{Limit: 3})
	if err != nil || len(hist) != 3 {
		t.Fatalf("History over ssh: %d commits, %v", len(hist), err)
	}
	assertNoForcePush(t, bare, "main")
}

// TestSSHAgent: with no key file, the key comes from the agent at SSH_AUTH_SOCK.
func TestSSHAgent(t *testing.T) {
	srv := sshServer(t)
	bare := newBare(t, seed)
	key := filepath.Join(t.TempDir(), "agent_ed25519")
	srv.Authorize(t, sshtest.KeyGen(t, key, "ed25519", ""))
	sock := startAgent(t)
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	r := open(t, srv.URL(bare), Options{Auth: Auth{KnownHosts: []string{srv.KnownHosts}}})
	res, err := r.Apply(context.Background(), setFile("envs/dev/agent.yaml", "via: agent\n", "dev: via the agent"))
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, bare, "rev-parse", "main"); got != res.SHA {
		t.Errorf("main at %s, want %s", got, res.SHA)
	}

	t.Run("no agent", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", "")
		_, err := Open(context.Background(), srv.URL(bare), Options{Auth: Auth{KnownHosts: []string{srv.KnownHosts}}})
		if err == nil || !strings.Contains(err.Error(), "agent") {
			t.Errorf("err = %v, want one saying there is no key file and no agent", err)
		}
	})
}

// startAgent runs ssh-agent on a socket in a temporary directory (it returns once the socket
// exists) and kills it in the test's cleanup.
func startAgent(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	out, err := exec.Command("ssh-agent", "-s", "-a", sock).Output()
	if err != nil {
		t.Fatalf("ssh-agent: %v (run `make tools`)", err)
	}
	m := regexp.MustCompile(`SSH_AGENT_PID=(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("ssh-agent printed no pid:\n%s", out)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGTERM) })
	return sock
}

// sshConfig stands in for ~/.ssh/config (go-git reads the real user's, found through the
// password database rather than $HOME, so a test cannot point it elsewhere).
type sshConfig map[string]string

func (c sshConfig) Get(host, key string) string { return c[host+" "+key] }

// TestSSHScpLike: git's scp-like syntax, user@host:/path, through a host alias whose Hostname
// and Port come from the ssh configuration (scp-like syntax has no port of its own).
func TestSSHScpLike(t *testing.T) {
	srv := sshServer(t)
	bare := newBare(t, seed)
	old := gitssh.DefaultSSHConfig
	gitssh.DefaultSSHConfig = sshConfig{
		"ferry-sshtest Hostname": srv.Host,
		"ferry-sshtest Port":     strconv.Itoa(srv.Port),
	}
	t.Cleanup(func() { gitssh.DefaultSSHConfig = old })

	repo := srv.User + "@ferry-sshtest:" + bare
	r := open(t, repo, Options{Auth: Auth{SSHKeyFile: srv.ClientKey, KnownHosts: []string{srv.KnownHosts}}})
	res, err := r.Apply(context.Background(), setFile("envs/dev/scp.yaml", "form: scp\n", "dev: scp-like"))
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, bare, "rev-parse", "main"); got != res.SHA {
		t.Errorf("main at %s, want %s", got, res.SHA)
	}
	if r.URL() != repo {
		t.Errorf("URL() = %s, want %s", r.URL(), repo)
	}
}

func TestClassifySSH(t *testing.T) {
	for _, tc := range []struct {
		repo    string
		want    repoKind
		wantLoc string // default repo
		err     bool
	}{
		{repo: "git@github.com:org/config.git", want: kindURL},
		{repo: "git@example.com:/srv/git/config.git", want: kindURL},
		{repo: "example.com:config.git", want: kindURL},
		{repo: "ssh://git@example.com:2222/srv/config.git", want: kindURL},
		{repo: "git+ssh://git@example.com/config.git", want: kindURL, wantLoc: "ssh://git@example.com/config.git"},
		{repo: "ssh+git://example.com/config.git", want: kindURL, wantLoc: "ssh://example.com/config.git"},
		{repo: "C:/work/config", err: true},
		{repo: `C:\work\config`, err: true},
		{repo: "no-such-dir/config", err: true},
	} {
		t.Run(tc.repo, func(t *testing.T) {
			got, loc, err := classify(tc.repo)
			if (err != nil) != tc.err {
				t.Fatalf("classify(%q) error = %v, want error %v", tc.repo, err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Errorf("classify(%q) = %v, want %v", tc.repo, got, tc.want)
			}
			if tc.wantLoc == "" {
				tc.wantLoc = tc.repo
			}
			if err == nil && loc != tc.wantLoc {
				t.Errorf("classify(%q) location = %s, want %s", tc.repo, loc, tc.wantLoc)
			}
		})
	}
}
