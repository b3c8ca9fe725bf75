#!/usr/bin/env bash
# Side-by-side cost of allocation profiling on bench/alloc_heavy: native, damon-prof and heaptrack,
# each run REPEAT times interleaved (so machine noise hits all three alike); prints median wall
# times, the slowdown ratios against native, and trace bytes per allocation event.
#
#   bench/run_alloc_bench.sh [BUILD_DIR]     (env: THREADS=8 ROUNDS=100000 REPEAT=5)
set -euo pipefail
build_dir=${1:-build}
threads=${THREADS:-8}
rounds=${ROUNDS:-100000}
repeat=${REPEAT:-5}
program="$build_dir/bin/alloc_heavy"
damon_prof="$build_dir/bin/damon-prof"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

have_heaptrack=1
command -v heaptrack >/dev/null || have_heaptrack=0

seconds() {  # runs "$@" and prints its wall time in seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

: > "$work/native"; : > "$work/damon"; : > "$work/heaptrack"
for i in $(seq "$repeat"); do
  seconds "$program" "$threads" "$rounds" >> "$work/native"
  rm -f "$work/run.dprof"
  seconds "$damon_prof" -q -o "$work/run.dprof" "$program" "$threads" "$rounds" >> "$work/damon"
  if [[ $have_heaptrack == 1 ]]; then
    rm -f "$work"/ht.*
    seconds heaptrack -o "$work/ht" "$program" "$threads" "$rounds" >> "$work/heaptrack"
  fi
done

native=$(median < "$work/native")
damon=$(median < "$work/damon")
events=$("$damon_prof" report "$work/run.dprof" --format json --top 1 |
         python3 -c 'import json,sys; s=json.load(sys.stdin)["summary"]; print(s["total_alloc_count"] + s["free_count"])')
dprof_bytes=$(stat -c %s "$work/run.dprof")

printf 'alloc_heavy: %s threads x %s rounds, %s runs each, medians\n' "$threads" "$rounds" "$repeat"
printf '  native       %8.3f s\n' "$native"
printf '  damon-prof   %8.3f s   slowdown %6.2fx\n' "$damon" "$(echo "$damon / $native" | bc -l)"
if [[ $have_heaptrack == 1 ]]; then
  heap=$(median < "$work/heaptrack")
  ht_file=$(ls "$work"/ht.* | head -1)
  ht_bytes=$(stat -c %s "$ht_file")
  printf '  heaptrack    %8.3f s   slowdown %6.2fx\n' "$heap" "$(echo "$heap / $native" | bc -l)"
  printf '  damon-prof overhead / heaptrack overhead: %.3f  (target <= 0.5)\n' \
    "$(echo "($damon - $native) / ($heap - $native)" | bc -l)"
  printf '  trace size: damon-prof %s bytes, heaptrack %s bytes\n' "$dprof_bytes" "$ht_bytes"
fi
printf '  damon-prof trace: %s events, %.2f bytes per event\n' "$events" "$(echo "$dprof_bytes / $events" | bc -l)"
