#!/usr/bin/env bash
# demo.sh BIN: run `ferry set-image` on a temporary copy of examples/demo and print the diff.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 path/to/ferry" >&2
  exit 2
fi
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cp -R "$repo/examples/demo" "$tmp/before"
cp -R "$repo/examples/demo" "$tmp/after"

refs=(
  ghcr.io/acme/api:1.3.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  nginx:1.27
  ghcr.io/acme/worker:1.0.0
)
echo "\$ ferry set-image --path envs/dev --marker worker=ghcr.io/acme/worker ${refs[*]}"
(cd "$tmp/after" && "$bin" set-image --path envs/dev --marker worker=ghcr.io/acme/worker "${refs[@]}")
echo
echo "\$ git diff --no-index before after"
cd "$tmp"
git --no-pager diff --no-index --color=auto before after || [ $? -eq 1 ]
