package manifests

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
)

// Pin decides which parts of a reference are written: both tag and digest (the default),
// the digest alone, or the tag alone.
type Pin int

const (
	// PinTagDigest writes repo:tag@digest: readable and immutable. It is the zero value.
	PinTagDigest Pin = iota
	// PinDigest writes repo@digest.
	PinDigest
	// PinTag writes repo:tag; the digest is not pinned.
	PinTag
)

// String returns the ferry.yaml spelling of p: tag+digest, digest or tag.
func (p Pin) String() string {
	switch p {
	case PinTagDigest:
		return "tag+digest"
	case PinDigest:
		return "digest"
	case PinTag:
		return "tag"
	}
	return fmt.Sprintf("Pin(%d)", int(p))
}

// ParsePin parses a ferry.yaml pin value; the empty string is the default, tag+digest.
func ParsePin(s string) (Pin, error) {
	switch s {
	case "", "tag+digest":
		return PinTagDigest, nil
	case "digest":
		return PinDigest, nil
	case "tag":
		return PinTag, nil
	}
	return 0, fmt.Errorf("pin %q: want tag+digest, digest or tag", s)
}

// Image is one wanted image: which repository to look for and what to write there.
type Image struct {
	// Name is the image's name in ferry.yaml; `# {"$ferry": "<Name>"}` markers bind to it.
	// Optional.
	Name string
	// Repository is the repository to match, in any form: nginx, docker.io/library/nginx and
	// index.docker.io/library/nginx are the same repository. Registry hosts may carry ports.
	Repository string
	// NewName, when set, is written instead of the repository (kustomize's newName).
	NewName string
	// Tag and Digest ("sha256:…") are the new values; Pin decides which of them are written.
	Tag    string
	Digest string
	Pin    Pin
	// Markers are extra marker names (Flux's "namespace:policy") that mean this image.
	Markers []string
	// Fields are explicit field paths for layouts the built-in rules do not cover.
	Fields []Field
}

// Field is an explicit field holding (part of) an image reference.
type Field struct {
	// Path is a dotted path from a document's root: app.image.version, or spec.images[0].
	Path string
	// Part is what the field holds: ref (the default), name, tag or digest.
	Part string
	// Files is a glob matched against a file's base name (values*.yaml); empty means every
	// YAML file.
	Files string
}

// Reference parts a marker suffix or a Field.Part selects.
const (
	partRef    = "ref"
	partName   = "name"
	partTag    = "tag"
	partDigest = "digest"
)

// The tag and digest syntax, compiled on first use: not on every ferry start (the tag's
// {0,127} compiles to 128 nested states, most of this package's initialisation).
var (
	tagRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`) })
	digestRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$`)
	})
)

// ErrBadImageArg is returned (wrapped) by ParseImageArg for a malformed argument.
var ErrBadImageArg = errors.New("malformed image argument")

// ParseImageArg parses kustomize's `edit set image` syntax name[=newName][:tag][@digest]:
// nginx:1.27, nginx@sha256:…, nginx=ghcr.io/acme/nginx:1.27@sha256:…. At least one of
// newName, tag or digest must be given.
func ParseImageArg(s string) (Image, error) {
	bad := func(format string, args ...any) (Image, error) {
		return Image{}, fmt.Errorf("image %q: %s: %w", s, fmt.Sprintf(format, args...), ErrBadImageArg)
	}
	if s == "" {
		return bad("empty")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return bad("contains white space")
	}
	var img Image
	if before, after, ok := strings.Cut(s, "="); ok {
		img.Repository = before
		newName, tag, digest := splitRef(after)
		if newName == "" {
			return bad("nothing after '=': want name=newName[:tag][@digest]")
		}
		img.NewName, img.Tag, img.Digest = newName, tag, digest
		if strings.ContainsAny(before, ":@") && !isRepository(before) {
			return bad("the name before '=' must be a bare repository, without tag or digest")
		}
	} else {
		img.Repository, img.Tag, img.Digest = splitRef(s)
	}
	if img.Repository == "" {
		return bad("no repository")
	}
	if !isRepository(img.Repository) {
		return bad("%q is not a valid repository", img.Repository)
	}
	if img.NewName != "" && !isRepository(img.NewName) {
		return bad("new name %q is not a valid repository", img.NewName)
	}
	if img.Tag != "" && !tagRE().MatchString(img.Tag) {
		return bad("tag %q is not valid (letters, digits, '_', '.', '-'; at most 128)", img.Tag)
	}
	if img.Digest != "" && !digestRE().MatchString(img.Digest) {
		return bad("digest %q is not valid (want sha256:<64 hex digits>)", img.Digest)
	}
	if strings.HasSuffix(s, ":") || strings.HasSuffix(s, "@") {
		return bad("empty tag or digest")
	}
	if img.NewName == "" && img.Tag == "" && img.Digest == "" {
		return bad("sets nothing: give a tag (:1.2.3), a digest (@sha256:…) or a new name (=repo)")
	}
	return img, nil
}

// splitRef splits repo[:tag][@digest]. The tag is the part after the last ':' that follows
// the last '/', so registry ports (localhost:5000/app) are not mistaken for tags.
func splitRef(s string) (repo, tag, digest string) {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s, digest = s[:i], s[i+1:]
	}
	slash := strings.LastIndexByte(s, '/')
	if i := strings.LastIndexByte(s, ':'); i > slash {
		s, tag = s[:i], s[i+1:]
	}
	return s, tag, digest
}

// formatRef joins repo[:tag][@digest].
func formatRef(repo, tag, digest string) string {
	if tag != "" {
		repo += ":" + tag
	}
	if digest != "" {
		repo += "@" + digest
	}
	return repo
}

func isRepository(s string) bool { return normalize(s) != "" }

// normalize returns the canonical form of a repository (index.docker.io/library/nginx for
// nginx), or "" if s is not a repository.
// The canonical forms are remembered for the process (up to normalizedMax short spellings): every
// Find and Plan of a run, and every run of a long-lived watcher, normalizes the same
// repositories, and go-containerregistry's parser is most of a plan's CPU past parsing.
func normalize(s string) string {
	if v, ok := normalized.Load(s); ok {
		return v.(string)
	}
	n := ""
	if s != "" && !strings.ContainsAny(s, " \t\r\n{}$") {
		if r, err := name.NewRepository(s); err == nil {
			n = r.Name()
		}
	}
	if len(s) <= normalizedLongest && normalizedLen.Load() < normalizedMax {
		if _, loaded := normalized.LoadOrStore(s, n); !loaded {
			normalizedLen.Add(1)
		}
	}
	return n
}

var (
	normalized    sync.Map // spelling → canonical form ("" for not a repository)
	normalizedLen atomic.Int64
)

// normalizedLongest keeps long scalars (most are not repositories) out of the memo.
const normalizedMax, normalizedLongest = 1 << 14, 256

// screenString is the shortest text every spelling of the repository contains: its path
// without registry (and without Docker Hub's library/ prefix).
func screenString(canonical string) string {
	r, err := name.NewRepository(canonical)
	if err != nil {
		return canonical
	}
	p := r.RepositoryStr()
	if r.RegistryStr() == name.DefaultRegistry {
		p = strings.TrimPrefix(p, "library/")
	}
	return p
}

// splitHost splits a repository into a registry host and a path, for Helm maps with a
// separate registry key. A repository with no host is on docker.io.
func splitHost(repo string) (host, path string) {
	first, rest, ok := strings.Cut(repo, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, rest
	}
	return "docker.io", repo
}

// validRefValue reports whether tag and digest (as found in a file) look like a reference's
// parts, so that templated values such as nginx:{{ .Values.tag }} are never taken for one.
func validRefValue(tag, digest string) bool {
	return (tag == "" || tagRE().MatchString(tag)) && (digest == "" || digestRE().MatchString(digest))
}
