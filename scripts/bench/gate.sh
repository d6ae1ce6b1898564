#!/usr/bin/env bash
# bench: the scan gate on a ~100 MB Trivy report built by repeating real findings
#
# Takes the findings of real Trivy reports (../shared/vectors via the fixtures of slipway-scan)
# and repeats them, each copy with its own package name, into one ~100 MB SchemaVersion 2
# report (BENCH_GATE_MB to change the size). Then times `slipway scan-sbom --report` (parse,
# policy, verdict into the state; it exits 1 because critical findings block) and, for scale,
# jq counting the critical findings of the same file. Prints:
#   BENCH gate.report_mb          report size
#   BENCH gate.findings           findings in it
#   BENCH gate.seconds            median wall time of the gate
#   BENCH gate.mb_per_s           report size / that time (target >= 200)
#   BENCH gate.peak_rss_mb        peak RSS of one gate run
#   BENCH gate.peak_rss_ratio     peak RSS / report size (target <= 3)
#   BENCH gate.speedup_vs_jq      jq's time / slipway's
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/bench/lib.sh"
profile=${SLIPWAY_BENCH_PROFILE:-release}
flag=(--release)
[ "$profile" = release ] || flag=()
(cd "$root" && cargo build -q "${flag[@]}" -p slipway-cli --bin slipway) >&2
slipway="$root/target/$profile/slipway"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mb=${BENCH_GATE_MB:-100}
digest=sha256:$(printf bench | sha256sum | cut -d' ' -f1)
python3 - "$root/crates/slipway-scan/tests/fixtures/trivy" "$work/report.json" "$mb" "$digest" <<'PY'
import json, os, sys
src, out, mb, digest = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
vulns = []
for name in sorted(os.listdir(src)):
    try:
        d = json.load(open(os.path.join(src, name)))
    except Exception:
        continue
    if not isinstance(d, dict):
        continue
    for r in d.get("Results") or []:
        vulns.extend(r.get("Vulnerabilities") or [])
assert vulns, "no findings in the fixtures"
with open(out, "w") as f:
    # The report names the image it is about (as Trivy's do), so the gate takes it for that digest.
    f.write('{"SchemaVersion":2,"ArtifactName":"bench","ArtifactType":"container_image",'
            '"Metadata":{"RepoDigests":["bench@' + digest + '"]},"Results":[')
    size, copy, first = 0, 0, True
    while size < mb * 1024 * 1024:
        chunk = []
        for v in vulns:
            v = dict(v)
            v["PkgName"] = f'{v.get("PkgName", "pkg")}-{copy}'
            chunk.append(v)
        text = json.dumps({"Target": f"layer-{copy}", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": chunk})
        f.write(("" if first else ",") + text)
        first = False
        size += len(text)
        copy += 1
    f.write("]}")
PY
size_mb=$(python3 -c "import os,sys; print(round(os.path.getsize(sys.argv[1]) / 1048576, 1))" "$work/report.json")
findings=$(jq '[.Results[].Vulnerabilities[]] | length' "$work/report.json")
cd "$work"
gate() {
  rm -f "$work/state.json"
  "$slipway" -q --state "$work/state.json" scan-sbom --digest "$digest" --report report.json \
    --sbom-format none --severity critical >/dev/null 2>&1 || [ $? -eq 1 ]
}
jq_count() { jq '[.Results[].Vulnerabilities[] | select(.Severity == "CRITICAL")] | length' report.json >/dev/null; }
gate
t=$(bench_median gate)
t_jq=$(BENCH_RUNS=3 bench_median jq_count)
rss=$(bench_peak_rss_mb bash -c "$(declare -f gate); work=$work slipway=$slipway digest=$digest gate")
bench_report gate.report_mb "$size_mb"
bench_report gate.findings "$findings"
bench_report gate.seconds "$t"
bench_report gate.mb_per_s "$(bench_ratio "$size_mb" "$t")"
bench_report gate.peak_rss_mb "$rss"
bench_report gate.peak_rss_ratio "$(bench_ratio "$rss" "$size_mb")"
bench_report gate.speedup_vs_jq "$(bench_ratio "$t_jq" "$t")"
