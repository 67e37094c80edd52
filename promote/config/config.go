package config

import (
	"fmt"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Config is a loaded, validated ferry.yaml with its defaults applied.
type Config struct {
	// File is the name the config was loaded from, as given to Load or Parse; messages start
	// with it.
	File         string        `yaml:"-"`
	Images       []Image       `yaml:"images,omitempty"`
	Registries   []Registry    `yaml:"registries,omitempty"`
	Environments []Environment `yaml:"environments,omitempty"`
	Git          Git           `yaml:"git,omitempty"`
	// Notify lists the webhooks told of commits, pull requests, refusals and rollbacks.
	Notify []Notify `yaml:"notify,omitempty"`
}

// Notify is one notification webhook.
type Notify struct {
	// URL is env://VAR: the webhook URL is a secret, read from the environment when sending and
	// never printed.
	URL string `yaml:"url,omitempty"`
	// Format is FormatSlack (an incoming-webhook text message) or FormatJSON (one object per
	// event); default FormatJSON.
	Format NotifyFormat `yaml:"format,omitempty"`
	// On lists the events sent; empty means every event.
	On   []NotifyEvent `yaml:"on,omitempty"`
	Line int           `yaml:"-"`
}

// NotifyFormat is how a notification is written.
type NotifyFormat string

// Notification formats.
const (
	FormatSlack NotifyFormat = "slack"
	FormatJSON  NotifyFormat = "json"
)

// NotifyEvent is a kind of event a notification is sent for.
type NotifyEvent string

// Notification events.
const (
	EventCommit      NotifyEvent = "commit"       // a commit pushed to git.branch
	EventPullRequest NotifyEvent = "pull-request" // a pull request opened or updated (or its branch pushed)
	EventRefused     NotifyEvent = "refused"      // an unsigned or wrongly signed tag seen
	EventRollback    NotifyEvent = "rollback"     // a rollback written, by commit or pull request
)

// NotifyEvents are every event, in the order docs list them.
var NotifyEvents = []NotifyEvent{EventCommit, EventPullRequest, EventRefused, EventRollback}

// Wants reports whether the entry is sent event e.
func (n *Notify) Wants(e NotifyEvent) bool {
	if len(n.On) == 0 {
		return true
	}
	for _, o := range n.On {
		if o == e {
			return true
		}
	}
	return false
}

// Image is one image ferry moves.
type Image struct {
	// Name is used in $ferry markers, messages, PR branches (ferry/<env>/<name>) and status.
	Name string `yaml:"name,omitempty"`
	// Repository is the image repository as written (e.g. ghcr.io/acme/api or nginx).
	Repository string   `yaml:"repository,omitempty"`
	Policy     Policy   `yaml:"policy,omitempty"`
	Tags       Tags     `yaml:"tags,omitempty"`
	Platforms  []string `yaml:"platforms,omitempty"`
	// Verify lists the ways the image may verify; any one entry that verifies is enough.
	Verify             []VerifyEntry `yaml:"verify,omitempty"`
	InsecureSkipVerify bool          `yaml:"insecureSkipVerify,omitempty"`
	// Pin decides what is written; default PinTagDigest.
	Pin Pin `yaml:"pin,omitempty"`
	// Markers are Flux $imagepolicy names ("namespace:name") that also mean this image.
	Markers []string `yaml:"markers,omitempty"`
	Fields  []Field  `yaml:"fields,omitempty"`
	// Line is where the image's entry starts in the file.
	Line int `yaml:"-"`
}

// NormalizedRepository returns the image's repository in its normalised form
// (nginx → index.docker.io/library/nginx), the form references are matched by.
func (i *Image) NormalizedRepository() string {
	r, err := name.NewRepository(i.Repository)
	if err != nil { // validated at load; only a hand-built Config gets here
		return i.Repository
	}
	return r.Name()
}

// Policy says how an image's tags are ordered and picked. Exactly one kind is set: Semver,
// Numerical, Alphabetical, NewestBuild or Digest.
type Policy struct {
	// Semver is a Masterminds semver constraint, e.g. ">=1.2.0 <2.0.0".
	Semver string `yaml:"semver,omitempty"`
	// Numerical orders tags as numbers, asc (highest wins) or desc (lowest wins).
	Numerical Order `yaml:"numerical,omitempty"`
	// Alphabetical orders tags as strings, asc (last wins) or desc (first wins).
	Alphabetical Order `yaml:"alphabetical,omitempty"`
	// NewestBuild orders tags by the image's creation time.
	NewestBuild *NewestBuild `yaml:"newestBuild,omitempty"`
	// Digest follows one mutable tag (e.g. latest) and pins whatever digest it points at.
	Digest string `yaml:"digest,omitempty"`
	// Prerelease admits semver pre-release versions (semver only).
	Prerelease bool `yaml:"prerelease,omitempty"`
}

// NewestBuild is the newestBuild policy kind; it has no options yet.
type NewestBuild struct{}

// PolicyKind names a policy kind.
type PolicyKind string

// Policy kinds, named as the keys in ferry.yaml.
const (
	PolicySemver       PolicyKind = "semver"
	PolicyNumerical    PolicyKind = "numerical"
	PolicyAlphabetical PolicyKind = "alphabetical"
	PolicyNewestBuild  PolicyKind = "newestBuild"
	PolicyDigest       PolicyKind = "digest"
)

// Kind returns the policy's kind, or "" for a Policy with none (never after Load).
func (p Policy) Kind() PolicyKind {
	switch {
	case p.Semver != "":
		return PolicySemver
	case p.Numerical != "":
		return PolicyNumerical
	case p.Alphabetical != "":
		return PolicyAlphabetical
	case p.NewestBuild != nil:
		return PolicyNewestBuild
	case p.Digest != "":
		return PolicyDigest
	}
	return ""
}

// Order is the direction of a numerical or alphabetical policy.
type Order string

// Orders.
const (
	Asc  Order = "asc"
	Desc Order = "desc"
)

// Tags filters the tags a policy sees.
type Tags struct {
	// Allow is a regular expression a tag must match; its named group "version", when present,
	// is the part that is ordered.
	Allow string `yaml:"allow,omitempty"`
	// Ignore lists path.Match globs; a tag matching any of them is never picked.
	Ignore []string `yaml:"ignore,omitempty"`
}

// VerifyEntry is one way an image may verify. Exactly one of Key and Keyless is set.
type VerifyEntry struct {
	// Key is a cosign public key: a path in the repo or env://VAR.
	Key string `yaml:"key,omitempty"`
	// RequireTlog makes a transparency-log entry mandatory for a key signature.
	RequireTlog bool     `yaml:"requireTlog,omitempty"`
	Keyless     *Keyless `yaml:"keyless,omitempty"`
	// Attestations the image must also carry, signed by this entry's key or identity.
	Attestations []Attestation `yaml:"attestations,omitempty"`
	Line         int           `yaml:"-"`
}

// Attestation is one attestation a verify entry requires (DESIGN.md "Attestations").
type Attestation struct {
	// PredicateType is a URI or one of cosign's short names (slsaprovenance1, vuln, …).
	PredicateType string `yaml:"predicateType"`
	// Match maps dotted predicate paths to an exact string or a /regexp/, in file order.
	Match Matches `yaml:"match,omitempty"`
	// MaxSeverity (vulnerability predicates): none, low, medium, high or critical.
	MaxSeverity string `yaml:"maxSeverity,omitempty"`
	// MaxAge (vulnerability predicates): how old the scan may be.
	MaxAge time.Duration `yaml:"maxAge,omitempty"`
	Line   int           `yaml:"-"`
}

// Matches is a mapping of dotted paths to wanted values that keeps the file's order, so that
// "the first field that did not match" means the first one written.
type Matches []Match

// Match is one entry of an attestation's match mapping.
type Match struct {
	Path, Want string
	Line       int
}

// Keyless is a certificate identity check. One of Issuer and IssuerRegexp is set, and one of
// Identity and IdentityRegexp.
type Keyless struct {
	Issuer         string `yaml:"issuer,omitempty"`
	IssuerRegexp   string `yaml:"issuerRegexp,omitempty"`
	Identity       string `yaml:"identity,omitempty"`
	IdentityRegexp string `yaml:"identityRegexp,omitempty"`
	// TrustedRoot is a Sigstore trusted_root.json path in the repo; empty means the Sigstore
	// public-good root.
	TrustedRoot        string `yaml:"trustedRoot,omitempty"`
	InsecureIgnoreTlog bool   `yaml:"insecureIgnoreTlog,omitempty"`
	InsecureIgnoreSCT  bool   `yaml:"insecureIgnoreSCT,omitempty"`
}

// Pin is what is written for a picked image.
type Pin string

// Pins.
const (
	PinTagDigest Pin = "tag+digest" // repo:1.4.2@sha256:… (default)
	PinDigest    Pin = "digest"     // repo@sha256:…
	PinTag       Pin = "tag"        // repo:1.4.2, the digest not pinned
)

// Field is an explicit field path in YAML files for layouts the built-in rules miss.
type Field struct {
	// Path is a dotted path of mapping keys, e.g. app.release.version.
	Path string `yaml:"path,omitempty"`
	// Part is what the field holds; default PartRef.
	Part Part `yaml:"part,omitempty"`
	// Files is a path.Match glob of the files the field is looked for in; empty means every
	// YAML file under the environment's path. A glob without "/" matches the base name, one
	// with "/" the path relative to the environment's path.
	Files string `yaml:"files,omitempty"`
	Line  int    `yaml:"-"`
}

// Part is the part of an image reference a field holds.
type Part string

// Parts.
const (
	PartRef    Part = "ref"    // the whole reference as pin says
	PartName   Part = "name"   // the repository
	PartTag    Part = "tag"    // the tag alone
	PartDigest Part = "digest" // the digest alone
)

// Registry holds per-host registry settings.
type Registry struct {
	// Host is a registry host with an optional port, e.g. registry.internal:5000.
	Host string `yaml:"host,omitempty"`
	// Insecure allows plain HTTP (loopback hosts are always allowed it).
	Insecure bool `yaml:"insecure,omitempty"`
	// TokenEnv names an environment variable holding a bearer/basic token.
	TokenEnv string `yaml:"tokenEnv,omitempty"`
	// RequestsPerSecond limits requests to the host; 0 means no limit.
	RequestsPerSecond float64 `yaml:"requestsPerSecond,omitempty"`
	// ImmutableTags trusts a tag seen once never to move.
	ImmutableTags bool `yaml:"immutableTags,omitempty"`
	Line          int  `yaml:"-"`
}

// SourceRegistry is the Environment.Source of an environment fed from the registry.
const SourceRegistry = "registry"

// Environment is one stage images move through.
type Environment struct {
	// Name is used in messages, PR branches and trailers; a valid branch name component.
	Name string `yaml:"name,omitempty"`
	// Path is the environment's directory, relative to the repo root and cleaned.
	Path string `yaml:"path,omitempty"`
	// Source is SourceRegistry or the name of the environment whose images this one gets.
	Source string `yaml:"source,omitempty"`
	Write  Write  `yaml:"write,omitempty"`
	Gates  Gates  `yaml:"gates,omitempty"`
	// PullRequest is the effective pull-request settings: the environment's own keys merged over
	// git.pullRequest.
	PullRequest PullRequest `yaml:"pullRequest,omitempty"`
	Line        int         `yaml:"-"`
}

// FromRegistry reports whether the environment is fed from the registry (its Source is
// "registry") rather than from another environment.
func (e *Environment) FromRegistry() bool { return e.Source == SourceRegistry }

// Write is how an environment's changes land.
type Write string

// Writes.
const (
	WriteCommit      Write = "commit"       // straight to git.branch
	WritePullRequest Write = "pull-request" // on a branch, with a PR when a forge is known
)

// Gates hold an environment back.
type Gates struct {
	// Soak is how long a version must have been in the source environment; 0 means no gate.
	Soak time.Duration `yaml:"soak,omitempty"`
}

// Git holds how ferry commits.
type Git struct {
	// Branch is the target branch; default "main".
	Branch string `yaml:"branch,omitempty"`
	// Author defaults to DefaultAuthor.
	Author Person `yaml:"author,omitempty"`
	// Committer defaults to Author.
	Committer Person `yaml:"committer,omitempty"`
	// CommitMessage is a text/template (see TemplateData); default DefaultCommitMessage.
	CommitMessage string      `yaml:"commitMessage,omitempty"`
	SigningKey    *SigningKey `yaml:"signingKey,omitempty"`
	PullRequest   PullRequest `yaml:"pullRequest,omitempty"`
}

// Person is a Git identity, written "Name <email>".
type Person struct {
	Name  string
	Email string
}

// String returns "Name <email>".
func (p Person) String() string { return fmt.Sprintf("%s <%s>", p.Name, p.Email) }

// MarshalText returns "Name <email>".
func (p Person) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses "Name <email>".
func (p *Person) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	lt := strings.IndexByte(s, '<')
	if lt < 0 || !strings.HasSuffix(s, ">") {
		return fmt.Errorf("%q is not \"Name <email>\"", s)
	}
	nm := strings.TrimSpace(s[:lt])
	email := s[lt+1 : len(s)-1]
	switch {
	case nm == "":
		return fmt.Errorf("%q has no name before <email>", s)
	case email == "" || strings.ContainsAny(email, "<> \t"):
		return fmt.Errorf("%q has no valid email between < and >", s)
	case strings.ContainsAny(nm, "<>\n"):
		return fmt.Errorf("%q: the name must not contain < > or a newline", s)
	}
	p.Name, p.Email = nm, email
	return nil
}

// SigningKey signs ferry's commits. Exactly one of GPG and SSH is set, each a path in the repo
// or env://VAR.
type SigningKey struct {
	GPG  string `yaml:"gpg,omitempty"`
	SSH  string `yaml:"ssh,omitempty"`
	Line int    `yaml:"-"`
}

// PullRequest holds pull-request settings, globally (git.pullRequest) or per environment.
type PullRequest struct {
	// Provider is github, gitlab or gitea; "" means inferred from the remote's host.
	Provider Provider `yaml:"provider,omitempty"`
	// URL is the forge's API base URL (GitHub Enterprise, self-managed GitLab, Gitea).
	URL string `yaml:"url,omitempty"`
	// Title is a text/template; default DefaultTitle.
	Title string `yaml:"title,omitempty"`
	// Body is a text/template; "" means DefaultBody, the change table.
	Body      string   `yaml:"body,omitempty"`
	Labels    []string `yaml:"labels,omitempty"`
	Reviewers []string `yaml:"reviewers,omitempty"`
	Assignees []string `yaml:"assignees,omitempty"`
	Draft     bool     `yaml:"draft,omitempty"`
	AutoMerge bool     `yaml:"autoMerge,omitempty"`
}

// Provider is a forge kind.
type Provider string

// Providers.
const (
	ProviderGitHub Provider = "github"
	ProviderGitLab Provider = "gitlab"
	ProviderGitea  Provider = "gitea"
)

// MarshalYAML writes the matches back as the mapping they were read from, in order.
func (m Matches) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, x := range m {
		n.Content = append(n.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x.Path},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x.Want})
	}
	return n, nil
}
