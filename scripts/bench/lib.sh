# Helpers shared by the benchmark scripts (sourced, not run).

# bench_median CMD...: runs CMD $BENCH_RUNS times (default 5) and prints the median wall time in
# seconds. The command's output goes to stderr.
bench_median() {
  local runs=${BENCH_RUNS:-5} times=() i start end
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s.%N)
    if ! "$@" >&2; then
      echo "bench: failed: $*" >&2
      return 1
    fi
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}

# bench_ratio A B: A / B with 3 decimals.
bench_ratio() { echo "scale=3; $1 / $2" | bc -l; }

# bench_report KEY VALUE: the one output format of every benchmark.
bench_report() { printf 'BENCH %s %s\n' "$1" "$2"; }

# bench_free_port: a free TCP port on 127.0.0.1.
bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_registry DIR: starts Docker Distribution (plain HTTP, storage in DIR) on a free
# 127.0.0.1 port, waits until it answers, and prints its host:port. Stop it with
# `bench_registry_stop DIR` (the caller's EXIT trap).
bench_registry() {
  local dir=$1 port
  port=$(bench_free_port)
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<CFG
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CFG
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "127.0.0.1:$port"
}

bench_registry_stop() {
  [ -f "$1/pid" ] && kill "$(cat "$1/pid")" 2>/dev/null || true
}

# bench_peak_rss_mb CMD...: runs CMD once and prints its peak resident set size in MB.
bench_peak_rss_mb() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=sys.stderr)
print(round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1))
PY
}
