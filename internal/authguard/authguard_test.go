package authguard_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/authguard"
	"github.com/ferryhq/ferry/internal/testenv"
)

// recorder is a loopback host that records the credential headers each request brought.
type recorder struct {
	mu   sync.Mutex
	seen []string // "path header=value" per credential header, "path none" without any
	next http.HandlerFunc
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var got []string
	for _, h := range authguard.Headers {
		if v := r.Header.Get(h); v != "" {
			got = append(got, r.URL.Path+" "+h+"="+v)
		}
	}
	if len(got) == 0 {
		got = []string{r.URL.Path + " none"}
	}
	rec.mu.Lock()
	rec.seen = append(rec.seen, got...)
	rec.mu.Unlock()
	if rec.next != nil {
		rec.next(w, r)
	}
}

func (rec *recorder) take() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := rec.seen
	rec.seen = nil
	return s
}

// TestRedirectsCarryNoCredentials: two hosts on 127.0.0.2 and 127.0.0.3. Go's client keeps
// Private-Token (and Authorization for a subdomain) on redirects; the guard must not.
func TestRedirectsCarryNoCredentials(t *testing.T) {
	b := &recorder{}
	bSrv := testenv.ServeOn(t, "127.0.0.3", b)
	a := &recorder{}
	aSrv := testenv.ServeOn(t, "127.0.0.2", a)
	a.next = func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, bSrv.URL+"/blob", http.StatusTemporaryRedirect)
		case "/here":
			http.Redirect(w, r, "/moved", http.StatusFound)
		case "/round":
			http.Redirect(w, r, bSrv.URL+"/back", http.StatusFound)
		}
	}
	b.next = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/back" {
			http.Redirect(w, r, aSrv.URL+"/home", http.StatusFound)
		}
	}
	tests := []struct {
		name         string
		guard        *authguard.Transport
		path         string
		basic        bool
		wantA, wantB []string
	}{
		{
			name: "redirect to another host", guard: &authguard.Transport{}, path: "/away",
			wantA: []string{"/away Authorization=Bearer s3cret", "/away Private-Token=pt"},
			wantB: []string{"/blob none"},
		},
		{
			name: "redirect on the same host keeps them", guard: &authguard.Transport{}, path: "/here",
			wantA: []string{"/here Authorization=Bearer s3cret", "/here Private-Token=pt", "/moved Authorization=Bearer s3cret", "/moved Private-Token=pt"},
		},
		{
			name: "a chain that left the host stays stripped", guard: &authguard.Transport{}, path: "/round",
			wantA: []string{"/round Authorization=Bearer s3cret", "/round Private-Token=pt", "/home none"},
			wantB: []string{"/back none"},
		},
		{
			name: "Host bound: its own host gets them", guard: authguard.For(nil, aSrv.URL), path: "/nothing",
			wantA: []string{"/nothing Authorization=Bearer s3cret", "/nothing Private-Token=pt"},
		},
		{
			name: "Host bound to another host: none", guard: authguard.For(nil, bSrv.URL+"/api/v1"), path: "/nothing",
			wantA: []string{"/nothing none"},
		},
		{
			name: "basic credentials", guard: &authguard.Transport{}, path: "/away", basic: true,
			wantA: []string{"/away Authorization=Basic dTpwdw==", "/away Private-Token=pt"},
			wantB: []string{"/blob none"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse(aSrv.URL + tc.path)
			req, err := http.NewRequest(http.MethodGet, u.String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.basic {
				req.SetBasicAuth("u", "pw")
			} else {
				req.Header.Set("Authorization", "Bearer s3cret")
			}
			req.Header.Set("Private-Token", "pt")
			resp, err := (&http.Client{Transport: tc.guard}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if diff := cmp.Diff(tc.wantA, a.take()); diff != "" {
				t.Errorf("127.0.0.2 saw (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantB, b.take()); diff != "" {
				t.Errorf("127.0.0.3 saw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSameHost(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://Gitea.example.com", "gitea.example.com:443", true},
		{"https://gitea.example.com/api/v1", "https://gitea.example.com:443/x", true},
		{"http://h", "https://h", false},
		{"http://h:80", "http://h/", true},
		{"http://127.0.0.2:3000", "http://127.0.0.3:3000", false},
		{"https://api.github.com", "https://github.com", false},
		{"https://h:8443", "https://h", false},
		{"%zz://", "%zz://", false},
	}
	for _, tc := range tests {
		if got := authguard.SameHost(tc.a, tc.b); got != tc.want {
			t.Errorf("SameHost(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if strings.Contains(authguard.HostOf(nil), ":") {
		t.Error("HostOf(nil) is not empty")
	}
}
