// Package manifests finds and rewrites container image references in a tree of Kubernetes
// configuration: kustomization images lists, workload containers, Helm values files, explicit
// field paths and setter markers (Flux's $imagepolicy and ferry's own $ferry).
//
// Rules:
//   - Nodes are located with kyaml, but new values are spliced into the original bytes, so a
//     rewritten file differs from the original only inside the changed scalars. Comments, key
//     order, quoting, indentation, anchors, flow style, CRLF line endings and a missing final
//     newline survive.
//   - A file is screened as bytes before it is parsed: a file that mentions no wanted
//     repository and carries no marker is never parsed.
//   - Every edit of a run is planned before anything is written; a file with no change is not
//     written; each written file is replaced atomically (temp file and rename, mode kept).
//   - Nothing outside the environment's path is written. Kustomize bases outside it are read to
//     learn which images an overlay uses; they are never edited.
//
// The package does no network I/O and knows nothing of Git.
package manifests
