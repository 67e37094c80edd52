// Package registrytest serves go-containerregistry's real in-memory registry on loopback behind
// a wrapper that counts requests by kind and injects faults (429 with Retry-After, 5xx,
// connection resets, latency), and that can page tag lists the way misbehaving registries do.
// Push helpers seed it in-process, uncounted and fault-free.
//
// It is for tests of any package that talks to a registry.
package registrytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferryhq/ferry/internal/testenv"
)

// Kind classifies a request.
type Kind string

// Request kinds.
const (
	Ping         Kind = "ping"          // GET /v2/
	TagList      Kind = "tag-list"      // GET /v2/<repo>/tags/list
	ManifestHead Kind = "manifest-head" // HEAD /v2/<repo>/manifests/<ref>
	ManifestGet  Kind = "manifest-get"  // GET /v2/<repo>/manifests/<ref>
	BlobHead     Kind = "blob-head"     // HEAD /v2/<repo>/blobs/<digest>
	BlobGet      Kind = "blob-get"      // GET /v2/<repo>/blobs/<digest>
	Referrers    Kind = "referrers"     // GET /v2/<repo>/referrers/<digest>
	Write        Kind = "write"         // PUT, POST, PATCH, DELETE
	Other        Kind = "other"
)

// Classify returns a request's kind.
func Classify(r *http.Request) Kind {
	p := r.URL.Path
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	default:
		return Write
	}
	head := r.Method == http.MethodHead
	switch {
	case p == "/v2/" || p == "/v2":
		return Ping
	case strings.HasSuffix(p, "/tags/list"):
		return TagList
	case strings.Contains(p, "/manifests/"):
		if head {
			return ManifestHead
		}
		return ManifestGet
	case strings.Contains(p, "/blobs/"):
		if head {
			return BlobHead
		}
		return BlobGet
	case strings.Contains(p, "/referrers/"):
		return Referrers
	}
	return Other
}

// Fault is what the wrapper does to one request instead of (or before) serving it.
type Fault struct {
	// Latency delays the request; with no other field set the request is then served.
	Latency time.Duration
	// Status answers with this status and an OCI error body instead of serving.
	Status int
	// RetryAfter is sent as the Retry-After header with Status.
	RetryAfter string
	// Reset closes the connection without an answer (a TCP reset).
	Reset bool
}

// TagListing is how the server pages tag lists.
type TagListing int

const (
	// ListingRegistry is go-containerregistry's own behaviour: n and last honoured, never a
	// Link header (so a full page looks like the end).
	ListingRegistry TagListing = iota
	// ListingIgnoresPaging ignores n and last and returns every tag each time, as Debian's
	// distribution registry 2.8 does.
	ListingIgnoresPaging
	// ListingLink honours n and last, caps a page at the page cap, and sends a Link header
	// while tags remain, as Docker Hub and distribution do.
	ListingLink
)

// Request is one request the server saw.
type Request struct {
	Method string
	Path   string
	Query  string
	Kind   Kind
}

type rule struct {
	match  func(*http.Request) bool
	faults []Fault // consumed in order; when sticky, faults[0] applies forever
	sticky bool
}

// Server is a registry under test.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port.
	URL string
	// Host is host:port, the registry part of image references.
	Host string

	backend http.Handler
	srv     *httptest.Server

	mu       sync.Mutex
	counts   map[Kind]int
	log      []Request
	rules    []*rule
	latency  time.Duration
	listing  TagListing
	pageCap  int
	inFlight int
	peak     int
	auth     string
	blobs    string // RedirectBlobs' base URL
}

// RedirectBlobs answers blob GETs with a 307 to base + the same path and query, as a registry
// with its blobs in object storage does; serve them there with BlobHandler.
func (s *Server) RedirectBlobs(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs = strings.TrimSuffix(base, "/")
}

// BlobHandler serves this registry's blobs with no authentication, for the host RedirectBlobs
// points at.
func (s *Server) BlobHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Classify(r) != BlobGet {
			http.NotFound(w, r)
			return
		}
		s.backend.ServeHTTP(w, r)
	})
}

// Option configures a Server.
type Option func(*config)

type config struct {
	regOpts []registry.Option
	auth    string
	ip      string
	wrap    func(http.Handler) http.Handler
}

// ListenOn serves on the loopback address ip (127.0.0.2, 127.0.0.3, …) instead of 127.0.0.1,
// so that a test can run hosts that clients see as different hosts.
func ListenOn(ip string) Option {
	return func(c *config) { c.ip = ip }
}

// Wrap puts mw around the server's handler (a recorder of what clients sent, say). Requests
// the test makes through Transport or RemoteOptions do not pass through it.
func Wrap(mw func(http.Handler) http.Handler) Option {
	return func(c *config) { c.wrap = mw }
}

// RequireAuthorization answers 401 with a Basic challenge to every request whose Authorization
// header is not exactly header (e.g. "Basic cm9ib3Q6c2VjcmV0" or "Bearer token").
func RequireAuthorization(header string) Option {
	return func(c *config) { c.auth = header }
}

// WithReferrersAPI turns the registry's OCI referrers API on or off (default off: clients use
// the referrers tag schema).
func WithReferrersAPI(on bool) Option {
	return func(c *config) { c.regOpts = append(c.regOpts, registry.WithReferrersSupport(on)) }
}

// New starts a registry on 127.0.0.1 (or ListenOn's address), closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config{regOpts: []registry.Option{registry.Logger(log.New(io.Discard, "", 0))}}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		backend: registry.New(cfg.regOpts...),
		counts:  map[Kind]int{},
		pageCap: 100,
		auth:    cfg.auth,
	}
	var h http.Handler = http.HandlerFunc(s.serve)
	if cfg.wrap != nil {
		h = cfg.wrap(h)
	}
	ip := cfg.ip
	if ip == "" {
		ip = "127.0.0.1"
	}
	s.srv = testenv.ServeOn(t, ip, h)
	s.URL = s.srv.URL
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatalf("registrytest: parsing server URL: %v", err)
	}
	s.Host = u.Host
	return s
}

// Repo returns the full repository name of repo on this server.
func (s *Server) Repo(repo string) string { return s.Host + "/" + repo }

// Ref returns the full reference of ref ("repo:tag", "repo@sha256:…") on this server.
func (s *Server) Ref(ref string) string { return s.Host + "/" + ref }

// SetTagListing sets how tag lists are paged; pageCap bounds a ListingLink page (default 100).
func (s *Server) SetTagListing(l TagListing, pageCap int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listing = l
	if pageCap > 0 {
		s.pageCap = pageCap
	}
}

// SetLatency delays every request by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Inject queues faults for the next requests of kind k, one fault per request, in order.
func (s *Server) Inject(k Kind, faults ...Fault) {
	s.InjectWhere(func(r *http.Request) bool { return Classify(r) == k }, faults...)
}

// InjectWhere queues faults for the next requests that match, one fault per request.
func (s *Server) InjectWhere(match func(*http.Request) bool, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, &rule{match: match, faults: slices.Clone(faults)})
}

// FailWhere applies f to every matching request until ClearFaults.
func (s *Server) FailWhere(match func(*http.Request) bool, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, &rule{match: match, faults: []Fault{f}, sticky: true})
}

// ClearFaults drops every queued and standing fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
}

// PendingFaults counts queued faults not yet consumed.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.rules {
		if !r.sticky {
			n += len(r.faults)
		}
	}
	return n
}

// Count returns how many requests of kind k the server saw since the last ResetCounts.
func (s *Server) Count(k Kind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[k]
}

// Counts returns the request counts by kind (kinds never seen are absent).
func (s *Server) Counts() map[Kind]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Kind]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Total returns the number of requests seen since the last ResetCounts.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.counts {
		n += v
	}
	return n
}

// Requests returns the requests seen since the last ResetCounts, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// PeakInFlight returns the most requests the server was serving at once.
func (s *Server) PeakInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// ResetCounts zeroes the counters, the request log and the in-flight peak.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[Kind]int{}
	s.log = nil
	s.peak = 0
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	k := Classify(r)
	s.mu.Lock()
	s.counts[k]++
	s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Kind: k})
	s.inFlight++
	s.peak = max(s.peak, s.inFlight)
	latency := s.latency
	var fault *Fault
	for i, rl := range s.rules {
		if !rl.match(r) {
			continue
		}
		f := rl.faults[0]
		fault = &f
		if !rl.sticky {
			rl.faults = rl.faults[1:]
			if len(rl.faults) == 0 {
				s.rules = slices.Delete(s.rules, i, i+1)
			}
		}
		break
	}
	listing, pageCap, blobs := s.listing, s.pageCap, s.blobs
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	if fault != nil {
		latency += fault.Latency
	}
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if fault != nil {
		switch {
		case fault.Reset:
			reset(w)
			return
		case fault.Status != 0:
			if fault.RetryAfter != "" {
				w.Header().Set("Retry-After", fault.RetryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(fault.Status)
			fmt.Fprintf(w, `{"errors":[{"code":"%s","message":"injected fault"}]}`, errorCode(fault.Status))
			return
		}
	}
	if s.auth != "" && r.Header.Get("Authorization") != s.auth {
		w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return
	}
	if k == BlobGet && blobs != "" {
		// Blob storage elsewhere, as registries backed by S3 or a CDN answer.
		http.Redirect(w, r, blobs+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		return
	}
	if k == TagList && listing != ListingRegistry {
		s.serveTags(w, r, listing, pageCap)
		return
	}
	s.backend.ServeHTTP(w, r)
}

func errorCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TOOMANYREQUESTS"
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusNotFound:
		return "MANIFEST_UNKNOWN"
	}
	return "UNKNOWN"
}

// reset closes the client's connection with a TCP reset.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("registrytest: response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(fmt.Sprintf("registrytest: hijacking: %v", err))
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// serveTags pages the backend's full, sorted tag list the way the listing mode says.
func (s *Server) serveTags(w http.ResponseWriter, r *http.Request, listing TagListing, pageCap int) {
	all := r.Clone(r.Context())
	all.URL.RawQuery = ""
	all.RequestURI = ""
	rec := httptest.NewRecorder()
	s.backend.ServeHTTP(rec, all)
	if rec.Code != http.StatusOK || listing == ListingIgnoresPaging {
		copyResponse(w, rec)
		return
	}
	var body struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	q := r.URL.Query()
	n := pageCap
	if v, err := strconv.Atoi(q.Get("n")); err == nil && v > 0 && v < n {
		n = v
	}
	tags := body.Tags
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(tags, last)
		for i < len(tags) && tags[i] <= last {
			i++
		}
		tags = tags[i:]
	}
	if len(tags) > n {
		tags = tags[:n]
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[len(tags)-1]}}
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
	}
	body.Tags = tags
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// Transport serves requests in-process against the registry: uncounted, fault-free. Use it to
// seed the registry with other tools (remote.Write, cosign's signing code).
func (s *Server) Transport() http.RoundTripper { return inProcess{s.backend} }

type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	r := req.Clone(req.Context())
	r.Body = http.NoBody
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.RequestURI = r.URL.RequestURI()
	p.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// RemoteOptions are go-containerregistry options that write through Transport.
func (s *Server) RemoteOptions() []remote.Option {
	return []remote.Option{remote.WithTransport(s.Transport())}
}

// Image describes a random image to push.
type Image struct {
	// Platform is os/arch[/variant]; default linux/amd64.
	Platform string
	// Created is the config's created time; default the zero time.
	Created time.Time
}

// RandomImage builds a small random image with spec's platform and created time.
func RandomImage(t testing.TB, spec Image) v1.Image {
	t.Helper()
	img, err := random.Image(32, 1)
	if err != nil {
		t.Fatalf("registrytest: random image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("registrytest: random image config: %v", err)
	}
	cf = cf.DeepCopy()
	p := parsePlatform(t, spec.Platform)
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: spec.Created}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatalf("registrytest: setting image config: %v", err)
	}
	return img
}

func parsePlatform(t testing.TB, s string) v1.Platform {
	t.Helper()
	if s == "" {
		s = "linux/amd64"
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		t.Fatalf("registrytest: platform %q: want os/arch[/variant]", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p
}

// PushImage writes img as ref ("repo:tag" on this server) and returns its digest.
func (s *Server) PushImage(t testing.TB, ref string, img v1.Image) string {
	t.Helper()
	r, err := name.ParseReference(s.Ref(ref))
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	if err := remote.Write(r, img, s.RemoteOptions()...); err != nil {
		t.Fatalf("registrytest: pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	return d.String()
}

// PushRandom pushes a random image as ref and returns its digest.
func (s *Server) PushRandom(t testing.TB, ref string, spec Image) string {
	t.Helper()
	return s.PushImage(t, ref, RandomImage(t, spec))
}

// PushIndex pushes a multi-platform index of random images as ref and returns its digest.
// A platform "unknown/unknown" adds an entry shaped like a BuildKit attestation.
func (s *Server) PushIndex(t testing.TB, ref string, platforms ...string) string {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, ps := range platforms {
		p := parsePlatform(t, ps)
		desc := v1.Descriptor{Platform: &p, MediaType: types.OCIManifestSchema1}
		spec := Image{Platform: ps}
		if ps == "unknown/unknown" {
			desc.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest"}
			spec.Platform = "linux/amd64"
		}
		adds = append(adds, mutate.IndexAddendum{Add: mutate.MediaType(RandomImage(t, spec), types.OCIManifestSchema1), Descriptor: desc})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	r, err := name.ParseReference(s.Ref(ref))
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	if err := remote.WriteIndex(r, idx, s.RemoteOptions()...); err != nil {
		t.Fatalf("registrytest: pushing index %s: %v", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	return d.String()
}

// Tag points more tags of repo at the manifest digest, in-process (fast enough for thousands).
func (s *Server) Tag(t testing.TB, repo, digest string, tags ...string) {
	t.Helper()
	get := httptest.NewRequest(http.MethodGet, "/v2/"+repo+"/manifests/"+digest, nil)
	get.Header.Set("Accept", "application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json")
	rec := httptest.NewRecorder()
	s.backend.ServeHTTP(rec, get)
	if rec.Code != http.StatusOK {
		t.Fatalf("registrytest: reading %s@%s: status %d", repo, digest, rec.Code)
	}
	body, mt := rec.Body.Bytes(), rec.Header().Get("Content-Type")
	for _, tag := range tags {
		put := httptest.NewRequest(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, bytes.NewReader(body))
		put.Header.Set("Content-Type", mt)
		rec := httptest.NewRecorder()
		s.backend.ServeHTTP(rec, put)
		if rec.Code != http.StatusCreated {
			t.Fatalf("registrytest: tagging %s:%s: status %d: %s", repo, tag, rec.Code, rec.Body)
		}
	}
}
