package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Outcomes callers branch on.
var (
	// ErrBranchNotFound: the remote has no such branch.
	ErrBranchNotFound = errors.New("branch not found on the remote")
	// ErrConflict: the push kept losing races against other writers until MaxRetries ran out.
	ErrConflict = errors.New("push kept conflicting with concurrent changes")
	// ErrBranchNotAllowed: ApplyBranch was asked to (force-)push a branch outside "ferry/".
	ErrBranchNotAllowed = errors.New("only branches under ferry/ may be written by ApplyBranch")
	// ErrDiverged: with NoPush, the local branch and origin's branch have diverged (or the
	// checked-out branch is behind origin).
	ErrDiverged = errors.New("local branch has diverged from origin")
	// ErrNotARepo: the --repo path is neither a checkout nor a bare repository.
	ErrNotARepo = errors.New("not a git repository")
	// ErrHostKey: an ssh server's host key is not in known_hosts, does not match it, or is
	// revoked there. Nothing was sent to the server.
	ErrHostKey = errors.New("ssh host key not trusted")
)

// DefaultUsername is the HTTPS basic-auth user name sent with a token when Auth.Username is
// empty. GitHub wants "x-access-token" for installation and Actions tokens and accepts it for
// personal tokens; Gitea and Forgejo accept any name; GitLab wants "oauth2" for OAuth tokens
// and "gitlab-ci-token" for CI job tokens (set Auth.Username).
const DefaultUsername = "x-access-token"

// Auth is how ferry authenticates to the remote. Its String method never shows a secret.
type Auth struct {
	// Token is the HTTPS basic-auth password for the remote, whatever its host
	// (FERRY_GIT_TOKEN). A URL's own user:password is used when Token is empty, and stripped
	// from the URL either way.
	Token string
	// Username goes with Token; default DefaultUsername.
	Username string
	// TokenFor, when Token is empty and the URL has no password, picks the HTTPS credentials
	// for the remote (its URL without credentials): a user name (empty: DefaultUsername) and
	// a token, or an empty token for a remote no credential is for. It is never called for
	// ssh remotes.
	TokenFor func(remoteURL string) (username, token string)
	// SSHKeyFile is a private key (OpenSSH or PEM format) for ssh remotes; SSHKey the same as
	// bytes (it wins over SSHKeyFile). With neither, the key comes from the SSH agent at
	// SSH_AUTH_SOCK. The user is the URL's, default "git".
	SSHKeyFile string
	SSHKey     []byte
	// SSHKeyPassphrase decrypts an encrypted SSH key.
	SSHKeyPassphrase string
	// KnownHosts lists known_hosts files checked for ssh remotes (each must exist); default
	// SSH_KNOWN_HOSTS (colon-separated) or else ~/.ssh/known_hosts and
	// /etc/ssh/ssh_known_hosts. Host keys are always checked; only the algorithms of the keys
	// listed for the host are negotiated.
	KnownHosts []string
}

// String describes the auth with secrets masked.
func (a Auth) String() string {
	var parts []string
	if a.Token != "" {
		parts = append(parts, "token=***")
	}
	if a.SSHKeyFile != "" {
		parts = append(parts, "ssh-key-file="+a.SSHKeyFile)
	}
	if len(a.SSHKey) > 0 {
		parts = append(parts, "ssh-key=***")
	}
	if a.SSHKeyPassphrase != "" {
		parts = append(parts, "ssh-key-passphrase=***")
	}
	if a.TokenFor != nil {
		parts = append(parts, "token-for-host")
	}
	if len(a.KnownHosts) > 0 {
		parts = append(parts, "known-hosts="+strings.Join(a.KnownHosts, ":"))
	}
	if len(parts) == 0 {
		return "auth{none}"
	}
	return "auth{" + strings.Join(parts, " ") + "}"
}

// GoString masks secrets under %#v too.
func (a Auth) GoString() string { return a.String() }

// Options configure Open. The zero value means: branch "main", depth 1, push, 20 retries.
type Options struct {
	// Branch is the target branch commits go to; default "main".
	Branch string
	// Auth authenticates to the remote.
	Auth Auth
	// Depth is the depth of the initial shallow fetch; default 1. History deepens on demand.
	Depth int
	// NoPush commits to the local branch only; it needs a local checkout.
	NoPush bool
	// MaxRetries bounds the push attempts lost to concurrent writers after the first; default
	// 20. A lost push means another writer's push landed, so with N writers of one commit each
	// a writer loses at most N-1 times: the default lets 21 runs race on one branch and all land.
	MaxRetries int
	// Remote names the remote of a local checkout; default "origin".
	Remote string
	// Logger receives progress at debug level; default: silent.
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.Branch == "" {
		o.Branch = "main"
	}
	if !validBranch(o.Branch) {
		return fmt.Errorf("branch %q is not a valid branch name", o.Branch)
	}
	if o.Depth == 0 {
		o.Depth = 1
	}
	if o.Depth < 0 {
		return fmt.Errorf("depth %d: must be positive", o.Depth)
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 20
	}
	if o.MaxRetries < 0 {
		return fmt.Errorf("max retries %d: must not be negative", o.MaxRetries)
	}
	if o.Remote == "" {
		o.Remote = "origin"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

var badRef = regexp.MustCompile(`(^[/.])|(\.\.)|(//)|([/.]$)|(\.lock$)|(/\.)|(@\{)|[\x00-\x20\x7f~^:?*\[\\]`)

func validBranch(b string) bool { return b != "" && b != "@" && !badRef.MatchString(b) }

// Repo is an open config repository: a temporary shallow clone, or a local checkout.
type Repo struct {
	opts    Options
	repo    *gogit.Repository
	url     string // remote URL without credentials
	display string // url for messages
	auth    transport.AuthMethod
	urlUser string // user:password from the remote URL, used for that remote only
	urlPass string
	tmpDir  string // clone mode: removed by Close
	local   bool   // local checkout mode
	depth   int    // current fetch depth; 0 = not shallow
	branch  plumbing.ReferenceName
	track   plumbing.ReferenceName // refs/remotes/<remote>/<branch>

	mu  sync.Mutex // serialises Apply, History and fetches on this Repo
	tip *object.Commit

	trees   treeCache                        // decoded trees by hash, for Snapshot.PathHashes
	reads   sync.Mutex                       // serialises a Snapshot FS's object-store reads (see treeFS)
	walked  map[plumbing.Hash]*object.Commit // commits History read, for SnapshotOf
	storage *filesystem.Storage              // clone mode: the object store, closed by Close
	clone   *cloneStorage                    // clone mode: the store go-git sees (storage, and memory)
	fetched bool                             // clone mode: the first fetch was made
	partial bool                             // clone mode: blobs are fetched when read (see partial.go)
}

// Open opens repo for writing to opts.Branch. repo is a URL (https://, http://, ssh://,
// git@host:path, file://) or a bare repository's path, fetched shallow and single-branch into a
// temporary directory that Close removes; or a local non-bare checkout, whose remote
// (opts.Remote) is fetched and whose object store receives the new commits.
func Open(ctx context.Context, repo string, opts Options) (*Repo, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	r := &Repo{
		opts:   opts,
		branch: plumbing.NewBranchReferenceName(opts.Branch),
		track:  plumbing.NewRemoteReferenceName(opts.Remote, opts.Branch),
	}
	kind, loc, err := classify(repo)
	if err != nil {
		return nil, err
	}
	if kind == kindLocal {
		err = r.openLocal(ctx, loc)
	} else {
		if opts.NoPush {
			return nil, fmt.Errorf("repo %s: no-push needs a local checkout, not a URL or bare repository", redactURL(repo))
		}
		err = r.openClone(ctx, loc)
	}
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

type repoKind int

const (
	kindURL repoKind = iota
	kindLocal
)

// scpLike matches git's scp-like ssh syntax, [user@]host:path (the path may be absolute), but
// not a Windows drive letter (C:\x, C:/x).
var (
	scpLike     = regexp.MustCompile(`^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:[^\\]`)
	driveLetter = regexp.MustCompile(`^[A-Za-z]:[/\\]`)
)

// classify tells a URL or bare repository (cloned) from a local checkout.
func classify(repo string) (repoKind, string, error) {
	if repo == "" {
		repo = "."
	}
	if strings.Contains(repo, "://") {
		u, err := url.Parse(repo)
		if err != nil {
			return 0, "", fmt.Errorf("repo %s: not a URL: %w", redactURL(repo), errors.Unwrap(err))
		}
		switch u.Scheme {
		case "https", "http", "ssh", "git", "file":
			return kindURL, repo, nil
		case "git+ssh", "ssh+git": // git's old spellings of ssh://; go-git knows only ssh
			return kindURL, "ssh" + repo[len(u.Scheme):], nil
		}
		return 0, "", fmt.Errorf("repo %s: scheme %q is not supported (use https, ssh, file or a path)", redactURL(repo), u.Scheme)
	}
	if _, err := os.Stat(repo); err != nil {
		if scpLike.MatchString(repo) && !driveLetter.MatchString(repo) {
			return kindURL, repo, nil
		}
		return 0, "", fmt.Errorf("repo %s: %w", repo, err)
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return 0, "", fmt.Errorf("repo %s: %w", repo, err)
	}
	if _, err := os.Stat(filepath.Join(abs, ".git")); err == nil {
		return kindLocal, abs, nil
	}
	if isBare(abs) {
		return kindURL, abs, nil
	}
	return 0, "", fmt.Errorf("repo %s: %w (no .git, and not a bare repository): give a checkout, a bare repository or a URL", repo, ErrNotARepo)
}

func isBare(dir string) bool {
	for _, p := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

// redactURL removes a password from a URL so that it can be shown.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if i := strings.Index(s, "://"); i >= 0 {
			if j := strings.LastIndex(s, "@"); j > i {
				return s[:i+3] + "***@" + s[j+1:]
			}
		}
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "***")
	}
	return u.String()
}

// splitCredentials strips user:password from an http(s) URL and returns them.
func splitCredentials(raw string) (clean, user, pass string) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || (u.Scheme != "https" && u.Scheme != "http") {
		return raw, "", ""
	}
	user = u.User.Username()
	pass, _ = u.User.Password()
	u.User = nil
	return u.String(), user, pass
}

func (r *Repo) setRemoteURL(raw string) error {
	clean, user, pass := splitCredentials(raw)
	r.url, r.display = clean, clean
	r.urlUser, r.urlPass = user, pass
	ep, err := transport.NewEndpoint(clean)
	if err != nil {
		return fmt.Errorf("repo %s: %w", redactURL(raw), err)
	}
	if ep.Protocol == "ssh" {
		r.auth, err = sshAuth(ep, r.opts.Auth)
		if err != nil {
			return fmt.Errorf("ssh remote %s: %w", clean, err)
		}
		return nil
	}
	r.auth = r.httpAuth(ep)
	return nil
}

// httpAuth picks the basic credentials for an http(s) remote: Auth.Token, else the URL's own
// user:password, else what Auth.TokenFor gives for the remote; none when all are empty.
func (r *Repo) httpAuth(ep *transport.Endpoint) transport.AuthMethod {
	if ep.Protocol != "https" && ep.Protocol != "http" {
		return nil
	}
	a := r.opts.Auth
	user, token := a.Username, a.Token
	switch {
	case token != "":
	case r.urlPass != "":
		user, token = r.urlUser, r.urlPass
	case a.TokenFor != nil:
		user, token = a.TokenFor(r.url)
	}
	if token == "" {
		return nil
	}
	if user == "" {
		user = DefaultUsername
	}
	return &githttp.BasicAuth{Username: user, Password: token}
}

// SetTokenFor replaces Auth.TokenFor and picks the remote's HTTPS credentials again (promote
// calls it once ferry.yaml, which says which forge serves which host, has been read).
func (r *Repo) SetTokenFor(f func(remoteURL string) (username, token string)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts.Auth.TokenFor = f
	if r.url == "" {
		return nil
	}
	ep, err := transport.NewEndpoint(r.url)
	if err != nil {
		return fmt.Errorf("repo %s: %w", r.display, err)
	}
	if ep.Protocol == "https" || ep.Protocol == "http" {
		r.auth = r.httpAuth(ep)
	}
	return nil
}

func (r *Repo) openClone(ctx context.Context, loc string) error {
	if err := r.setRemoteURL(loc); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ferry-git-")
	if err != nil {
		return fmt.Errorf("making a temporary clone directory: %w", err)
	}
	r.tmpDir = dir
	// Pack files stay open while the clone is: a history walk reads thousands of objects, and
	// reopening the pack for each costs more than reading it. Close closes them.
	st := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(32*cache.MiByte), filesystem.Options{KeepDescriptors: true})
	r.storage = st
	r.clone = newCloneStorage(st)
	repo, err := gogit.Init(r.clone, nil)
	if err != nil {
		return fmt.Errorf("initialising temporary clone in %s: %w", dir, err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: r.opts.Remote, URLs: []string{r.url}}); err != nil {
		return fmt.Errorf("configuring remote %s: %w", r.display, err)
	}
	r.repo = repo
	r.depth = r.opts.Depth
	return r.fetch(ctx, r.depth)
}

func (r *Repo) openLocal(ctx context.Context, dir string) error {
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return fmt.Errorf("opening checkout %s: %w", dir, err)
	}
	r.repo, r.local = repo, true
	rem, err := repo.Remote(r.opts.Remote)
	if err != nil {
		if r.opts.NoPush {
			// Trying it out with no remote at all: build on the local branch.
			return r.useLocalBranchOnly()
		}
		return fmt.Errorf("checkout %s has no remote %q: add one, or pass --repo with a URL: %w", dir, r.opts.Remote, err)
	}
	if len(rem.Config().URLs) == 0 {
		return fmt.Errorf("checkout %s: remote %q has no URL", dir, r.opts.Remote)
	}
	if err := r.setRemoteURL(rem.Config().URLs[0]); err != nil {
		return err
	}
	if sh, _ := repo.Storer.Shallow(); len(sh) > 0 {
		r.depth = r.opts.Depth
	}
	err = r.fetch(ctx, r.depth)
	if r.opts.NoPush {
		if errors.Is(err, ErrBranchNotFound) {
			r.tip, err = nil, nil
		}
		if err != nil {
			return err
		}
		return r.noPushBase()
	}
	return err
}

func (r *Repo) useLocalBranchOnly() error {
	ref, err := r.repo.Reference(r.branch, true)
	if err != nil {
		return fmt.Errorf("local branch %s: %w", r.opts.Branch, ErrBranchNotFound)
	}
	c, err := r.repo.CommitObject(ref.Hash())
	if err != nil {
		return fmt.Errorf("reading %s: %w", r.opts.Branch, err)
	}
	r.tip = c
	return nil
}

// fetch brings refs/heads/<branch> of the remote into the tracking ref and reads the tip.
// depth 0 fetches without a depth limit (for a local checkout that is not shallow).
func (r *Repo) fetch(ctx context.Context, depth int) error {
	return r.fetchRef(ctx, r.branch, r.track, depth, true)
}

func (r *Repo) fetchRef(ctx context.Context, src, dst plumbing.ReferenceName, depth int, setTip bool) error {
	if r.url == "" { // NoPush without a remote
		return nil
	}
	if r.clone != nil {
		return r.fetchClone(ctx, src, dst, depth, setTip)
	}
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", src, dst))
	err := r.repo.FetchContext(ctx, &gogit.FetchOptions{
		RemoteName: r.opts.Remote,
		RemoteURL:  r.url,
		RefSpecs:   []config.RefSpec{spec},
		Depth:      depth,
		Auth:       r.auth,
		Tags:       gogit.NoTags,
		Force:      true,
	})
	switch {
	case err == nil, errors.Is(err, gogit.NoErrAlreadyUpToDate):
	case errors.Is(err, gogit.NoMatchingRefSpecError{}):
		return fmt.Errorf("fetching %s from %s: %w", src.Short(), r.display, ErrBranchNotFound)
	default:
		return fmt.Errorf("fetching %s from %s: %w", src.Short(), r.display, explainSSHAuth(err, r.auth))
	}
	r.opts.Logger.Debug("fetched", "ref", src.Short(), "remote", r.display, "depth", depth)
	if !setTip {
		return nil
	}
	ref, err := r.repo.Storer.Reference(dst)
	if err != nil {
		return fmt.Errorf("reading %s after fetch: %w", dst, err)
	}
	c, err := r.repo.CommitObject(ref.Hash())
	if err != nil {
		return fmt.Errorf("reading tip %s of %s: %w", ref.Hash(), src.Short(), err)
	}
	r.tip = c
	return nil
}

// Refresh fetches the target branch again, so the next Tip or Apply starts from the remote's
// current tip.
func (r *Repo) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.local && r.opts.NoPush {
		if r.url == "" {
			return r.useLocalBranchOnly()
		}
		if err := r.fetch(ctx, r.depth); err != nil && !errors.Is(err, ErrBranchNotFound) {
			return err
		}
		return r.noPushBase()
	}
	return r.fetch(ctx, r.depth)
}

// URL is the remote's URL without credentials.
func (r *Repo) URL() string { return r.display }

// Branch is the target branch.
func (r *Repo) Branch() string { return r.opts.Branch }

// Local reports whether r is a local checkout (rather than a temporary clone).
func (r *Repo) Local() bool { return r.local }

// Close removes the temporary clone, if any. It is safe to call more than once.
func (r *Repo) Close() error {
	if r.storage != nil {
		_ = r.storage.Close()
		r.storage = nil
	}
	if r.tmpDir == "" {
		return nil
	}
	dir := r.tmpDir
	r.tmpDir = ""
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing temporary clone %s: %w", dir, err)
	}
	return nil
}

// RemoteURL is the remote Open(repo) talks to, without credentials: repo itself when it is a
// URL or a bare repository, the origin's URL for a local checkout; "" when it cannot tell.
// It is for messages about a failed Open.
func RemoteURL(repo string) string {
	kind, loc, err := classify(repo)
	if err != nil {
		return ""
	}
	if kind == kindURL {
		clean, _, _ := splitCredentials(loc)
		return clean
	}
	g, err := gogit.PlainOpenWithOptions(loc, &gogit.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return ""
	}
	rem, err := g.Remote("origin")
	if err != nil || len(rem.Config().URLs) == 0 {
		return ""
	}
	clean, _, _ := splitCredentials(rem.Config().URLs[0])
	return clean
}
