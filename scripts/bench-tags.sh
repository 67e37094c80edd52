#!/usr/bin/env bash
# Whole-process timing of tag selection against listing alone (issue 3's benchmark):
#   ferry tags REPO --semver '>=1.0.0' --key cosign.pub   (list 5,001 tags, rank, HEAD and verify the winner)
# against
#   crane ls REPO                                          (list the same tags)
# on go-containerregistry's registry on loopback (internal/benchtool), process start included.
# Runs are interleaved round by round so that load on a shared machine hits every command alike;
# each figure is the median of RUNS runs after one warm-up.
#
#   scripts/bench-tags.sh                    # RUNS=11 TAGS=5000 LISTING=link
#   RUNS=21 LISTING=registry scripts/bench-tags.sh
#   FERRY_ENV=GOGC=400 scripts/bench-tags.sh  # environment for the ferry runs only
#
# LISTING=link pages tag lists by 1,000 with a Link header (distribution, Docker Hub), so crane
# and ferry both see every tag; LISTING=registry is go-containerregistry's own paging (full pages,
# no Link), where crane ls silently stops after 1,000 tags and ferry keeps asking.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-11}
TAGS=${TAGS:-5000}
LISTING=${LISTING:-link}
CRANE=${CRANE:-${FERRY_TOOLS_DIR:-$root/.tools/bin}/crane}
[[ -x $CRANE ]] || { echo "crane not found at $CRANE (make tools, or set CRANE)" >&2; exit 1; }

work=$(mktemp -d)
server=
cleanup() {
	exec 3>&-
	if [[ -n $server ]]; then wait "$server" || true; fi
	[[ -s $work/server.log ]] && sed 's/^/server: /' "$work/server.log" >&2
	rm -rf "$work"
}
trap cleanup EXIT

make -s -C "$root" build >/dev/null
go build -o "$work/benchtool" "$root/internal/benchtool"
ferry=$root/bin/ferry
[[ -n ${FERRY_ENV:-} ]] && ferry="env $FERRY_ENV $ferry"

# The server runs while fd 3 holds its stdin open.
mkfifo "$work/stdin"
"$work/benchtool" -dir "$work" -tags "$TAGS" -listing "$LISTING" <"$work/stdin" >"$work/repo" 2>"$work/server.log" &
server=$!
exec 3>"$work/stdin"
for _ in $(seq 100); do [[ -s $work/repo ]] && break; sleep 0.1; done
repo=$(cat "$work/repo")
[[ -n $repo ]] || { echo "benchtool did not start" >&2; exit 1; }

names=(list select select-verify crane-start ferry-start)
cmds=(
	"$CRANE ls $repo"
	"$ferry tags $repo --semver >=1.0.0 --cache-dir $work/cache"
	"$ferry tags $repo --semver >=1.0.0 --key $work/cosign.pub --cache-dir $work/cache"
	"$CRANE version"
	"$ferry version"
)

# Check once that each command works and says what it should.
echo "repository $repo, $TAGS tags, listing $LISTING, $RUNS runs each"
echo "crane ls lists $($CRANE ls "$repo" | wc -l) tags"
$ferry tags "$repo" --semver '>=1.0.0' --key "$work/cosign.pub" --cache-dir "$work/cache" >"$work/out"
head -1 "$work/out"

declare -A times
for ((r = 0; r <= RUNS; r++)); do
	for i in "${!cmds[@]}"; do
		start=$(date +%s%N)
		${cmds[$i]} >/dev/null
		end=$(date +%s%N)
		((r == 0)) && continue # warm-up
		times[$i]+="$(((end - start) / 1000)) "
	done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med
printf '%-14s %10s %10s %10s  %s\n' command median_ms min_ms max_ms "command line"
for i in "${!cmds[@]}"; do
	med[$i]=$(echo "${times[$i]}" | median)
	min=$(echo "${times[$i]}" | tr ' ' '\n' | grep . | sort -n | head -1)
	max=$(echo "${times[$i]}" | tr ' ' '\n' | grep . | sort -n | tail -1)
	awk -v n="${names[$i]}" -v m="${med[$i]}" -v lo="$min" -v hi="$max" -v c="${cmds[$i]//$work/\$W}" \
		'BEGIN {printf "%-14s %10.1f %10.1f %10.1f  %s\n", n, m/1000, lo/1000, hi/1000, c}'
done
awk -v l="${med[0]}" -v s="${med[1]}" -v v="${med[2]}" 'BEGIN {
	printf "ratio select/list %.2fx, select-verify/list %.2fx (target 1.3x)\n", s/l, v/l }'
