package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ferryhq/ferry/registry/registrytest"
)

// recordSleeps replaces the client's waits with a recorder, so retry tests do not wait.
func recordSleeps(c *Client) *[]time.Duration {
	var mu sync.Mutex
	var waits []time.Duration
	c.rt.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return ctx.Err()
	}
	return &waits
}

func TestRetries(t *testing.T) {
	date := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(http.TimeFormat) }
	tests := []struct {
		name   string
		faults []registrytest.Fault
		// wantLists is the number of tag-list requests the server saw.
		wantLists int
		wantErr   bool
		// wantWaits checks the recorded waits.
		wantWaits func(t *testing.T, waits []time.Duration)
	}{
		{
			name:      "429 with Retry-After seconds",
			faults:    []registrytest.Fault{{Status: 429, RetryAfter: "3"}},
			wantLists: 2,
			wantWaits: func(t *testing.T, w []time.Duration) {
				if diff := cmp.Diff([]time.Duration{3 * time.Second}, w); diff != "" {
					t.Errorf("waits (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:      "429 with Retry-After date",
			faults:    []registrytest.Fault{{Status: 429, RetryAfter: date(10 * time.Second)}},
			wantLists: 2,
			wantWaits: func(t *testing.T, w []time.Duration) {
				// An HTTP date has second precision: the wait is within a second or two of 10s.
				if len(w) != 1 || w[0] < 8*time.Second || w[0] > 10*time.Second {
					t.Errorf("waits = %v, want one of about 10s", w)
				}
			},
		},
		{
			name:      "500 then 503 then success: jittered exponential backoff",
			faults:    []registrytest.Fault{{Status: 500}, {Status: 503}},
			wantLists: 3,
			wantWaits: func(t *testing.T, w []time.Duration) {
				if len(w) != 2 {
					t.Fatalf("waits = %v, want 2", w)
				}
				// Base 100ms: the first wait is in [50ms, 100ms], the second in [100ms, 200ms].
				if w[0] < 50*time.Millisecond || w[0] > 100*time.Millisecond || w[1] < 100*time.Millisecond || w[1] > 200*time.Millisecond {
					t.Errorf("waits = %v, want [50ms..100ms, 100ms..200ms]", w)
				}
			},
		},
		{
			name:      "connection reset",
			faults:    []registrytest.Fault{{Reset: true}},
			wantLists: 2,
		},
		{
			name:      "attempts are bounded",
			faults:    []registrytest.Fault{{Status: 502}, {Status: 502}, {Status: 502}, {Status: 502}, {Status: 502}, {Status: 502}},
			wantLists: 4,
			wantErr:   true,
		},
		{
			name:      "Retry-After beyond the maximum delay is not waited for",
			faults:    []registrytest.Fault{{Status: 429, RetryAfter: "3600"}},
			wantLists: 1,
			wantErr:   true,
			wantWaits: func(t *testing.T, w []time.Duration) {
				if len(w) != 0 {
					t.Errorf("waits = %v, want none", w)
				}
			},
		},
		{
			name:      "404 is not retried",
			faults:    []registrytest.Fault{{Status: 404}},
			wantLists: 1,
			wantErr:   true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := registrytest.New(t)
			s.PushRandom(t, "app:1", registrytest.Image{})
			c, err := New(WithCacheDir(t.TempDir()), WithRetry(Retry{Attempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Minute}))
			if err != nil {
				t.Fatal(err)
			}
			waits := recordSleeps(c)
			s.Inject(registrytest.TagList, tc.faults...)

			tags, err := c.Tags(context.Background(), s.Repo("app"))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Tags = %v, want an error", tags)
				}
			} else if err != nil {
				t.Fatalf("Tags: %v", err)
			} else if diff := cmp.Diff([]string{"1"}, tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if n := s.Count(registrytest.TagList); n != tc.wantLists {
				t.Errorf("tag-list requests = %d, want %d", n, tc.wantLists)
			}
			if tc.wantWaits != nil {
				tc.wantWaits(t, *waits)
			}
		})
	}
}

func TestConcurrencyBound(t *testing.T) {
	s := registrytest.New(t)
	s.PushRandom(t, "app:1", registrytest.Image{})
	c, err := New(WithCacheDir(t.TempDir()), WithConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Digest(ctx, s.Ref("app:1")); err != nil { // ping once, outside the measurement
		t.Fatal(err)
	}
	s.ResetCounts()
	s.SetLatency(20 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for range 12 {
		wg.Go(func() {
			_, err := c.Digest(ctx, s.Ref("app:1"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Count(registrytest.ManifestHead); n != 12 {
		t.Errorf("HEADs = %d, want 12", n)
	}
	if p := s.PeakInFlight(); p > 2 {
		t.Errorf("peak requests in flight = %d, want at most 2", p)
	}
}

// stubRT answers 200 to anything: for tests of what hostTransport lets through.
type stubRT struct{ calls int }

func (s *stubRT) RoundTrip(r *http.Request) (*http.Response, error) {
	s.calls++
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

func TestPlainHTTP(t *testing.T) {
	tests := []struct {
		url     string
		hosts   []Host
		allowed bool
	}{
		{url: "http://127.0.0.1:5000/v2/", allowed: true},
		{url: "http://localhost:5000/v2/", allowed: true},
		{url: "http://[::1]:5000/v2/", allowed: true},
		{url: "https://registry.example/v2/", allowed: true},
		{url: "http://registry.example/v2/"},
		{url: "http://10.1.2.3:5000/v2/"},
		{url: "http://registry.internal:5000/v2/", hosts: []Host{{Name: "registry.internal:5000", Insecure: true}}, allowed: true},
		{url: "http://registry.internal:5000/v2/", hosts: []Host{{Name: "registry.internal:5000"}}},
		{url: "http://registry.internal:5001/v2/", hosts: []Host{{Name: "registry.internal:5000", Insecure: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			stub := &stubRT{}
			c, err := New(WithoutCache(), WithTransport(stub), WithHosts(tc.hosts...))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			_, err = c.rt.RoundTrip(req)
			if tc.allowed && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tc.allowed && !errors.Is(err, ErrPlainHTTP) {
				t.Errorf("err = %v, want ErrPlainHTTP", err)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.allowed]; stub.calls != want {
				t.Errorf("inner transport called %d times, want %d", stub.calls, want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := map[string][]Option{
		"cache dir and no cache":   {WithCacheDir(t.TempDir()), WithoutCache()},
		"host twice":               {WithHosts(Host{Name: "r.example"}, Host{Name: "R.example"})},
		"docker.io twice":          {WithHosts(Host{Name: "docker.io"}, Host{Name: "index.docker.io"})},
		"bad host":                 {WithHosts(Host{Name: "r.example/path"})},
		"negative rps":             {WithHosts(Host{Name: "r.example", RequestsPerSecond: -1})},
		"zero concurrency":         {WithConcurrency(0)},
		"base delay above maximum": {WithRetry(Retry{BaseDelay: time.Minute, MaxDelay: time.Second})},
		"keychain and tokenEnv":    {WithKeychain(anonymousKeychain{}), WithHosts(Host{Name: "r.example", TokenEnv: "X"})},
		"nil transport":            {WithTransport(nil)},
		"zero page size":           {WithPageSize(0)},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(opts...); err == nil {
				t.Error("New: no error")
			}
		})
	}
}

type anonymousKeychain struct{}

func (anonymousKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.Anonymous, nil
}

func TestTokenEnv(t *testing.T) {
	const secret = "s3cr3t-value"
	tests := []struct {
		name, value, wantHeader string
	}{
		{name: "user and secret: basic", value: "robot:" + secret, wantHeader: "Basic " + base64.StdEncoding.EncodeToString([]byte("robot:"+secret))},
		{name: "bare token: bearer", value: secret, wantHeader: "Bearer " + secret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := registrytest.New(t, registrytest.RequireAuthorization(tc.wantHeader))
			s.PushRandom(t, "app:1", registrytest.Image{})
			t.Setenv("FERRY_TEST_REGISTRY_TOKEN", tc.value)
			c, err := New(WithCacheDir(t.TempDir()), WithHosts(Host{Name: s.Host, TokenEnv: "FERRY_TEST_REGISTRY_TOKEN"}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Tags(context.Background(), s.Repo("app")); err != nil {
				t.Fatalf("Tags with credentials: %v", err)
			}

			// Wrong credentials: refused, and the error does not carry the secret.
			t.Setenv("FERRY_TEST_REGISTRY_TOKEN", "robot:wrong-"+secret)
			c, err = New(WithCacheDir(t.TempDir()), WithHosts(Host{Name: s.Host, TokenEnv: "FERRY_TEST_REGISTRY_TOKEN"}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Tags(context.Background(), s.Repo("app"))
			if err == nil {
				t.Fatal("Tags with wrong credentials: no error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
	t.Run("unset variable", func(t *testing.T) {
		s := registrytest.New(t)
		c, err := New(WithCacheDir(t.TempDir()), WithHosts(Host{Name: s.Host, TokenEnv: "FERRY_TEST_UNSET_TOKEN"}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Tags(context.Background(), s.Repo("app"))
		if err == nil || !strings.Contains(err.Error(), "FERRY_TEST_UNSET_TOKEN is not set") {
			t.Errorf("err = %v, want one naming the unset variable", err)
		}
	})
}

func TestRequestsPerSecondBudget(t *testing.T) {
	c, err := New(WithoutCache(), WithHosts(Host{Name: "slow.example", RequestsPerSecond: 2.5}, Host{Name: "Docker.io", RequestsPerSecond: 10}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host      string
		wantLimit float64 // 0: unlimited
		wantBurst int
	}{
		{"slow.example", 2.5, 2},
		{"index.docker.io", 10, 10},
		{"fast.example", 0, 0},
	}
	for _, tc := range tests {
		st := c.rt.hostState(tc.host)
		var got float64
		var burst int
		if st.limiter != nil {
			got, burst = float64(st.limiter.Limit()), st.limiter.Burst()
		}
		if got != tc.wantLimit || burst != tc.wantBurst {
			t.Errorf("%s: limit %v burst %d, want %v and %d", tc.host, got, burst, tc.wantLimit, tc.wantBurst)
		}
		if cap(st.sem) != defaultConcurrency {
			t.Errorf("%s: concurrency %d, want %d", tc.host, cap(st.sem), defaultConcurrency)
		}
	}
}

func TestRequestObserver(t *testing.T) {
	s := registrytest.New(t)
	s.PushRandom(t, "app:1", registrytest.Image{})
	type seen struct {
		Host, Kind string
		Status     int
	}
	var mu sync.Mutex
	var got []seen
	c, err := New(WithoutCache(), WithRetry(Retry{Attempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		WithRequestObserver(func(host, kind string, status int) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, seen{host, kind, status})
		}))
	if err != nil {
		t.Fatal(err)
	}
	s.Inject(registrytest.TagList, registrytest.Fault{Status: 503})
	if _, err := c.Tags(context.Background(), s.Repo("app")); err != nil {
		t.Fatalf("Tags: %v", err)
	}
	// The ping over HTTPS (no answer: status 0) and then plain HTTP, then both tag-list
	// attempts: the 503 is observed as well as the retry.
	want := []seen{{s.Host, "ping", 0}, {s.Host, "ping", 200}, {s.Host, "tags", 503}, {s.Host, "tags", 200}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
	if _, err := New(WithRequestObserver(nil)); err == nil {
		t.Error("New(WithRequestObserver(nil)) = nil error")
	}
}

func TestRequestKind(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/v2/", "ping"},
		{"GET", "/v2/acme/api/tags/list", "tags"},
		{"HEAD", "/v2/acme/api/manifests/1.0.0", "manifest-head"},
		{"GET", "/v2/acme/api/manifests/sha256:ab", "manifest"},
		{"GET", "/v2/acme/api/blobs/sha256:ab", "blob"},
		{"HEAD", "/v2/acme/api/blobs/sha256:ab", "blob-head"},
		{"GET", "/v2/acme/api/referrers/sha256:ab", "referrers"},
		{"PUT", "/v2/acme/api/manifests/1.0.0", "write"},
		{"GET", "/token", "other"},
	} {
		req, err := http.NewRequest(tc.method, "http://127.0.0.1"+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := RequestKind(req); got != tc.want {
			t.Errorf("RequestKind(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}
