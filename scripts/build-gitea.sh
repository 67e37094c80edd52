#!/usr/bin/env bash
# build-gitea.sh DEST_DIR — build Gitea from its Go module into DEST_DIR.
#
# `go install code.gitea.io/gitea@VERSION` refuses Gitea's replace directives, so this copies
# the module out of the module cache, makes it writable and builds it in place with sqlite.
# Result: DEST_DIR/gitea (the binary) and DEST_DIR/gitea-src (the source tree, which a
# running Gitea needs as STATIC_ROOT_PATH for its templates and assets).
# Idempotent: does nothing when DEST_DIR/gitea already exists.
set -euo pipefail

GITEA_VERSION="${GITEA_VERSION:-v1.26.0}"
GO="${GO:-go}"

if [ $# -ne 1 ]; then
  echo "usage: $0 DEST_DIR" >&2
  exit 2
fi
dest="$1"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

if [ -x "$dest/gitea" ] && [ -d "$dest/gitea-src" ]; then
  echo "gitea: $dest/gitea exists, nothing to do"
  exit 0
fi

start=$(date +%s)
echo "gitea: downloading code.gitea.io/gitea@$GITEA_VERSION"
# Run outside any module so the caller's go.mod and go.sum are left alone.
moddir="$(cd "$(mktemp -d)" && GOWORK=off GOFLAGS=-mod=mod "$GO" mod download -json "code.gitea.io/gitea@$GITEA_VERSION" |
  sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$moddir" ] || [ ! -d "$moddir" ]; then
  echo "gitea: go mod download gave no module directory" >&2
  exit 1
fi

# Build in a scratch copy, then move into place so an interrupted build leaves nothing half-done.
work="$(mktemp -d "$dest/.gitea-build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -R "$moddir" "$work/src"
chmod -R u+w "$work/src"

echo "gitea: building (CGO_ENABLED=1, tags sqlite sqlite_unlock_notify); this takes minutes"
(
  cd "$work/src"
  CGO_ENABLED=1 GOFLAGS=-mod=mod "$GO" build -trimpath \
    -tags 'sqlite sqlite_unlock_notify' \
    -ldflags "-s -w -X main.Version=${GITEA_VERSION#v}" \
    -o "$work/gitea" .
)

rm -rf "$dest/gitea-src"
mv "$work/src" "$dest/gitea-src"
mv "$work/gitea" "$dest/gitea"
echo "gitea: installed $dest/gitea ($GITEA_VERSION) in $(( $(date +%s) - start ))s"
