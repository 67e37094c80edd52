package registry

import (
	"context"
	"encoding/base64"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/testenv"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// TestCredentialsStayOnTheRegistryHost: a registry on 127.0.0.2 (plain HTTP, as every loopback
// host may be) takes its tokenEnv credentials; its blobs redirect to another host, which must
// get no Authorization; another registry on 127.0.0.3 gets none of them.
func TestCredentialsStayOnTheRegistryHost(t *testing.T) {
	const cred = "robot:sentinel-registry-6c1d"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
	var mu sync.Mutex
	seen := map[string][]string{} // host → the Authorization headers it received
	record := func(host string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen[host] = append(seen[host], r.Header.Get("Authorization"))
				mu.Unlock()
				next.ServeHTTP(w, r)
			})
		}
	}
	own := registrytest.New(t, registrytest.ListenOn("127.0.0.2"), registrytest.RequireAuthorization(basic), registrytest.Wrap(record("own")))
	other := registrytest.New(t, registrytest.ListenOn("127.0.0.3"), registrytest.Wrap(record("other")))
	// go-containerregistry refuses redirects to private IP literals: the blob store is localhost.
	blobs := testenv.ServeOn(t, "127.0.0.1", record("blobs")(own.BlobHandler()))
	own.RedirectBlobs(strings.Replace(blobs.URL, "127.0.0.1", "localhost", 1))
	d := own.PushRandom(t, "app:1", registrytest.Image{})
	od := other.PushRandom(t, "app:1", registrytest.Image{})
	t.Setenv("OWN_REGISTRY_TOKEN", cred)
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no Docker credentials at all

	c, err := New(WithCacheDir(t.TempDir()), WithHosts(Host{Name: own.Host, TokenEnv: "OWN_REGISTRY_TOKEN"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Created(ctx, own.Repo("app"), d); err != nil { // reads the config blob
		t.Fatal(err)
	}
	if _, err := c.Created(ctx, other.Repo("app"), od); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// The first ping goes without credentials (the registry's challenge asks for them).
	want := map[string][]string{"own": {"", basic}, "blobs": {""}, "other": {""}}
	got := map[string][]string{}
	for host, as := range seen {
		got[host] = distinct(as)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Authorization each host received (-want +got):\n%s", diff)
	}
}

func distinct(s []string) []string {
	set := map[string]bool{}
	var out []string
	for _, v := range s {
		if !set[v] {
			set[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
