# Helpers shared by the benchmark scripts (sourced, not run).

# bench_median CMD...: runs CMD $BENCH_RUNS times (default 5) and prints the median wall time in
# seconds. The command's output goes to stderr.
bench_median() {
  local runs=${BENCH_RUNS:-5} times=() i start end
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s.%N)
    "$@" >&2
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}

# bench_ratio A B: A / B with 3 decimals.
bench_ratio() { echo "scale=3; $1 / $2" | bc -l; }

# bench_report KEY VALUE: the one output format of every benchmark.
bench_report() { printf 'BENCH %s %s\n' "$1" "$2"; }
