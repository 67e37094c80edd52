// Package authguard keeps credentials on the host they are for.
//
// Transport is the RoundTripper under every HTTP client ferry sends a credential through (the
// registry client, the forge API clients, Git's smart HTTP). It removes the credential headers
// (Authorization, Private-Token, Job-Token, Cookie) and any user:password in the URL from a
// request that goes somewhere the credential is not for:
//
//   - a request that a redirect brought to another host than the first request of its chain,
//     or that passed through another host on the way (origin → elsewhere → origin stays
//     stripped);
//   - when Transport.Host is set (a forge API client: the API's host), a request to any other
//     host.
//
// Go's http.Client already drops Authorization on a redirect to another domain, but keeps it
// for a subdomain and keeps headers such as Private-Token; ferry does not rely on it.
//
// Hosts compare as lower-case host:port, with the scheme's default port filled in, so
// https://h and https://h:443 are the same host and http://h:80 differs from https://h.
package authguard

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Headers are the request headers that carry credentials.
var Headers = []string{"Authorization", "Private-Token", "Job-Token", "Cookie"}

// Transport strips credentials from requests that leave the host they are for.
type Transport struct {
	// Next sends the requests; nil means http.DefaultTransport.
	Next http.RoundTripper
	// Host, when set, is the only host that gets credentials: a URL (https://api.example.com)
	// or host[:port], which then means https.
	Host string
}

var _ http.RoundTripper = (*Transport)(nil)

// For returns a Transport that sends credentials to rawURL's host only.
func For(next http.RoundTripper, rawURL string) *Transport {
	return &Transport{Next: next, Host: rawURL}
}

// RoundTrip sends req, without its credentials when it goes where they are not for.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	if carriesCredentials(req) && !t.allowed(req) {
		req = req.Clone(req.Context())
		for _, h := range Headers {
			req.Header.Del(h)
		}
		if req.URL.User != nil {
			req.URL.User = nil
		}
	}
	return next.RoundTrip(req)
}

func (t *Transport) allowed(req *http.Request) bool {
	here := HostOf(req.URL)
	if t.Host != "" && here != hostOfString(t.Host) {
		return false
	}
	for r := req.Response; r != nil && r.Request != nil; r = r.Request.Response {
		if HostOf(r.Request.URL) != here {
			return false
		}
	}
	return true
}

func carriesCredentials(req *http.Request) bool {
	if req.URL.User != nil {
		return true
	}
	for _, h := range Headers {
		if req.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

// HostOf is u's host as Transport compares it: lower-case host:port with the scheme's default
// port filled in (443 for https and for a URL with no scheme, 80 for http).
func HostOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http":
			port = "80"
		default:
			port = "443"
		}
	}
	return net.JoinHostPort(host, port)
}

func hostOfString(s string) string {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "\x00invalid"
	}
	return HostOf(u)
}

// SameHost reports whether two URLs (or https host[:port] values) name the same host.
func SameHost(a, b string) bool {
	ha, hb := hostOfString(a), hostOfString(b)
	return ha == hb && !strings.HasPrefix(ha, "\x00")
}
