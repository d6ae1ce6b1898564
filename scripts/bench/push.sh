#!/usr/bin/env bash
# bench: push and promote against a local registry, side by side with skopeo copy
#
# Builds a 50 MB single-layer image (random bytes, so compression does not shrink it) into an OCI
# layout, then against a local Docker Distribution:
#   BENCH push.slipway_seconds          median time of slipway push to a fresh repository
#   BENCH push.skopeo_seconds           median time of skopeo copy oci:… docker://… to a fresh
#                                       repository (skopeo's blob-info cache removed before each);
#                                       the two run interleaved, so drift hits both alike
#   BENCH push.speedup_vs_skopeo        skopeo / slipway (target >= 1.5)
#   BENCH push.registry_cpu_seconds     median CPU time the registry itself spends on one of
#                                       slipway's first pushes (what bounds both tools)
#   BENCH push.repush_speedup           median first push to a fresh repository / median re-push
#                                       of the unchanged image (target >= 10)
#   BENCH promote.same_registry_seconds promote within the registry (mounts; target <= 0.2)
#   BENCH push.1g_layer_peak_rss_mb     peak RSS pushing a 1 GiB layer (target <= 100)
# BENCH_RUNS (default 5) sets the number of runs; BENCH_BIG_MB (default 1024) the big layer.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/bench/lib.sh"
(cd "$root" && cargo build -q --release -p slipway-cli --bin slipway) >&2
slipway="$root/target/release/slipway"
work=$(mktemp -d)
trap 'bench_registry_stop "$work/reg"; rm -rf "$work"' EXIT
host=$(bench_registry "$work/reg")
cd "$work"
git init -q . && echo '.slipway/' >.gitignore

head -c $((50 * 1024 * 1024)) /dev/urandom >app-linux-amd64
"$slipway" -q build --name app --binary 'app-{os}-{arch}' --platform linux/amd64 >/dev/null
printf 'promote:\n  require:\n    scan: false\n    signature: false\n' >slipway.yaml

# bench_time CMD...: runs CMD once (in this shell, so its counters stick; output to stderr)
# and leaves its wall time in seconds in $last_time.
bench_time() {
  local start end
  start=$(date +%s.%N)
  "$@" >&2
  end=$(date +%s.%N)
  last_time=$(echo "$end - $start" | bc -l)
}
# bench_median_of T...: the median of the given times.
bench_median_of() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}

n=0
slipway_push() {
  n=$((n + 1))
  "$slipway" -q --state "$work/s-$n.json" push --to "$host/fresh-$n/app" --insecure-registry "$host" -t v1 >/dev/null
}
skopeo_push() {
  n=$((n + 1))
  rm -rf "$HOME/.local/share/containers/cache" /var/lib/containers/cache 2>/dev/null || true
  skopeo copy -q --dest-tls-verify=false oci:.slipway/oci:app "docker://$host/skopeo-$n/app:v1" >/dev/null
}
# Interleaved: slipway, skopeo, slipway, skopeo, ... (machine drift lands on both).
# The registry's own CPU time (user + system, from /proc) during each of slipway's pushes.
reg_pid=$(cat "$work/reg/pid")
reg_ticks() { awk '{print $14 + $15}' "/proc/$reg_pid/stat"; }
ticks=$(getconf CLK_TCK)
ours_times=()
theirs_times=()
reg_cpu=()
for ((i = 0; i < ${BENCH_RUNS:-5}; i++)); do
  t0=$(reg_ticks)
  bench_time slipway_push
  ours_times+=("$last_time")
  reg_cpu+=("$(echo "scale=3; ($(reg_ticks) - $t0) / $ticks" | bc -l)")
  bench_time skopeo_push
  theirs_times+=("$last_time")
done
ours=$(bench_median_of "${ours_times[@]}")
theirs=$(bench_median_of "${theirs_times[@]}")
bench_report push.slipway_seconds "$ours"
bench_report push.skopeo_seconds "$theirs"
bench_report push.speedup_vs_skopeo "$(bench_ratio "$theirs" "$ours")"
bench_report push.registry_cpu_seconds "$(bench_median_of "${reg_cpu[@]}")"

# Re-push: the same repository again and again, against the median first push (the fresh
# repositories above are exactly first pushes of this image).
"$slipway" -q push --to "$host/again/app" --insecure-registry "$host" -t v1 >/dev/null
repush() { "$slipway" -q push --to "$host/again/app" --insecure-registry "$host" -t v1 >/dev/null; }
again=$(bench_median repush)
bench_report push.repush_speedup "$(bench_ratio "$ours" "$again")"

m=0
promote() {
  m=$((m + 1))
  "$slipway" -q promote --target "$host/prod-$m/app" -t stable --insecure-registry "$host" >/dev/null
}
bench_report promote.same_registry_seconds "$(bench_median promote)"

# Peak memory with a big layer: streamed, never held whole.
big=${BENCH_BIG_MB:-1024}
mkdir big && cd big && git init -q . && echo '.slipway/' >.gitignore
head -c $((big * 1024 * 1024)) /dev/urandom >app-linux-amd64
"$slipway" -q build --name app --binary 'app-{os}-{arch}' --platform linux/amd64 --level 1 >/dev/null
bench_report push.1g_layer_peak_rss_mb "$(bench_peak_rss_mb "$slipway" -q push --to "$host/big/app" --insecure-registry "$host" -t v1)"
