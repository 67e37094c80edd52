// Package gitrepo is ferry's conflict-safe write-back to a Git config repo, built on go-git.
//
// A Repo is opened from a URL (https://, ssh://, git@host:path, file://) or a bare repository's
// path, which is fetched shallow and single-branch into a temporary bare repository that Close
// removes; or from a local non-bare checkout, whose origin is fetched and whose own objects
// store receives the new commits. Either way commits are built on the remote branch's tip
// (origin/<branch>), never on uncommitted work.
//
// Edits never check out a tree: an Intent reads the tip through an fs.FS that loads blobs
// lazily, and Apply writes new blobs and only the trees along the changed paths, so the cost of
// a commit does not grow with the size of the repository. The push sends exactly the new
// objects with a compare-and-swap on the branch (old value = the tip the commit was built on):
// when someone else pushed meanwhile the push is refused, the new tip is fetched, the Intent is
// recomputed on it (never a textual patch replayed) and the push is tried again, a bounded
// number of times with jittered backoff. The target branch is never force-pushed; only
// ferry's own branches under "ferry/" may be (ApplyBranch).
//
// History walks the first-parent history of the branch and deepens a shallow clone step by step,
// only as far as the question needs. Commit trailers ("Ferry-Image: api=…") are parsed and
// formatted by ParseTrailers and FormatTrailers.
//
// Tokens and key passphrases are never written to errors, logs or commits; URLs are shown with
// their credentials removed.
package gitrepo
