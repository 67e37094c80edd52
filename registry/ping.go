package registry

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// pingMemo answers a registry's ping (GET /v2/, how go-containerregistry learns the scheme and
// the auth challenge before it talks to a repository) from the first answer the registry gave
// this Client. The answer is the registry's, not the repository's, yet it was asked again for
// every repository: a watch over 200 images of one registry pinged it 200 times, and on a
// registry that may be plain HTTP each ping also tried a TLS handshake that could only fail.
// Of failures only one is remembered: an HTTPS ping that a plain-HTTP server answered (its
// reply is no TLS record); any other failure, an outage or a racer's cancelled context, is
// asked again by the next caller, as before.
type pingMemo struct {
	next http.RoundTripper
	mu   sync.Mutex
	m    map[string]*pingAnswer // scheme://host → its answer
}

type pingAnswer struct {
	mu     sync.Mutex // held while the one real ping is in flight
	done   bool
	status int
	header http.Header
	body   []byte
	err    error
}

// maxPingBody bounds the ping body kept; a registry's is empty or a short JSON error.
const maxPingBody = 64 << 10

func (p *pingMemo) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.Path != "/v2/" || req.URL.RawQuery != "" {
		return p.next.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + req.URL.Host
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string]*pingAnswer{}
	}
	a := p.m[key]
	if a == nil {
		a = &pingAnswer{}
		p.m[key] = a
	}
	p.mu.Unlock()

	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.done {
		resp, err := p.next.RoundTrip(req)
		if err != nil {
			var plain tls.RecordHeaderError
			if (errors.As(err, &plain) || errors.Is(err, http.ErrSchemeMismatch)) && req.Context().Err() == nil {
				a.done, a.err = true, err
			}
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxPingBody))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		a.done, a.status, a.header, a.body = true, resp.StatusCode, resp.Header, body
	}
	if a.err != nil {
		return nil, a.err
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", a.status, http.StatusText(a.status)), StatusCode: a.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: a.header.Clone(), Body: io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)), Request: req,
	}, nil
}
