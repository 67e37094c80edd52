package listen

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Kinds of webhook sender, the last element of POST /webhook/<kind>.
const (
	KindDockerHub    = "dockerhub"
	KindGHCR         = "ghcr"
	KindHarbor       = "harbor"
	KindQuay         = "quay"
	KindGitLab       = "gitlab"
	KindDistribution = "distribution"
	KindGeneric      = "generic"
)

// Kinds lists every kind, in the order docs name them.
var Kinds = []string{KindDockerHub, KindGHCR, KindHarbor, KindQuay, KindGitLab, KindDistribution, KindGeneric}

// Push is one pushed image a webhook told of.
type Push struct {
	// Repository is the repository as the sender names it, with its host when it gives one
	// (Docker Hub's payloads have none: docker.io is meant).
	Repository string
	Tag        string
	Digest     string
	// At is the sender's time of the push, as it wrote it; with the other fields it tells one
	// push from a repeat of the same one.
	At string
}

// key identifies the push: the same event delivered twice has the same key.
func (p Push) key(kind string) string {
	return strings.Join([]string{kind, p.Repository, p.Tag, p.Digest, p.At}, "\x00")
}

// ErrNotAPush is returned for a well-formed event that is not an image push (a GitHub ping, a
// Harbor scan result, a distribution pull): it is acknowledged and ignored.
var ErrNotAPush = errors.New("not an image push")

// ErrMalformed is wrapped by errors for a body that is not the kind's JSON.
var ErrMalformed = errors.New("malformed payload")

// Parse reads the pushes a webhook body of kind tells of. header is the request's header
// (GitHub names its event there).
func Parse(kind string, header http.Header, body []byte) ([]Push, error) {
	var (
		pushes []Push
		err    error
	)
	switch kind {
	case KindDockerHub:
		pushes, err = parseDockerHub(body)
	case KindGHCR:
		pushes, err = parseGitHub(header.Get("X-GitHub-Event"), body)
	case KindHarbor:
		pushes, err = parseHarbor(body)
	case KindQuay:
		pushes, err = parseQuay(body)
	case KindGitLab, KindDistribution:
		pushes, err = parseDistribution(body)
	case KindGeneric:
		pushes, err = parseGeneric(body)
	default:
		return nil, fmt.Errorf("unknown webhook kind %q", kind)
	}
	if err != nil {
		return nil, err
	}
	if len(pushes) == 0 {
		return nil, ErrNotAPush
	}
	return pushes, nil
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

func missing(what string) error { return fmt.Errorf("%w: no %s", ErrMalformed, what) }

// parseDockerHub reads Docker Hub's repository webhook:
// {"push_data": {"pushed_at", "tag"}, "repository": {"repo_name": "acme/api"}}.
func parseDockerHub(body []byte) ([]Push, error) {
	var p struct {
		PushData *struct {
			PushedAt json.Number `json:"pushed_at"`
			Tag      string      `json:"tag"`
		} `json:"push_data"`
		Repository struct {
			RepoName string `json:"repo_name"`
		} `json:"repository"`
	}
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.PushData == nil {
		return nil, nil
	}
	if p.Repository.RepoName == "" {
		return nil, missing("repository.repo_name")
	}
	return []Push{{Repository: p.Repository.RepoName, Tag: p.PushData.Tag, At: p.PushData.PushedAt.String()}}, nil
}

// githubPackage is the package object of GitHub's package and registry_package events.
type githubPackage struct {
	Name        string `json:"name"`
	Namespace   string `json:"namespace"`
	PackageType string `json:"package_type"`
	Owner       struct {
		Login string `json:"login"`
	} `json:"owner"`
	PackageVersion *struct {
		Version           string `json:"version"`
		UpdatedAt         string `json:"updated_at"`
		PackageURL        string `json:"package_url"`
		ContainerMetadata *struct {
			Tag struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
			} `json:"tag"`
		} `json:"container_metadata"`
	} `json:"package_version"`
}

// parseGitHub reads GitHub's package and registry_package events (action published or
// updated) for container packages: the image is ghcr.io/<namespace or owner>/<name>.
func parseGitHub(event string, body []byte) ([]Push, error) {
	switch event {
	case "package", "registry_package":
	case "":
		return nil, fmt.Errorf("%w: no X-GitHub-Event header", ErrMalformed)
	default:
		return nil, nil // ping and every other event
	}
	var p struct {
		Action          string         `json:"action"`
		Package         *githubPackage `json:"package"`
		RegistryPackage *githubPackage `json:"registry_package"`
	}
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	pkg := p.Package
	if event == "registry_package" {
		pkg = p.RegistryPackage
	}
	if pkg == nil {
		return nil, missing(event + " object")
	}
	if (p.Action != "published" && p.Action != "updated") || !strings.EqualFold(pkg.PackageType, "container") {
		return nil, nil
	}
	owner := pkg.Namespace
	if owner == "" {
		owner = pkg.Owner.Login
	}
	if owner == "" || pkg.Name == "" {
		return nil, missing("package name and namespace")
	}
	push := Push{Repository: "ghcr.io/" + strings.ToLower(owner) + "/" + strings.ToLower(pkg.Name)}
	if v := pkg.PackageVersion; v != nil {
		push.Digest, push.At = v.Version, v.UpdatedAt
		if v.ContainerMetadata != nil {
			push.Tag = v.ContainerMetadata.Tag.Name
			if v.ContainerMetadata.Tag.Digest != "" {
				push.Digest = v.ContainerMetadata.Tag.Digest
			}
		}
		if repo, ok := refRepository(v.PackageURL); ok {
			push.Repository = repo
		}
	}
	return []Push{push}, nil
}

// parseHarbor reads Harbor's PUSH_ARTIFACT webhook: event_data.resources[] with resource_url
// host/project/repo:tag, tag and digest.
func parseHarbor(body []byte) ([]Push, error) {
	var p struct {
		Type      string `json:"type"`
		OccurAt   int64  `json:"occur_at"`
		EventData struct {
			Resources []struct {
				Digest      string `json:"digest"`
				Tag         string `json:"tag"`
				ResourceURL string `json:"resource_url"`
			} `json:"resources"`
		} `json:"event_data"`
	}
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.Type != "PUSH_ARTIFACT" && p.Type != "pushImage" {
		return nil, nil
	}
	var out []Push
	for _, r := range p.EventData.Resources {
		repo, ok := refRepository(r.ResourceURL)
		if !ok {
			return nil, missing("event_data.resources[].resource_url")
		}
		out = append(out, Push{Repository: repo, Tag: r.Tag, Digest: r.Digest, At: strconv.FormatInt(p.OccurAt, 10)})
	}
	if len(out) == 0 {
		return nil, missing("event_data.resources")
	}
	return out, nil
}

// parseQuay reads Quay's repository push notification: {"docker_url": "quay.io/acme/api",
// "updated_tags": [...]}.
func parseQuay(body []byte) ([]Push, error) {
	var p struct {
		DockerURL   string   `json:"docker_url"`
		UpdatedTags []string `json:"updated_tags"`
	}
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.DockerURL == "" {
		return nil, missing("docker_url")
	}
	if len(p.UpdatedTags) == 0 {
		return []Push{{Repository: p.DockerURL}}, nil
	}
	var out []Push
	for _, t := range p.UpdatedTags {
		out = append(out, Push{Repository: p.DockerURL, Tag: t})
	}
	return out, nil
}

// parseDistribution reads a CNCF distribution notification envelope (what GitLab's container
// registry sends too): events[] with action push, target.repository, target.tag,
// target.digest and request.host. Pushes of blobs (no manifest media type) are not image
// pushes.
func parseDistribution(body []byte) ([]Push, error) {
	var p struct {
		Events *[]struct {
			Action    string `json:"action"`
			Timestamp string `json:"timestamp"`
			Target    struct {
				MediaType  string `json:"mediaType"`
				Repository string `json:"repository"`
				Tag        string `json:"tag"`
				Digest     string `json:"digest"`
				URL        string `json:"url"`
			} `json:"target"`
			Request struct {
				Host string `json:"host"`
			} `json:"request"`
		} `json:"events"`
	}
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.Events == nil {
		return nil, missing("events")
	}
	var out []Push
	for _, e := range *p.Events {
		if e.Action != "push" || !strings.Contains(e.Target.MediaType, "manifest") && !strings.Contains(e.Target.MediaType, "index") {
			continue
		}
		if e.Target.Repository == "" {
			return nil, missing("events[].target.repository")
		}
		host := e.Request.Host
		if u, err := url.Parse(e.Target.URL); err == nil && u.Host != "" {
			host = u.Host
		}
		repo := e.Target.Repository
		if host != "" {
			repo = host + "/" + repo
		}
		out = append(out, Push{Repository: repo, Tag: e.Target.Tag, Digest: e.Target.Digest, At: e.Timestamp})
	}
	return out, nil
}

// parseGeneric reads {"repository": "ghcr.io/acme/api", "tag": "1.4.2", "digest"?: …}.
func parseGeneric(body []byte) ([]Push, error) {
	var p struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		Digest     string `json:"digest"`
	}
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.Repository == "" {
		return nil, missing("repository")
	}
	return []Push{{Repository: p.Repository, Tag: p.Tag, Digest: p.Digest}}, nil
}

// refRepository returns the repository of an image reference such as
// harbor.example.com/acme/api:1.4.2, without scheme, tag or digest.
func refRepository(ref string) (string, bool) {
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "https://"), "http://")
	if ref == "" {
		return "", false
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", false
	}
	return r.Context().String(), true
}
