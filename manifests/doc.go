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
//   - The package reads through an fs.FS and writes nothing: Plan returns the whole edit of a
//     run (the changes and each changed file's old and new content and mode) and the caller
//     writes it — ferry set-image to local disk, atomically and only inside --path
//     (internal/atomicfile); promote as blobs of a Git tree. A file with no change is not in the
//     edit.
//   - No file outside the environment's path is in the edit. Kustomize bases outside it are
//     read to learn which images an overlay uses; they are never edited.
//
// The package does no network or disk I/O (depcheck_test.go keeps net and os out of its
// imports) and knows nothing of Git.
package manifests
