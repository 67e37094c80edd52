package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Limits on what ferry reads.
const (
	maxManifestBytes = 4 << 20
	maxConfigBytes   = 16 << 20
)

// manifestAccept is every manifest kind ferry reads.
var manifestAccept = strings.Join([]string{
	string(types.OCIImageIndex),
	string(types.OCIManifestSchema1),
	string(types.DockerManifestList),
	string(types.DockerManifestSchema2),
}, ",")

// annotationCreated is the OCI annotation for an artifact's creation time.
const annotationCreated = "org.opencontainers.image.created"

// Digest resolves ref ("repo:tag" or "repo@sha256:…") to its manifest digest with a HEAD
// request (a GET only when the registry does not answer HEAD). A reference by digest is
// returned as is. For a host marked immutableTags, a tag's digest is cached on disk and not
// asked again.
func (c *Client) Digest(ctx context.Context, ref string) (string, error) {
	r, err := c.ParseReference(ref)
	if err != nil {
		return "", err
	}
	d, err := c.digest(ctx, r)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", r.Name(), err)
	}
	return d, nil
}

func (c *Client) digest(ctx context.Context, ref name.Reference) (string, error) {
	if d, ok := ref.(name.Digest); ok {
		return d.DigestStr(), nil
	}
	repo := ref.Context()
	immutable := false
	if h, ok := c.host(repo.RegistryStr()); ok && h.ImmutableTags {
		immutable = true
		if d, ok := c.cache.readTag(repo.Name(), ref.Identifier()); ok {
			return d, nil
		}
	}
	d, err := c.head(ctx, ref)
	if err != nil {
		return "", err
	}
	if immutable {
		if err := c.cache.writeTag(repo.Name(), ref.Identifier(), d); err != nil {
			return "", err
		}
	}
	return d, nil
}

// head resolves a reference with HEAD, falling back to GET when the registry does not support
// HEAD (405 or 501) or leaves out Docker-Content-Digest.
func (c *Client) head(ctx context.Context, ref name.Reference) (string, error) {
	repo := ref.Context()
	rt, err := c.transportFor(ctx, repo)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, manifestURL(repo, ref.Identifier()), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
	case http.StatusOK:
		if h := resp.Header.Get("Docker-Content-Digest"); h != "" {
			d, err := v1.NewHash(h)
			if err != nil {
				return "", fmt.Errorf("registry answered a malformed digest %q: %w", h, err)
			}
			return d.String(), nil
		}
	default:
		return "", transport.CheckError(resp, http.StatusOK)
	}
	m, err := c.getManifest(ctx, ref)
	if err != nil {
		return "", err
	}
	return m.digest, nil
}

func manifestURL(repo name.Repository, identifier string) string {
	u := url.URL{
		Scheme: repo.Scheme(),
		Host:   repo.RegistryStr(),
		Path:   fmt.Sprintf("/v2/%s/manifests/%s", repo.RepositoryStr(), identifier),
	}
	return u.String()
}

func blobURL(repo name.Repository, dgst string) string {
	u := url.URL{
		Scheme: repo.Scheme(),
		Host:   repo.RegistryStr(),
		Path:   fmt.Sprintf("/v2/%s/blobs/%s", repo.RepositoryStr(), dgst),
	}
	return u.String()
}

type manifest struct {
	digest    string
	mediaType types.MediaType
	raw       []byte
}

// getManifest GETs a manifest. By digest, the body must hash to that digest; by tag, the
// digest is the body's hash (checked against Docker-Content-Digest when the registry sends it).
// What it reveals about platforms is cached by digest.
func (c *Client) getManifest(ctx context.Context, ref name.Reference) (*manifest, error) {
	repo := ref.Context()
	rt, err := c.transportFor(ctx, repo)
	if err != nil {
		return nil, err
	}
	raw, header, err := getBounded(ctx, rt, manifestURL(repo, ref.Identifier()), manifestAccept, maxManifestBytes, "manifest")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	got := "sha256:" + hex.EncodeToString(sum[:])
	want := header.Get("Docker-Content-Digest")
	if d, ok := ref.(name.Digest); ok {
		want = d.DigestStr()
	}
	if want != "" && strings.HasPrefix(want, "sha256:") && want != got {
		return nil, fmt.Errorf("manifest digest %s does not match %s: the registry served other content", got, want)
	}
	if want != "" && !strings.HasPrefix(want, "sha256:") {
		// Another algorithm: trust the registry's digest only when asked by digest (checked by
		// the registry's content addressing); by tag, refuse what we cannot check.
		if _, ok := ref.(name.Digest); !ok {
			return nil, fmt.Errorf("registry digest %s uses an algorithm ferry cannot check", want)
		}
		got = want
	}
	mt := types.MediaType(header.Get("Content-Type"))
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if json.Unmarshal(raw, &probe) == nil && probe.MediaType != "" {
		mt = probe.MediaType
	}
	m := &manifest{digest: got, mediaType: mt, raw: raw}
	if mt.IsIndex() {
		if idx, err := v1.ParseIndexManifest(bytes.NewReader(raw)); err == nil {
			facts := digestFacts{MediaType: string(mt), Platforms: indexPlatforms(idx), HasPlatforms: true}
			if ts, ok := idx.Annotations[annotationCreated]; ok {
				if t, err := time.Parse(time.RFC3339, ts); err == nil {
					facts.Created, facts.HasCreated = t.UTC(), true
				}
			}
			if err := c.cache.mergeDigest(repo.Name(), got, facts); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// getConfig GETs an image's config blob and checks its digest.
func (c *Client) getConfig(ctx context.Context, repo name.Repository, dgst string) (*v1.ConfigFile, error) {
	rt, err := c.transportFor(ctx, repo)
	if err != nil {
		return nil, err
	}
	raw, _, err := getBounded(ctx, rt, blobURL(repo, dgst), "", maxConfigBytes, "config blob "+dgst)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(dgst, "sha256:") {
		sum := sha256.Sum256(raw)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != dgst {
			return nil, fmt.Errorf("config blob %s hashes to %s: the registry served other content", dgst, got)
		}
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing config blob %s: %w", dgst, err)
	}
	return cf, nil
}

// imageFacts reads an image manifest's config and caches its platform and created time.
func (c *Client) imageFacts(ctx context.Context, repo name.Repository, m *manifest) (digestFacts, error) {
	im, err := v1.ParseManifest(bytes.NewReader(m.raw))
	if err != nil {
		return digestFacts{}, fmt.Errorf("parsing manifest %s: %w", m.digest, err)
	}
	cf, err := c.getConfig(ctx, repo, im.Config.Digest.String())
	if err != nil {
		return digestFacts{}, err
	}
	facts := digestFacts{MediaType: string(m.mediaType), HasPlatforms: true, HasCreated: true, Created: cf.Created.UTC()}
	if cf.OS != "" || cf.Architecture != "" {
		facts.Platforms = []string{NormalizePlatform(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant})}
	}
	if err := c.cache.mergeDigest(repo.Name(), m.digest, facts); err != nil {
		return digestFacts{}, err
	}
	return facts, nil
}

// Platforms lists the platforms the manifest at digest serves ("linux/amd64", "linux/arm/v7"),
// normalised: an index lists its manifests' platforms (attestation entries left out); a
// single image reports its config's platform. The answer is cached by digest.
func (c *Client) Platforms(ctx context.Context, repo, dgst string) ([]string, error) {
	r, d, err := c.parseDigest(repo, dgst)
	if err != nil {
		return nil, err
	}
	p, err := c.platforms(ctx, r, d)
	if err != nil {
		return nil, fmt.Errorf("reading the platforms of %s@%s: %w", r.Name(), d, err)
	}
	return p, nil
}

func (c *Client) platforms(ctx context.Context, repo name.Repository, dgst string) ([]string, error) {
	if f, ok := c.cache.readDigest(repo.Name(), dgst); ok && f.HasPlatforms {
		return f.Platforms, nil
	}
	m, err := c.getManifest(ctx, repo.Digest(dgst))
	if err != nil {
		return nil, err
	}
	if m.mediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(m.raw))
		if err != nil {
			return nil, fmt.Errorf("parsing index: %w", err)
		}
		return indexPlatforms(idx), nil
	}
	f, err := c.imageFacts(ctx, repo, m)
	if err != nil {
		return nil, err
	}
	return f.Platforms, nil
}

// Created is the creation time in the config blob of the image at digest. For an index it is
// the index's org.opencontainers.image.created annotation when present, else the created time
// of its first platform image. The answer is cached by digest: a digest seen before costs no
// request. An image without a created time reports the zero time.
func (c *Client) Created(ctx context.Context, repo, dgst string) (time.Time, error) {
	r, d, err := c.parseDigest(repo, dgst)
	if err != nil {
		return time.Time{}, err
	}
	t, err := c.created(ctx, r, d)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the created time of %s@%s: %w", r.Name(), d, err)
	}
	return t, nil
}

func (c *Client) created(ctx context.Context, repo name.Repository, dgst string) (time.Time, error) {
	if f, ok := c.cache.readDigest(repo.Name(), dgst); ok && f.HasCreated {
		return f.Created, nil
	}
	m, err := c.getManifest(ctx, repo.Digest(dgst))
	if err != nil {
		return time.Time{}, err
	}
	return c.createdOf(ctx, repo, m)
}

// createdOf reads the created time of the image (or index) m, caching it by m's digest.
func (c *Client) createdOf(ctx context.Context, repo name.Repository, m *manifest) (time.Time, error) {
	dgst := m.digest
	if !m.mediaType.IsIndex() {
		f, err := c.imageFacts(ctx, repo, m)
		if err != nil {
			return time.Time{}, err
		}
		return f.Created, nil
	}
	if f, ok := c.cache.readDigest(repo.Name(), dgst); ok && f.HasCreated {
		return f.Created, nil // the index's annotation
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(m.raw))
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing index: %w", err)
	}
	for _, d := range idx.Manifests {
		if !d.MediaType.IsImage() || isAttestation(d) {
			continue
		}
		t, err := c.created(ctx, repo, d.Digest.String())
		if err != nil {
			return time.Time{}, err
		}
		if err := c.cache.mergeDigest(repo.Name(), dgst, digestFacts{Created: t, HasCreated: true}); err != nil {
			return time.Time{}, err
		}
		return t, nil
	}
	return time.Time{}, errors.New("index has no image manifest")
}

func (c *Client) parseDigest(repo, dgst string) (name.Repository, string, error) {
	r, err := c.ParseRepository(repo)
	if err != nil {
		return name.Repository{}, "", err
	}
	h, err := v1.NewHash(dgst)
	if err != nil {
		return name.Repository{}, "", fmt.Errorf("digest %q of %s: %w", dgst, r.Name(), err)
	}
	return r, h.String(), nil
}

// isAttestation reports an index entry that is a build attestation, not a runnable image
// (BuildKit stores these with platform unknown/unknown).
func isAttestation(d v1.Descriptor) bool {
	if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

func indexPlatforms(idx *v1.IndexManifest) []string {
	out := []string{}
	for _, d := range idx.Manifests {
		if d.Platform == nil || isAttestation(d) {
			continue
		}
		p := NormalizePlatform(*d.Platform)
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// NormalizePlatform writes a platform as os/arch[/variant] in the form containerd matches:
// architecture aliases are folded (x86_64 → amd64, aarch64 → arm64), and a default variant is
// dropped (arm64/v8, amd64/v1), while 32-bit arm without a variant means arm/v7.
func NormalizePlatform(p v1.Platform) string {
	os := strings.ToLower(p.OS)
	arch := strings.ToLower(p.Architecture)
	variant := strings.ToLower(p.Variant)
	switch arch {
	case "x86_64", "x86-64":
		arch = "amd64"
	case "aarch64":
		arch = "arm64"
	case "i386", "i686":
		arch = "386"
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	}
	switch {
	case arch == "arm64" && (variant == "v8" || variant == "8"):
		variant = ""
	case arch == "amd64" && (variant == "v1" || variant == "1"):
		variant = ""
	case arch == "arm" && variant == "":
		variant = "v7"
	case arch == "arm" && len(variant) == 1:
		variant = "v" + variant
	}
	s := os + "/" + arch
	if variant != "" {
		s += "/" + variant
	}
	return s
}

// ParsePlatform parses and normalises "os/arch[/variant]".
func ParsePlatform(s string) (string, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
		return "", fmt.Errorf("platform %q: want os/arch or os/arch/variant, such as linux/arm64", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return NormalizePlatform(p), nil
}

// getBounded GETs url through rt and reads at most limit bytes of a 200 answer, returning the
// body and the response headers; what names the object in errors.
func getBounded(ctx context.Context, rt http.RoundTripper, url, accept string, limit int, what string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if len(raw) > limit {
		return nil, nil, fmt.Errorf("%s larger than %d bytes", what, limit)
	}
	return raw, resp.Header, nil
}

// tagCreated resolves a tag's digest and created time with as few requests as the cache allows.
// A tag seen before (the cache remembers the digest it last had) costs one HEAD to confirm its
// digest (none on an immutableTags host), and nothing more when that digest is cached. A tag
// never seen costs a manifest GET by tag, which gives the digest too, and the config blob: no
// HEAD first.
func (c *Client) tagCreated(ctx context.Context, repo name.Repository, tag string) (string, time.Time, error) {
	ref := repo.Tag(tag)
	if last, seen := c.cache.readTag(repo.Name(), tag); seen {
		d, err := c.digest(ctx, ref)
		if err != nil {
			return "", time.Time{}, err
		}
		t, err := c.created(ctx, repo, d)
		if err == nil && d != last {
			err = c.cache.writeTag(repo.Name(), tag, d)
		}
		return d, t, err
	}
	m, err := c.getManifest(ctx, ref)
	if err != nil {
		return "", time.Time{}, err
	}
	t, err := c.createdOf(ctx, repo, m)
	if err != nil {
		return m.digest, time.Time{}, err
	}
	return m.digest, t, c.cache.writeTag(repo.Name(), tag, m.digest)
}
