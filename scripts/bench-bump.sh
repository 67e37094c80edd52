#!/usr/bin/env bash
# Whole-process timing and peak memory of one Git write-back on a big config repo (issue 4's
# benchmark):
#   ferry bump REPO:TAG --repo file://BARE          (clone shallow, verify, edit, commit, push)
# against the git CLI doing the same work by hand:
#   git clone --depth 1 file://BARE; sed -i …; git commit -a; git push
# (and, for reference, the same with a sparse checkout of envs/dev alone: git-sparse, and with a
# partial clone besides: git-partial, git clone --filter=blob:none --sparse)
# on a generated bare repo of FILES files (default 20,000) plus ferry.yaml, the key and
# envs/dev/deployment.yaml. The image is served by internal/benchtool (go-containerregistry's
# registry on loopback, signed cosign-2 style), so ferry's figure includes verifying the image;
# git's does not. Both remove their clone afterwards. Runs are interleaved round by round; each
# figure is the median of RUNS runs after one warm-up. Peak RSS is /usr/bin/time's "maximum
# resident set size": the largest single process of the command (git's own children included).
#
#   scripts/bench-bump.sh                 # RUNS=5 FILES=20000
#   RUNS=9 FILES=50000 scripts/bench-bump.sh
#   FERRY_ENV=GOGC=100 scripts/bench-bump.sh   # environment for the ferry runs only
#   STOCK=1 scripts/bench-bump.sh         # a server refusing filters: ferry clones whole
# By default the bare repo serves partial clones (uploadpack.allowFilter and
# allowAnySHA1InWant, as GitHub, GitLab and Gitea do), so ferry's clone is partial.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
FILES=${FILES:-20000}
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "$TIME not found: apt-get install -y time" >&2; exit 1; }

work=$(mktemp -d)
server=
cleanup() {
	exec 3>&- 2>/dev/null || true
	if [[ -n $server ]]; then wait "$server" || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

make -s -C "$root" build >/dev/null
go build -o "$work/benchtool" "$root/internal/benchtool"
ferry=$root/bin/ferry
[[ -n ${FERRY_ENV:-} ]] && ferry="env $FERRY_ENV $ferry"

# The registry runs while fd 3 holds its stdin open: one image under 1.0.0, 1.0.1, 1.0.2.
mkfifo "$work/stdin"
"$work/benchtool" -dir "$work" -tags 3 <"$work/stdin" >"$work/repo" 2>"$work/server.log" &
server=$!
exec 3>"$work/stdin"
for _ in $(seq 100); do [[ -s $work/repo ]] && break; sleep 0.1; done
repo=$(cat "$work/repo")
[[ -n $repo ]] || { echo "benchtool did not start" >&2; cat "$work/server.log" >&2; exit 1; }

# The config repo, written with git fast-import: FILES ConfigMaps of ~300 bytes, 100 per
# directory, plus what ferry needs.
bare=$work/config.git
git init -q --bare -b main "$bare"
{
	now=$(date +%s)
	printf 'commit refs/heads/main\ncommitter Bench <bench@example.test> %d +0000\ndata 5\nseed\n' "$now"
	blob() { printf 'M 100644 inline %s\ndata %d\n%s\n' "$1" "$(printf '%s' "$2" | wc -c)" "$2"; }
	blob ferry.yaml "images:
  - name: app
    repository: $repo
    policy:
      semver: \">=1.0.0\"
    verify:
      - key: keys/cosign.pub
environments:
  - name: dev
    path: envs/dev
    source: registry
    write: commit
git:
  branch: main
  author: ferry-bench <bench@example.test>
"
	blob keys/cosign.pub "$(cat "$work/cosign.pub")"
	blob envs/dev/deployment.yaml "apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
        - name: app
          image: $repo:1.0.0
"
	awk -v n="$FILES" 'BEGIN {
		pad = ""; for (k = 0; k < 5; k++) pad = pad "key: value # padding to make the file a realistic size\n"
		for (i = 0; i < n; i++) {
			c = sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n%s", i, pad)
			printf "M 100644 inline apps/app%03d/cm-%05d.yaml\ndata %d\n%s\n", int(i / 100), i, length(c), c
		}
	}'
} | git -C "$bare" fast-import --quiet
git -C "$bare" gc -q
if [[ -z ${STOCK:-} ]]; then
	git -C "$bare" config uploadpack.allowFilter true
	git -C "$bare" config uploadpack.allowAnySHA1InWant true
fi
echo "config repo: $(git -C "$bare" ls-tree -r main | wc -l) files, $(du -sh "$bare" | cut -f1) packed; image $repo; $RUNS runs each"

# One run of each. $1 is the tag to write (alternating, so that every run changes the file).
run_ferry() {
	$ferry bump "$repo:$1" --allow-downgrade --repo "file://$bare" --cache-dir "$work/cache" >/dev/null
}
run_git() {
	local d=$work/clone
	git clone -q --depth 1 -b main "file://$bare" "$d"
	sed -i "s|image: .*|image: $repo:$1|" "$d/envs/dev/deployment.yaml"
	git -C "$d" -c user.name=bench -c user.email=bench@example.test commit -qam "dev: app $1"
	git -C "$d" push -q origin main
	rm -rf "$d"
}
# The same with a sparse checkout of envs/dev only (an expert's git: what ferry's no-checkout
# write-back resembles).
run_git-sparse() {
	local d=$work/clone
	git clone -q --depth 1 --sparse -b main "file://$bare" "$d"
	git -C "$d" sparse-checkout set envs/dev
	sed -i "s|image: .*|image: $repo:$1|" "$d/envs/dev/deployment.yaml"
	git -C "$d" -c user.name=bench -c user.email=bench@example.test commit -qam "dev: app $1"
	git -C "$d" push -q origin main
	rm -rf "$d"
}
# The same with a partial clone too (blobs fetched only for envs/dev); needs the server's leave.
run_git-partial() {
	local d=$work/clone
	git clone -q --depth 1 --filter=blob:none --sparse -b main "file://$bare" "$d"
	git -C "$d" sparse-checkout set envs/dev
	sed -i "s|image: .*|image: $repo:$1|" "$d/envs/dev/deployment.yaml"
	git -C "$d" -c user.name=bench -c user.email=bench@example.test commit -qam "dev: app $1"
	git -C "$d" push -q origin main
	rm -rf "$d"
}
export -f run_ferry run_git run_git-sparse run_git-partial
export ferry repo bare work

names=(ferry git git-sparse)
[[ -z ${STOCK:-} ]] && names+=(git-partial)
declare -A times rss
tag=1
for ((r = 0; r <= RUNS; r++)); do
	for i in "${!names[@]}"; do
		tag=$((3 - tag)) # 1.0.1, 1.0.2, 1.0.1, …
		before=$(git -C "$bare" rev-parse main)
		start=$(date +%s%N)
		$TIME -f '%M' -o "$work/rss" bash -c "run_${names[$i]} 1.0.$tag"
		end=$(date +%s%N)
		after=$(git -C "$bare" rev-parse main)
		[[ $before != "$after" ]] || { echo "${names[$i]} run $r pushed nothing" >&2; exit 1; }
		((r == 0)) && continue # warm-up
		times[$i]+="$(((end - start) / 1000)) "
		rss[$i]+="$(tail -1 "$work/rss") "
	done
done
git -C "$bare" fsck --strict --no-dangling >/dev/null
[[ -z $(git -C "$bare" rev-list --merges main) ]] || { echo "history is not linear" >&2; exit 1; }

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med medrss
printf '%-10s %10s %10s %10s %14s %14s\n' run median_ms min_ms max_ms median_rss_MiB max_rss_MiB
for i in "${!names[@]}"; do
	med[$i]=$(echo "${times[$i]}" | median)
	medrss[$i]=$(echo "${rss[$i]}" | median)
	min=$(echo "${times[$i]}" | tr ' ' '\n' | grep . | sort -n | head -1)
	max=$(echo "${times[$i]}" | tr ' ' '\n' | grep . | sort -n | tail -1)
	maxrss=$(echo "${rss[$i]}" | tr ' ' '\n' | grep . | sort -n | tail -1)
	awk -v n="${names[$i]}" -v m="${med[$i]}" -v lo="$min" -v hi="$max" -v r="${medrss[$i]}" -v rm="$maxrss" \
		'BEGIN {printf "%-6s %10.1f %10.1f %10.1f %14.1f %14.1f\n", n, m/1000, lo/1000, hi/1000, r/1024, rm/1024}'
done
awk -v f="${med[0]}" -v g="${med[1]}" -v s="${med[2]}" -v p="${med[3]:-0}" -v r="${medrss[0]}" -v server="${STOCK:+stock git server, whole clone}" 'BEGIN {
	if (server == "") server = "server allows partial clones"
	printf "%s: ratio ferry/git %.2fx (target <= 1.0x), ferry/git-sparse %.2fx", server, f/g, f/s
	if (p > 0) printf ", ferry/git-partial %.2fx", f/p
	printf "; ferry peak RSS %.1f MiB (target < 150 MiB; issue 14: < 60 MiB, %s)\n", r/1024, (r/1024 < 60 ? "met" : "missed") }'
