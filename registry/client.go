package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ferryhq/ferry/internal/authguard"
)

// Host configures one registry host (ferry.yaml's registries entries).
type Host struct {
	// Name is the registry host, with its port when it has one: "registry.internal:5000".
	// "docker.io" means Docker Hub (index.docker.io).
	Name string
	// Insecure allows plain HTTP to this host. Loopback hosts are always allowed plain HTTP.
	Insecure bool
	// TokenEnv names an environment variable holding credentials for this host: "user:secret"
	// is sent as Basic credentials (exchanged for a bearer token when the registry asks), a
	// value without a colon is sent as a bearer token. Empty: the Docker keychain.
	TokenEnv string
	// RequestsPerSecond is this host's request budget; zero means unlimited.
	RequestsPerSecond float64
	// ImmutableTags trusts a tag seen once never to move: its digest is cached and not
	// re-checked with HEAD.
	ImmutableTags bool
}

// Retry bounds the retries of a request answered 429, 5xx, or cut by a connection reset.
// Zero fields take the defaults.
type Retry struct {
	// Attempts is the number of tries, the first included (default 5; 1 disables retries).
	Attempts int
	// BaseDelay is the first backoff (default 250ms); each retry doubles it, with jitter.
	BaseDelay time.Duration
	// MaxDelay caps one backoff and one Retry-After wait (default 30s). A Retry-After longer
	// than this ends the retries and returns the registry's answer.
	MaxDelay time.Duration
}

// Defaults.
const (
	defaultAttempts    = 5
	defaultBaseDelay   = 250 * time.Millisecond
	defaultMaxDelay    = 30 * time.Second
	defaultConcurrency = 8
	defaultPageSize    = 1000
)

// Option configures a Client.
type Option func(*options) error

type options struct {
	keychain    authn.Keychain
	cacheDir    string
	noCache     bool
	hosts       []Host
	transport   http.RoundTripper
	retry       Retry
	concurrency int
	pageSize    int
	observe     RequestObserver
}

// WithKeychain replaces the default keychain (per-host token variables, then Docker's config
// and credential helpers).
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("WithKeychain: nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithCacheDir sets the cache directory (default $XDG_CACHE_HOME/ferry, else the user cache
// directory's ferry folder).
func WithCacheDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errors.New("WithCacheDir: empty directory")
		}
		o.cacheDir = dir
		return nil
	}
}

// WithoutCache keeps nothing on disk: every run fetches manifests and config blobs again.
func WithoutCache() Option {
	return func(o *options) error {
		o.noCache = true
		return nil
	}
}

// WithHosts configures registry hosts; a host may appear once.
func WithHosts(hosts ...Host) Option {
	return func(o *options) error {
		o.hosts = append(o.hosts, hosts...)
		return nil
	}
}

// WithTransport sets the HTTP transport under ferry's retrying, rate-limiting one
// (default: go-containerregistry's remote.DefaultTransport).
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("WithTransport: nil transport")
		}
		o.transport = rt
		return nil
	}
}

// WithRetry sets the retry bounds.
func WithRetry(r Retry) Option {
	return func(o *options) error {
		if r.Attempts < 0 || r.BaseDelay < 0 || r.MaxDelay < 0 {
			return fmt.Errorf("WithRetry: negative value in %+v", r)
		}
		o.retry = r
		return nil
	}
}

// WithConcurrency bounds the requests in flight to one host (default 8).
func WithConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithConcurrency(%d): want at least 1", n)
		}
		o.concurrency = n
		return nil
	}
}

// WithPageSize sets the n asked for in each tag-list request (default 1000, which ECR's
// maximum allows).
func WithPageSize(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithPageSize(%d): want at least 1", n)
		}
		o.pageSize = n
		return nil
	}
}

// RequestObserver is told of every request attempt the client sends (retries included): the
// registry host, the request's kind (see RequestKind) and the status answered, 0 when no answer
// came. It is called from many goroutines and must not block.
type RequestObserver func(host, kind string, status int)

// WithRequestObserver calls f after every request attempt, e.g. to count requests for metrics.
func WithRequestObserver(f RequestObserver) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("WithRequestObserver: nil observer")
		}
		o.observe = f
		return nil
	}
}

// Client talks to OCI registries. It is safe for concurrent use.
type Client struct {
	keychain authn.Keychain
	cache    *diskCache // nil: no cache
	hosts    map[string]Host
	rt       *hostTransport
	pings    *pingMemo // over rt: each registry pinged once
	pageSize int

	mu    sync.Mutex
	repos map[string]*repoTransport // authenticated transports by repository
}

type repoTransport struct {
	once sync.Once
	rt   http.RoundTripper
	err  error
}

// New builds a Client. Conflicting or invalid options are an error here.
func New(opts ...Option) (*Client, error) {
	o := options{
		retry:       Retry{Attempts: defaultAttempts, BaseDelay: defaultBaseDelay, MaxDelay: defaultMaxDelay},
		concurrency: defaultConcurrency,
		pageSize:    defaultPageSize,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("registry client: %w", err)
		}
	}
	if o.noCache && o.cacheDir != "" {
		return nil, errors.New("registry client: WithoutCache and WithCacheDir conflict: pick one")
	}
	if o.retry.Attempts == 0 {
		o.retry.Attempts = defaultAttempts
	}
	if o.retry.BaseDelay == 0 {
		o.retry.BaseDelay = defaultBaseDelay
	}
	if o.retry.MaxDelay == 0 {
		o.retry.MaxDelay = defaultMaxDelay
	}
	if o.retry.BaseDelay > o.retry.MaxDelay {
		return nil, fmt.Errorf("registry client: retry base delay %s exceeds max delay %s", o.retry.BaseDelay, o.retry.MaxDelay)
	}
	hosts := map[string]Host{}
	for _, h := range o.hosts {
		key, err := hostKey(h.Name)
		if err != nil {
			return nil, fmt.Errorf("registry client: host %q: %w", h.Name, err)
		}
		if _, dup := hosts[key]; dup {
			return nil, fmt.Errorf("registry client: host %q configured twice", h.Name)
		}
		if h.RequestsPerSecond < 0 {
			return nil, fmt.Errorf("registry client: host %q: requestsPerSecond %v is negative", h.Name, h.RequestsPerSecond)
		}
		if h.TokenEnv != "" && o.keychain != nil {
			return nil, fmt.Errorf("registry client: host %q: tokenEnv and WithKeychain conflict: the keychain replaces token variables", h.Name)
		}
		hosts[key] = h
	}
	if o.keychain == nil {
		o.keychain = authn.NewMultiKeychain(envKeychain{hosts: hosts}, authn.DefaultKeychain)
	}
	if o.transport == nil {
		o.transport = remote.DefaultTransport
	}
	c := &Client{
		keychain: o.keychain,
		hosts:    hosts,
		pageSize: o.pageSize,
		repos:    map[string]*repoTransport{},
	}
	// Under the registry auth transports: a redirect to another host (blob storage) carries
	// no credential, whatever the layers above did.
	c.rt = newHostTransport(&authguard.Transport{Next: o.transport}, hosts, o.retry, o.concurrency)
	c.rt.observe = o.observe
	c.pings = &pingMemo{next: c.rt}
	if !o.noCache {
		dir := o.cacheDir
		if dir == "" {
			var err error
			if dir, err = defaultCacheDir(); err != nil {
				return nil, fmt.Errorf("registry client: %w; set a cache directory (--cache-dir)", err)
			}
		}
		c.cache = &diskCache{dir: dir}
		// Authenticated requests (transportFor's) read what a digest names through the cache.
		c.pings.next = &digestCache{next: c.rt, cache: c.cache}
	}
	return c, nil
}

// defaultCacheDir is $XDG_CACHE_HOME/ferry, else the OS user cache directory's ferry folder.
func defaultCacheDir() (string, error) {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "ferry"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory: %w", err)
	}
	return filepath.Join(d, "ferry"), nil
}

// hostKey normalises a registry host name for lookups.
func hostKey(h string) (string, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	if h == "" {
		return "", errors.New("empty host name")
	}
	if strings.ContainsAny(h, "/@ ") {
		return "", errors.New("want a host name with an optional port, such as registry.internal:5000")
	}
	switch h {
	case "docker.io", "registry-1.docker.io":
		h = name.DefaultRegistry // index.docker.io, what go-containerregistry sends to
	}
	return h, nil
}

func (c *Client) host(h string) (Host, bool) {
	k, err := hostKey(h)
	if err != nil {
		return Host{}, false
	}
	hc, ok := c.hosts[k]
	return hc, ok
}

// isLoopback reports whether host (with an optional port) is a loopback address or localhost.
func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// nameOptions are the name-parsing options for a reference on host. Loopback hosts are always
// allowed plain HTTP (go-containerregistry itself assumes it only for 127.0.0.1 and localhost,
// not for the rest of 127/8).
func (c *Client) nameOptions(host string) []name.Option {
	if hc, ok := c.host(host); (ok && hc.Insecure) || isLoopback(host) {
		return []name.Option{name.Insecure}
	}
	return nil
}

// ParseRepository parses a repository name ("ghcr.io/acme/api", "nginx"), marking it insecure
// when its host is configured so.
func (c *Client) ParseRepository(repo string) (name.Repository, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return name.Repository{}, fmt.Errorf("parsing repository %q: %w", repo, err)
	}
	if opts := c.nameOptions(r.RegistryStr()); len(opts) > 0 {
		return name.NewRepository(repo, opts...)
	}
	return r, nil
}

// ParseReference parses an image reference (tag or digest), marking it insecure when its host is
// configured so.
func (c *Client) ParseReference(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	if opts := c.nameOptions(r.Context().RegistryStr()); len(opts) > 0 {
		return name.ParseReference(ref, opts...)
	}
	return r, nil
}

// RemoteOptions are go-containerregistry options that send requests through this client's
// retrying, rate-limited transport with its keychain, for callers (the verifier) that use
// remote or cosign directly. go-containerregistry's own retries are switched off: ferry's
// transport retries.
func (c *Client) RemoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(c.rt),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
	}
}

// RemoteOptionsFor is RemoteOptions with repo's authenticated transport: requests for repo
// (a verifier's signature fetches) reuse the handshake the client made for it, instead of
// pinging the registry and fetching a token again.
func (c *Client) RemoteOptionsFor(ctx context.Context, repo name.Repository) ([]remote.Option, error) {
	rt, err := c.transportFor(ctx, repo)
	if err != nil {
		return nil, err
	}
	return append(c.RemoteOptions(ctx), remote.WithTransport(rt)), nil
}

// transportFor returns the authenticated transport for repo, fetching a pull token once per
// repository per Client (and pinging the registry once per Client: pingMemo).
func (c *Client) transportFor(ctx context.Context, repo name.Repository) (http.RoundTripper, error) {
	key := repo.Scheme() + "://" + repo.Name()
	c.mu.Lock()
	rt, ok := c.repos[key]
	if !ok {
		rt = &repoTransport{}
		c.repos[key] = rt
	}
	c.mu.Unlock()
	rt.once.Do(func() {
		auth, err := authn.Resolve(ctx, c.keychain, repo)
		if err != nil {
			rt.err = fmt.Errorf("finding credentials for %s: %w", repo.RegistryStr(), err)
			return
		}
		rt.rt, rt.err = transport.NewWithContext(ctx, repo.Registry, auth, c.pings, []string{repo.Scope(transport.PullScope)})
		if rt.err != nil {
			rt.err = fmt.Errorf("connecting to %s: %w", repo.RegistryStr(), rt.err)
		}
	})
	if rt.err != nil {
		// Do not keep a failure: the next call tries again.
		c.mu.Lock()
		if c.repos[key] == rt {
			delete(c.repos, key)
		}
		c.mu.Unlock()
		return nil, rt.err
	}
	return rt.rt, nil
}

// envKeychain resolves credentials from the per-host token variables.
type envKeychain struct{ hosts map[string]Host }

func (k envKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	key, err := hostKey(r.RegistryStr())
	if err != nil {
		return authn.Anonymous, nil
	}
	h, ok := k.hosts[key]
	if !ok || h.TokenEnv == "" {
		return authn.Anonymous, nil
	}
	v, ok := os.LookupEnv(h.TokenEnv)
	if !ok || v == "" {
		// Named but unset: say so without the value (there is none) rather than fall back silently.
		return nil, fmt.Errorf("registry %s: tokenEnv %s is not set", h.Name, h.TokenEnv)
	}
	if user, secret, ok := strings.Cut(v, ":"); ok {
		return authn.FromConfig(authn.AuthConfig{Username: user, Password: secret}), nil
	}
	return authn.FromConfig(authn.AuthConfig{RegistryToken: v}), nil
}
