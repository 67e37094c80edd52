// Package imagebuild assembles ferry's own container image from scratch: no base image is
// pulled, nothing runs inside a container, and the same inputs give the same digests.
//
// Build turns one static ferry binary per platform into an OCI image index. Every platform's
// image has two layers: a base layer shared by all platforms (/etc/passwd and /etc/group with
// the non-root user nonroot, uid and gid 65532; the CA certificates at
// /etc/ssl/certs/ca-certificates.crt; /tmp and the user's home) and the binary at
// /usr/local/bin/ferry, which is the entrypoint. The image runs as 65532:65532 (numeric, so
// Kubernetes' runAsNonRoot can check it).
//
// The OCI annotations source, revision, version and created are set on the index, on each
// manifest and as labels in each config. Created is the commit time, and it is also every
// file's modification time and the config's created time, so a rebuild of the same commit is
// byte for byte the same. Layers are compressed with gzip's best level (pulled many times,
// built once: about 2 MB less than go-containerregistry's fastest default on a 15 MB layer).
//
// Build does no I/O: the caller reads the binaries and the certificates (the ferry-image
// command under cmd/ reads them from disk and writes an OCI layout or pushes to a registry).
package imagebuild
