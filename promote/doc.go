// Package promote is ferry's pipeline: it loads ferry.yaml, decides per environment which images
// it wants (from the registry's policy, or from its source environment), verifies them, rewrites
// the environment's manifests, and commits and pushes with go-git, or opens and updates pull
// requests through a forge client. It is idempotent and conflict-safe: a push that loses a race
// is retried by recomputing the same intent on the new tip; the target branch is never
// force-pushed.
package promote
