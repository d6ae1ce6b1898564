# bench: single-layer image from a ~50 MB ELF binary, vs umoci insert and buildah bud
# Prints BENCH build.gzip.speedup_vs_umoci, build.gzip.size_ratio_vs_umoci,
#        BENCH build.zstd.speedup_vs_umoci, build.gzip.speedup_vs_buildah
# Ratios of medians over BENCH_RUNS (default 5) runs made side by side in this one run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root/scripts/bench/lib.sh"

need=()
for t in umoci buildah bc; do command -v "$t" >/dev/null || need+=("$t"); done
if ((${#need[@]})); then
  echo "bench: installing ${need[*]}" >&2
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "bench: building slipway (release)" >&2
cargo build --release -q -p slipway-cli --manifest-path "$root/Cargo.toml"
slipway="$root/target/release/slipway-build"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A real ELF program of ~50 MB: slipway's own release binaries concatenated (the first one's
# header makes it an ELF file; the rest is real machine code and data, as compressible as any).
big="$work/ctx/big"
mkdir -p "$work/ctx"
: > "$big"
while [ "$(stat -c %s "$big")" -lt $((50 * 1024 * 1024)) ]; do
  cat "$root"/target/release/slipway "$root"/target/release/slipway-build >> "$big"
done
truncate -s $((50 * 1024 * 1024)) "$big"
echo "bench: input $(stat -c %s "$big") bytes ($(file -b "$big" | cut -d, -f1))" >&2

slipway_run() { # compression
  rm -rf "$work/s"
  SOURCE_DATE_EPOCH=0 "$slipway" -q --state "$work/s/state.json" --layout "$work/s/oci" \
    --name bench --binary "$big" --compression "$1"
}
umoci_run() {
  rm -rf "$work/u"
  umoci init --layout "$work/u" && umoci new --image "$work/u:bench" && umoci insert --image "$work/u:bench" "$big" /usr/local/bin/big
}
buildah_run() {
  buildah --storage-driver vfs rmi -f bench >/dev/null 2>&1 || true
  buildah --storage-driver vfs bud --quiet --isolation chroot --timestamp 0 -f "$work/ctx/Containerfile" -t bench "$work/ctx"
}
printf 'FROM scratch\nCOPY big /usr/local/bin/big\n' > "$work/ctx/Containerfile"

t_gzip=$(bench_median slipway_run gzip)
gzip_size=$(ls -l "$work"/s/oci/blobs/sha256 | sort -k5 -n | tail -1 | awk '{print $5}')
t_zstd=$(bench_median slipway_run zstd)
t_umoci=$(bench_median umoci_run)
umoci_size=$(ls -l "$work"/u/blobs/sha256 | sort -k5 -n | tail -1 | awk '{print $5}')
t_buildah=$(bench_median buildah_run)
echo "bench: medians slipway gzip ${t_gzip}s zstd ${t_zstd}s, umoci ${t_umoci}s, buildah ${t_buildah}s; layers slipway ${gzip_size} B, umoci ${umoci_size} B" >&2

bench_report build.gzip.speedup_vs_umoci "$(bench_ratio "$t_umoci" "$t_gzip")"
bench_report build.gzip.size_ratio_vs_umoci "$(bench_ratio "$gzip_size" "$umoci_size")"
bench_report build.zstd.speedup_vs_umoci "$(bench_ratio "$t_umoci" "$t_zstd")"
bench_report build.gzip.speedup_vs_buildah "$(bench_ratio "$t_buildah" "$t_gzip")"
