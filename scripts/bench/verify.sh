#!/usr/bin/env bash
# bench: recursive keyed verify of a 3-platform index (slipway verify --recursive --key)
#
# Builds a 3-platform image into an OCI layout, signs the index and its platform manifests with
# a fresh key (plus provenance attestations), then times `slipway verify --recursive --key` over
# the layout. Prints:
#   BENCH verify.recursive_seconds   median wall time of one verify run (target < 0.3 s)
#   BENCH verify.digests             digests verified per run
#   BENCH verify.layout_seconds      the same over the OCI layout
# The image is pushed (with its signatures and attestations) to a local Docker Distribution and
# verified there by reference. cosign is not installed here (it is not in the package
# registries this project can reach), so there is no peer figure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/bench/lib.sh"
profile=${SLIPWAY_BENCH_PROFILE:-release}
flag=(--release)
[ "$profile" = release ] || flag=()
(cd "$root" && cargo build -q "${flag[@]}" -p slipway-cli --bin slipway && cargo build -q "${flag[@]}" -p slipway-sign --example test-image) >&2
bin="$root/target/$profile"
work=$(mktemp -d)
trap 'bench_registry_stop "$work/reg"; rm -rf "$work"' EXIT
cd "$work"
"$bin/examples/test-image" .slipway/oci hello linux/amd64 linux/arm64 linux/arm/v7 >&2
export SLIPWAY_PASSWORD=bench
"$bin/slipway" -q sign generate-key-pair >/dev/null
"$bin/slipway" -q sign --key cosign.key --recursive --attest provenance hello >/dev/null
host=$(bench_registry "$work/reg")
"$bin/slipway" -q push --image hello --to "$host/bench/hello" --insecure-registry "$host" -t v1 >/dev/null
verify() { "$bin/slipway" -q --state "$work/verify-state.json" verify --recursive --key cosign.pub --attestation provenance --insecure-registry "$host" "$host/bench/hello:v1"; }
verify_layout() { "$bin/slipway" -q --state "$work/verify-state.json" verify --recursive --key cosign.pub --attestation provenance .slipway/oci:hello; }
digests=$(verify | grep -c '^verified')
bench_report verify.digests "$digests"
bench_report verify.recursive_seconds "$(bench_median verify)"
bench_report verify.layout_seconds "$(bench_median verify_layout)"
