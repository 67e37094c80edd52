// Package giteatest runs a real Gitea on a loopback port for tests: sqlite in a temporary
// directory, an admin user and an access token made with Gitea's own CLI, and helpers to make
// repositories and users. The binary comes from `make tools` (scripts/build-gitea.sh), found
// in $FERRY_TOOLS_DIR or the module's .tools/bin; a missing binary fails the test, never skips
// it.
//
// Start-up takes a few seconds (database migrations), so a package's tests usually share one
// server from TestMain:
//
//	var srv *giteatest.Server
//
//	func TestMain(m *testing.M) {
//		var err error
//		if srv, err = giteatest.StartServer(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := m.Run()
//		srv.Stop()
//		os.Exit(code)
//	}
package giteatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/ferryhq/ferry/internal/testenv"
)

// Admin is the admin user every server has.
const Admin = "ferry-admin"

// Server is a running Gitea.
type Server struct {
	// URL is the web and API root, e.g. http://127.0.0.1:39213 (no trailing slash).
	URL string
	// Token is an access token of Admin with every scope.
	Token string
	// Password is Admin's password.
	Password string
	// Dir holds app.ini, the database, the repositories and gitea.log.
	Dir string

	bin, ini string
	cmd      *exec.Cmd
	done     chan struct{}
	stopOnce sync.Once
}

// Start starts a Gitea and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Shared returns one Gitea for the whole test binary, started on first use (start-up migrates
// a database, so packages share one server); call StopShared from TestMain after m.Run. Tests
// that need no forge never start it.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = StartServer() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// StopShared stops the server Shared started, if it did.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

var (
	shared     *Server
	sharedOnce sync.Once
	sharedErr  error
)

// StartServer starts a Gitea; call Stop when done. For TestMain, which has no testing.TB.
func StartServer() (*Server, error) {
	bin, err := findGitea()
	if err != nil {
		return nil, err
	}
	src := filepath.Join(filepath.Dir(bin), "gitea-src")
	if _, err := os.Stat(filepath.Join(src, "templates")); err != nil {
		return nil, fmt.Errorf("giteatest: Gitea's source tree %s (its STATIC_ROOT_PATH) is missing: run `make tools`", src)
	}
	// The port is chosen before the database is migrated, so another test binary starting its
	// own Gitea meanwhile may take it; this server then fails to bind and exits, and a fresh
	// start on another port follows.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		dir, err := os.MkdirTemp("", "ferry-gitea-")
		if err != nil {
			return nil, fmt.Errorf("giteatest: %w", err)
		}
		s := &Server{Dir: dir, bin: bin, ini: filepath.Join(dir, "custom", "conf", "app.ini"), Password: randomHex(12) + "aA1!"}
		if lastErr = s.start(src); lastErr == nil {
			return s, nil
		}
		s.Stop()
	}
	return nil, lastErr
}

func (s *Server) start(src string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	if err := os.MkdirAll(filepath.Dir(s.ini), 0o755); err != nil {
		return fmt.Errorf("giteatest: %w", err)
	}
	if err := os.WriteFile(s.ini, []byte(appINI(s.Dir, src, port)), 0o600); err != nil {
		return fmt.Errorf("giteatest: writing app.ini: %w", err)
	}
	// Make the database, then the admin and its token, before the web server starts.
	if _, err := s.cli("migrate"); err != nil {
		return err
	}
	if _, err := s.cli("admin", "user", "create", "--username", Admin, "--password", s.Password,
		"--email", Admin+"@example.invalid", "--admin", "--must-change-password=false"); err != nil {
		return err
	}
	out, err := s.cli("admin", "user", "generate-access-token", "--username", Admin,
		"--token-name", "ferry-test", "--scopes", "all", "--raw")
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s.Token = strings.TrimSpace(lines[len(lines)-1])
	if s.Token == "" {
		return errors.New("giteatest: gitea admin user generate-access-token printed no token")
	}

	logf, err := os.Create(filepath.Join(s.Dir, "gitea.log"))
	if err != nil {
		return fmt.Errorf("giteatest: %w", err)
	}
	cmd := exec.Command(s.bin, "web", "--config", s.ini, "--work-path", s.Dir)
	cmd.Env = s.env()
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("giteatest: starting %s: %w", s.bin, err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()
	return s.waitReady(2 * time.Minute)
}

func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("giteatest: gitea exited during start-up:\n%s", s.logTail())
		default:
		}
		// Ask as this server's admin: a Gitea another test binary started on the same port
		// answers /api/v1/version too, but does not know this token.
		req, err := http.NewRequest(http.MethodGet, s.URL+"/api/v1/user", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "token "+s.Token)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("giteatest: gitea not ready at %s after %s:\n%s", s.URL, limit, s.logTail())
}

// Stop ends the server's whole process group and removes its directory. It is safe to call
// more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			pgid := s.cmd.Process.Pid
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-s.done
			}
		}
		_ = os.RemoveAll(s.Dir)
	})
}

func (s *Server) env() []string {
	env := []string{
		"GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true",
		"GITEA_WORK_DIR=" + s.Dir,
		"HOME=" + filepath.Join(s.Dir, "home"),
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GITEA_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "GIT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// cli runs a gitea subcommand against this server's config and returns its stdout.
func (s *Server) cli(args ...string) (string, error) {
	full := append(args, "--config", s.ini, "--work-path", s.Dir)
	cmd := exec.Command(s.bin, full...)
	cmd.Env = s.env()
	cmd.Dir = s.Dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// Name the subcommand only: the arguments hold the admin's password.
		return "", fmt.Errorf("giteatest: gitea %s: %w\n%s%s", strings.Join(args[:min(3, len(args))], " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "gitea.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Client returns an SDK client acting as Admin.
func (s *Server) Client() (*gitea.Client, error) {
	return gitea.NewClient(s.URL, gitea.SetToken(s.Token))
}

// Repo is a repository on the server.
type Repo struct {
	Owner, Name string
	// CloneURL is the plain HTTP clone URL, e.g. http://127.0.0.1:39213/ferry-admin/config.git.
	CloneURL string
	// PushURL is CloneURL with Admin's token as credentials, for git push.
	PushURL string
}

// CreateRepo makes a repository owned by Admin with an initial commit on main. A random suffix
// keeps the name unique on a shared server (go test -count=N).
func (s *Server) CreateRepo(t testing.TB, name string) Repo {
	t.Helper()
	name += "-" + randomHex(3)
	c, err := s.Client()
	if err != nil {
		t.Fatalf("giteatest: client: %v", err)
	}
	r, _, err := c.CreateRepo(gitea.CreateRepoOption{Name: name, AutoInit: true, DefaultBranch: "main", Readme: "Default"})
	if err != nil {
		t.Fatalf("giteatest: creating repository %s: %v", name, err)
	}
	push, err := url.Parse(r.CloneURL)
	if err != nil {
		t.Fatalf("giteatest: clone URL %q: %v", r.CloneURL, err)
	}
	push.User = url.UserPassword(Admin, s.Token)
	return Repo{Owner: Admin, Name: name, CloneURL: r.CloneURL, PushURL: push.String()}
}

// CreateUser makes an ordinary user and returns its name: name plus a random suffix.
func (s *Server) CreateUser(t testing.TB, name string) string {
	t.Helper()
	name += "-" + randomHex(3)
	c, err := s.Client()
	if err != nil {
		t.Fatalf("giteatest: client: %v", err)
	}
	mustChange := false
	if _, _, err := c.AdminCreateUser(gitea.CreateUserOption{
		Username: name, Email: name + "@example.invalid", Password: randomHex(12) + "aA1!", MustChangePassword: &mustChange,
	}); err != nil {
		t.Fatalf("giteatest: creating user %s: %v", name, err)
	}
	return name
}

// AddCollaborator gives user write access to repo (assignees must be able to write).
func (s *Server) AddCollaborator(t testing.TB, repo Repo, user string) {
	t.Helper()
	c, err := s.Client()
	if err != nil {
		t.Fatalf("giteatest: client: %v", err)
	}
	perm := gitea.AccessModeWrite
	if _, err := c.AddCollaborator(repo.Owner, repo.Name, user, gitea.AddCollaboratorOption{Permission: &perm}); err != nil {
		t.Fatalf("giteatest: adding %s to %s/%s: %v", user, repo.Owner, repo.Name, err)
	}
}

// NewToken makes another token of Admin with the given scopes (e.g. "read:repository").
func (s *Server) NewToken(t testing.TB, scopes ...string) string {
	t.Helper()
	c, err := gitea.NewClient(s.URL, gitea.SetBasicAuth(Admin, s.Password))
	if err != nil {
		t.Fatalf("giteatest: client: %v", err)
	}
	var sc []gitea.AccessTokenScope
	for _, x := range scopes {
		sc = append(sc, gitea.AccessTokenScope(x))
	}
	tok, _, err := c.CreateAccessToken(gitea.CreateAccessTokenOption{Name: "t-" + randomHex(6), Scopes: sc})
	if err != nil {
		t.Fatalf("giteatest: creating token with scopes %v: %v", scopes, err)
	}
	return tok.Token
}

// Git runs git with args in dir (no global or system config), failing t on error, and
// returns its combined output. Credentials in URLs are not echoed on failure.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Git(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=ferry-test", "GIT_AUTHOR_EMAIL=ferry-test@example.invalid",
		"GIT_COMMITTER_NAME=ferry-test", "GIT_COMMITTER_EMAIL=ferry-test@example.invalid",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", redactArgs(args), err, out)
	}
	return string(out)
}

func redactArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if u, err := url.Parse(a); err == nil && u.User != nil {
			u.User = url.User("REDACTED")
			a = u.String()
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func findGitea() (string, error) {
	var tried []string
	if dir := os.Getenv("FERRY_TOOLS_DIR"); dir != "" {
		tried = append(tried, filepath.Join(dir, "gitea"))
	}
	if root, err := testenv.RepoRoot(); err == nil {
		tried = append(tried, filepath.Join(root, ".tools", "bin", "gitea"))
	}
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("giteatest: gitea not found (looked at %s): run `make tools` or set FERRY_TOOLS_DIR", strings.Join(tried, ", "))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("giteatest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func appINI(dir, src string, port int) string {
	user := os.Getenv("USER")
	if user == "" {
		user = "root"
	}
	return fmt.Sprintf(`APP_NAME = ferry-test
RUN_MODE = prod
RUN_USER = %[4]s
WORK_PATH = %[1]s

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[3]d
DOMAIN = 127.0.0.1
ROOT_URL = http://127.0.0.1:%[3]d/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
STATIC_ROOT_PATH = %[2]s
APP_DATA_PATH = %[1]s/data

[database]
DB_TYPE = sqlite3
PATH = %[1]s/data/gitea.db
SQLITE_JOURNAL_MODE = WAL

[repository]
ROOT = %[1]s/repos
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[5]s
INTERNAL_TOKEN = %[6]s
PASSWORD_COMPLEXITY = off
MIN_PASSWORD_LENGTH = 6

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false
ENABLE_NOTIFY_MAIL = false

[mailer]
ENABLED = false

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[cron]
ENABLED = false

[cron.update_checker]
ENABLED = false

[actions]
ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[log]
MODE = console
LEVEL = Warn
ROOT_PATH = %[1]s/log
`, dir, src, port, user, randomHex(32), randomHex(32))
}
