// Package forge opens and updates promotion pull requests (merge requests on GitLab) on
// GitHub and GitHub Enterprise, GitLab (gitlab.com and self-managed), and Gitea or Forgejo.
//
// New picks the forge from Config: Provider when set, otherwise the remote URL's host
// (github.com → GitHub; gitlab.com or a host containing "gitlab" → GitLab; codeberg.org or a
// host containing "gitea" or "forgejo" → Gitea). A file:// or path remote has no forge
// (ErrNoForge); any other host needs Provider (ErrUnknownProvider). The repository comes from
// the remote's path; the API URL from Config.BaseURL or the remote's host.
//
// EnsurePullRequest is idempotent: it looks for an open pull request whose head is Spec.Head
// in the same repository (walking every page), updates it in place when there is one (title,
// body and base replaced; labels, reviewers and assignees added, never removed) and opens one
// otherwise. If another run opens the same pull request in between, the forge's "already
// exists" answer leads to an update, not an error. Draft applies when a pull request is opened;
// later updates keep whatever draft state it has. AutoMerge is off by default.
//
// Rate limits are retried inside the HTTP transport for every forge alike: 429s and 403s that
// carry Retry-After, a spent quota (X-RateLimit-Remaining / RateLimit-Remaining: 0 with a reset
// time) or GitHub's secondary-rate-limit message, at most Config.MaxRetries times (default 3)
// and never waiting longer than Config.MaxRetryWait (default 1m) at once. Failures are *Error
// values that match ErrUnauthorized, ErrForbidden, ErrNotFound or ErrRateLimited and say which
// permission or scope the token needs. The token is never part of an error's text.
//
// Wait polls State for `promote --wait`. Body renders the default pull request body.
package forge
