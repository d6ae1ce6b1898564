#!/usr/bin/env bash
# The main job: the whole Slipway pipeline on an example, on embedded defaults.
#
#   scripts/demo.sh            examples/hello-go (examples/hello-rust when Go is absent)
#   scripts/demo.sh --rust     examples/hello-rust
#
# build (OCI layout on disk) → scan-sbom (native SPDX + CycloneDX SBOMs per platform, Trivy run
# on the layout, the policy gate) → sign (a generated key; SBOM and provenance attestations)
# → push (a local Docker Distribution this script starts on 127.0.0.1) → verify → promote
# (to a production repository of that registry) — then a summary. Everything happens in a temp
# directory; the registry is stopped at the end. Installs what it needs, idempotently: the
# tools of scripts/test-deps.sh (Docker Distribution, Go, Trivy, ...) and the binaries. They are
# built with the dev profile the tests use (dependencies at opt-level 1, no LTO): on a fresh
# clone that is much quicker than the release profile's thin LTO, and scripts/test.sh reuses
# it. SLIPWAY_DEMO_PROFILE=release builds (and runs) the release binaries instead.
# Trivy's vulnerability database needs the internet; offline (as here) the gate runs Trivy's
# secret scanner, which needs no database (SLIPWAY_DEMO_SCANNERS=vuln,secret when online).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

example=hello-go
[ "${1:-}" = --rust ] && example=hello-rust

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

say "setup"
"$root/scripts/test-deps.sh" >&2
if [ "$example" = hello-go ] && ! command -v go >/dev/null; then
  example=hello-rust
fi
profile=${SLIPWAY_DEMO_PROFILE:-dev}
case "$profile" in
  dev | test) out=debug ;;
  *) out=$profile ;;
esac
(cd "$root" && cargo build -q --profile "$profile" -p slipway-cli --bins) >&2
export PATH="$root/target/$out:$root/.test-tools/bin:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-demo.XXXXXX")
reg_pid=
cleanup() {
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null || true
  [ -n "${SLIPWAY_DEMO_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# A local registry on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host="127.0.0.1:$port"
mkdir -p "$work/registry"
cat >"$work/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry/data
http:
  addr: $host
EOF
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fsS "http://$host/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

# The example as a project of its own (a git repository, so runs carry a commit).
cp -r "$root/examples/$example" "$work/app"
[ "$example" = hello-go ] && cp -r "$root/examples/go-modules" "$work/go-modules" && cp "$root/examples/goproxy.sh" "$work/"
cd "$work/app"
git init -q . && git add -A && git -c user.name=demo -c user.email=demo@example.invalid commit -qm demo
printf '.slipway/\ncosign.key\n' >.gitignore
if [ "$example" = hello-go ]; then
  GOPROXY=$("$work/goproxy.sh")
  export GOPROXY GOSUMDB=off GOFLAGS=-mod=mod
fi
# The key's password: generated, exported for the steps, never printed.
SLIPWAY_PASSWORD=$(head -c 24 /dev/urandom | base64)
export SLIPWAY_PASSWORD

say "build ($example)"
slipway build
say "scan-sbom (native SBOMs; Trivy on the layout, policy gate: fail at critical)"
slipway scan-sbom --scanner trivy --scanners "${SLIPWAY_DEMO_SCANNERS:-secret}" --severity critical
say "sign (generated key)"
slipway sign generate-key-pair >/dev/null
slipway sign --key cosign.key --recursive
say "push ($host)"
slipway push --to "$host/staging/hello" --insecure-registry "$host" -t demo
say "verify (in the registry)"
slipway verify --key cosign.pub --recursive --insecure-registry "$host" "$host/staging/hello:demo"
say "promote"
slipway promote --target "$host/prod/hello" -t stable --insecure-registry "$host"

say "summary"
digest=$(slipway state get pushes.-1.digest)
{
  echo "image     $host/prod/hello:stable"
  echo "digest    $digest"
  echo "sbom      $(slipway state get sboms.0.path) (+ $(( $(slipway state get sboms --output-format json | jq length) - 1 )) more, SPDX 2.3 and CycloneDX 1.6)"
  echo "scan      $(slipway state get scans.-1.scanner): $(slipway state get scans.-1.verdict)"
  echo "signature $(slipway state get verifications.-1.method) verified=$(slipway state get verifications.-1.verified)"
  echo "promoted  $(slipway state get promotions.-1.targets.0.repository):$(slipway state get promotions.-1.targets.0.tags.0.tag)"
} | tee "$work/summary.txt"
