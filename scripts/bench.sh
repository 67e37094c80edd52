#!/usr/bin/env bash
# The side-by-side benchmarks behind `make bench`. Each section runs ferry and the tool a user
# would otherwise run on the same generated world, interleaved round by round, and writes its
# figures (medians, ratios, the command lines) between its markers in docs/benchmarks.md,
# leaving the rest of the document alone:
#
#   tags          ferry tags (semver, winner verified) against crane ls, 5,000 tags
#   newest-build  ferry tags --newest-build over 500 tags, cold and warm cache, against scans
#                 that fetch every config blob; requests counted at the registry
#   set-image     ferry set-image against kustomize edit set image in each overlay, 10,000 files
#   watch         ferry watch --once, 200 images × 3 environments against 1 × 3
#   history       ferry history over 5,000 commits × 20 environments × 50 images against
#                 git log --format=%B piped to a parser
#   bump          ferry bump against the git CLI (clone, edit, commit, push) on a 20,000-file
#                 config repo: wall time and peak RSS (scripts/bench-bump.sh)
#
#   scripts/bench.sh                   # every section (3–5 minutes on 2 cores)
#   scripts/bench.sh watch tags        # some sections
#   RUNS=3 scripts/bench.sh            # runs per command (default: per section, 3 to 21)
#   DOC=/tmp/b.md scripts/bench.sh     # write elsewhere
#
# Needs crane and kustomize in $FERRY_TOOLS_DIR (make tools) and GNU time at /usr/bin/time
# (Debian's `time`, installed here when missing and apt-get can), for peak RSS.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools=${FERRY_TOOLS_DIR:-$root/.tools/bin}
doc=${DOC:-$root/docs/benchmarks.md}
sections=("$@")
((${#sections[@]})) || sections=(tags newest-build set-image watch history bump)

for t in crane kustomize; do
	[[ -x $tools/$t ]] || { echo "bench: $t not found in $tools (make tools)" >&2; exit 1; }
done
if [[ ! -x /usr/bin/time ]]; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "bench: installing Debian's time for peak RSS" >&2
		apt-get install -y -q time >/dev/null
	else
		echo "bench: /usr/bin/time not found (apt-get install time)" >&2
		exit 1
	fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -s build >/dev/null
go build -o "$work/benchtool" ./internal/benchtool

# bump_section runs scripts/bench-bump.sh and writes its table as a markdown section.
bump_section() {
	local out=$1 table
	table=$(RUNS=${RUNS:-5} "$root/scripts/bench-bump.sh")
	{
		echo "## Git write-back: \`ferry bump\` against the git CLI on a 20,000-file config repo"
		echo
		echo "Reproduce: \`scripts/bench.sh bump\` (this section alone; \`RUNS=N\` for another run count), or \`make bench\` for every section."
		echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; commit \`$(git rev-parse --short HEAD)\`, $(go env GOVERSION). Medians of ${RUNS:-5} runs after a warm-up, commands interleaved; peak RSS from \`/usr/bin/time -f %M\`."
		echo
		echo "Each run bumps one image in a bare config repo of 20,003 files that serves partial clones (\`uploadpack.allowFilter\`, \`uploadpack.allowAnySHA1InWant\`, as GitHub, GitLab and Gitea do): \`ferry bump\` (the real binary: partial clone, verify, edit, commit, push), the git CLI doing the same (\`git clone --depth 1\`, \`sed\`, \`git commit -a\`, \`git push\`), and, for reference, the git CLI with a sparse checkout of the one directory, without and with a partial clone (\`--filter=blob:none\`). \`STOCK=1 scripts/bench-bump.sh\` measures a server that refuses filters (ferry then clones the whole tip)."
		echo
		echo '```text'
		echo "$table"
		echo '```'
	} >"$out"
}

for s in "${sections[@]}"; do
	echo "bench: $s" >&2
	start=$(date +%s)
	if [[ $s == bump ]]; then
		bump_section "$work/$s.md"
	else
		"$work/benchtool" "$s" -ferry bin/ferry -tools "$tools" ${RUNS:+-runs "$RUNS"} -out "$work/$s.md"
	fi
	"$work/benchtool" splice -doc "$doc" "$s=$work/$s.md"
	echo "bench: $s done in $(($(date +%s) - start)) s, written to ${doc#"$root"/}" >&2
done
