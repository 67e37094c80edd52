// Package registry talks to OCI registries with go-containerregistry: it lists tags with
// pagination that survives registries that page wrongly, resolves digests with HEAD, reads the
// platforms of an index and the created time of an image (cached on disk by digest, since
// digests are immutable), retries 429 and 5xx answers with backoff honouring Retry-After, and
// verifies cosign signatures (key and keyless; cosign 2 signature tags and cosign 3 bundles).
//
// Verification fails closed: a registry error while fetching signatures refuses the image. The
// digest that verified is the digest returned, so a tag moved after verification cannot slip in.
//
// Select walks a policy's candidates newest first and verifies lazily, stopping at the first
// that verifies and serves every required platform.
package registry
