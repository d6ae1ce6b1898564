#!/usr/bin/env bash
# Benchmarks, run side by side with their peers in one run and reported as ratios:
#   scripts/bench.sh NAME      runs scripts/bench/NAME.sh
#   scripts/bench.sh --list    lists the benchmarks
# Each benchmark prints its figures as lines `BENCH <key> <value>` on stdout (logs on stderr).
# Benchmarks are not part of CI; they install their own peers (see each script).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="$root/scripts/bench"

list() {
  local found=0
  for f in "$dir"/*.sh; do
    [ -e "$f" ] || continue
    [ "$(basename "$f")" = lib.sh ] && continue
    found=1
    printf '  %-10s %s\n' "$(basename "$f" .sh)" "$(sed -n 's/^# bench: //p' "$f" | head -n 1)"
  done
  [ "$found" = 1 ] || echo "  (none yet)"
}

case "${1:-}" in
  "" | -h | --help | --list)
    echo "usage: scripts/bench.sh NAME"
    echo "benchmarks:"
    list
    [ -n "${1:-}" ] && exit 0 || exit 2
    ;;
esac
name=$1
shift
script="$dir/$name.sh"
if [ ! -f "$script" ]; then
  echo "bench: no benchmark named '$name'" >&2
  echo "benchmarks:" >&2
  list >&2
  exit 2
fi
exec bash "$script" "$@"
