package promote

import "github.com/ferryhq/ferry/manifests"

// Result is what a run did (or, with dry-run, would do). It is the object `--output json`
// prints; every command that writes reports one.
type Result struct {
	Changes      []manifests.Change `json:"changes"`
	Commits      []Commit           `json:"commits"`
	PullRequests []PullRequest      `json:"pullRequests"`
	Skipped      []Skip             `json:"skipped"`
	// Diff is the unified diff of a dry run.
	Diff string `json:"diff,omitempty"`
	// Plan explains, per image, the chosen and passed-over candidates of a dry run.
	Plan []PlanEntry `json:"plan,omitempty"`
	// Selected is, for a watch, the tag each image's selection chose (whether or not it was
	// written), for metrics; it is not printed.
	Selected []Selected `json:"-"`
}

// Selected is the tag a watch cycle chose for an image.
type Selected struct {
	Image, Tag, Digest string
}

// Commit is a commit ferry pushed (or made locally with --no-push).
type Commit struct {
	Environment string `json:"environment"`
	SHA         string `json:"sha"`
	Branch      string `json:"branch"`
}

// PullRequest is a pull (or merge) request ferry opened or updated. With no forge, only the
// branch is reported and URL and Number are empty.
type PullRequest struct {
	Environment string `json:"environment"`
	URL         string `json:"url,omitempty"`
	Number      int    `json:"number,omitempty"`
	Updated     bool   `json:"updated"`
	Branch      string `json:"branch"`
	// State is open, merged or closed after promote --wait.
	State string `json:"state,omitempty"`
}

// Skip is an image an environment did not get, with a short fixed reason word
// (unsigned, wrong-signer, attestation, gate, downgrade, platform, policy, registry-error) and
// detail text.
type Skip struct {
	Environment string `json:"environment"`
	Image       string `json:"image"`
	Tag         string `json:"tag,omitempty"`
	Reason      string `json:"reason"`
	Detail      string `json:"detail,omitempty"`
}

// PlanEntry explains one image's decision in a dry run.
type PlanEntry struct {
	Environment string      `json:"environment"`
	Image       string      `json:"image"`
	Chosen      string      `json:"chosen,omitempty"`
	PassedOver  []Candidate `json:"passedOver,omitempty"`
}

// Candidate is a tag that was considered and why it lost.
type Candidate struct {
	Tag    string `json:"tag"`
	Digest string `json:"digest,omitempty"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}
