#!/usr/bin/env bash
# Whole-process timing of tag selection against listing alone (issue 3's benchmark):
#   ferry tags REPO --semver '>=1.0.0' --key cosign.pub   (list 5,001 tags, rank, HEAD and verify the winner)
# against
#   crane ls REPO                                          (list the same tags)
# on go-containerregistry's registry on loopback, process start included. It is the `tags`
# section of `make bench` (internal/benchtool tags) with its knobs, printing the markdown
# section on stdout instead of writing docs/benchmarks.md; progress goes to stderr.
#
#   scripts/bench-tags.sh                    # RUNS=21 TAGS=5000 LISTING=link
#   RUNS=11 LISTING=registry scripts/bench-tags.sh
#   FERRY_ENV=GOGC=off scripts/bench-tags.sh  # environment for the ferry runs only
#
# LISTING=link pages tag lists by 1,000 with a Link header (distribution, Docker Hub), so crane
# and ferry both see every tag; LISTING=registry is go-containerregistry's own paging (full pages,
# no Link), where crane ls silently stops after 1,000 tags and ferry keeps asking.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -s build >/dev/null
go build -o "$work/benchtool" ./internal/benchtool
exec "$work/benchtool" tags -ferry bin/ferry -tools "${FERRY_TOOLS_DIR:-$root/.tools/bin}" \
	-runs "${RUNS:-21}" -tags "${TAGS:-5000}" -listing "${LISTING:-link}" -ferry-env "${FERRY_ENV:-}"
