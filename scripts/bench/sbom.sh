#!/usr/bin/env bash
# bench: native SBOM of the example image vs `trivy image --format cyclonedx` on the same layout
#
# Builds examples/hello-go (three platforms) into an OCI layout, then times, side by side:
#   slipway  `slipway scan-sbom --sbom-only --sbom-format cyclonedx` (all three platforms)
#   trivy    `trivy image --input LAYOUT@MANIFEST --format cyclonedx` for each platform's manifest
#            (trivy ignores --platform for a layout and would analyse the first image three times),
#            each run with an empty cache directory so it analyses the layers (as slipway does)
# Prints:
#   BENCH sbom.slipway_seconds       median wall time of one slipway run (3 platforms)
#   BENCH sbom.trivy_seconds         median wall time of trivy over the same 3 platforms
#   BENCH sbom.speedup_vs_trivy      trivy / slipway (target >= 10)
#   BENCH sbom.go_modules            Go modules in slipway's SBOM of linux/amd64 (sanity)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/bench/lib.sh"
"$root/scripts/test-deps.sh" >&2
profile=${SLIPWAY_BENCH_PROFILE:-release}
flag=(--release)
[ "$profile" = release ] || flag=()
(cd "$root" && cargo build -q "${flag[@]}" -p slipway-cli --bin slipway) >&2
slipway="$root/target/$profile/slipway"
trivy="$root/.test-tools/bin/trivy"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/examples/hello-go" "$root/examples/go-modules" "$root/examples/goproxy.sh" "$work/"
cd "$work/hello-go"
GOPROXY=$("$work/goproxy.sh" "$work/goproxy")
export GOPROXY GOSUMDB=off GOFLAGS=-mod=mod SOURCE_DATE_EPOCH=1700000000
"$slipway" -q build >&2

ours() { "$slipway" -q scan-sbom --sbom-only --sbom-format cyclonedx >/dev/null; }
manifests=$(jq -r '.images.hello.platforms[].manifest.digest' .slipway/state.json)
theirs() {
  local cache m
  for m in $manifests; do
    cache=$(mktemp -d "$work/trivy-cache.XXXXXX")
    TRIVY_CACHE_DIR=$cache "$trivy" image -q --input ".slipway/oci@$m" --format cyclonedx >/dev/null
    rm -rf "$cache"
  done
}
ours
modules=$(jq '[.components[] | select(.purl // "" | startswith("pkg:golang/"))] | length' .slipway/sbom/hello-linux-amd64.cdx.json)
t_ours=$(bench_median ours)
t_trivy=$(bench_median theirs)
bench_report sbom.slipway_seconds "$t_ours"
bench_report sbom.trivy_seconds "$t_trivy"
bench_report sbom.speedup_vs_trivy "$(bench_ratio "$t_trivy" "$t_ours")"
bench_report sbom.go_modules "$modules"
