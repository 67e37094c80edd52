package forge

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/testenv"
)

// TestRedirectCarriesNoToken: each forge's API on 127.0.0.2 answers State with a redirect to
// 127.0.0.3, which must get none of the token's headers. Go's client would forward GitLab's
// Private-Token there; the forge transport must not.
func TestRedirectCarriesNoToken(t *testing.T) {
	const token = "ferry-sentinel-redirect-91b2"
	tests := []struct {
		provider, api, answer string
	}{
		{GitHub, "/api/v3/", `{"number":5,"state":"open"}`},
		{GitLab, "/api/v4", `{"iid":5,"state":"opened"}`},
		{Gitea, "", `{"number":5,"state":"open"}`},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			var mu sync.Mutex
			got := map[string][]string{}
			record := func(host string, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				for k, vs := range r.Header {
					for _, v := range vs {
						if v == token || v == "Bearer "+token || v == "token "+token {
							got[host] = append(got[host], k)
						}
					}
				}
				if got[host] == nil {
					got[host] = []string{}
				}
			}
			elsewhere := testenv.ServeOn(t, "127.0.0.3", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				record("127.0.0.3", r)
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, tc.answer)
			}))
			api := testenv.ServeOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				record("127.0.0.2", r)
				http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			}))
			f, err := New(Config{Provider: tc.provider, BaseURL: api.URL + tc.api, RemoteURL: api.URL + "/acme/config.git", Token: token})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.State(context.Background(), 5); err != nil {
				t.Fatal(err)
			}
			header := map[string]string{GitHub: "Authorization", GitLab: "Private-Token", Gitea: "Authorization"}[tc.provider]
			want := map[string][]string{"127.0.0.2": {header}, "127.0.0.3": {}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers holding the token, per host (-want +got):\n%s", diff)
			}
		})
	}
}
