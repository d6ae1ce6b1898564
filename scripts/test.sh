#!/usr/bin/env bash
# Slipway's test command (what CI runs): installs every tool the tests use, then checks
# formatting, lints and generated files, and runs the whole test suite against real components.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/test-deps.sh

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "generated files are current (cargo xtask gen --check)"
cargo xtask gen --check

step "clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
