#!/usr/bin/env bash
# What an unsampled allocation costs, on bench/malloc_loop (one thread, malloc/free pairs):
# natively, natively with one idle extra thread (what the process loses by not being
# single-threaded any more), and under damon-prof sampled (--sample-rate 512KiB) without and
# with the access monitor. Interleaved runs; prints the median user+system CPU time of each and
# its ratio to native.
#
#   bench/per_call_cost.sh [BUILD_DIR]     (env: REPEAT=9 PAIRS=20000000)
set -euo pipefail
build_dir=${1:-build}
repeat=${REPEAT:-9}
pairs=${PAIRS:-20000000}
damon_prof="$build_dir/bin/damon-prof"
loop="$build_dir/bin/malloc_loop"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cpu_seconds() {  # user+system seconds of the command, its output discarded
  /usr/bin/time -f '%U %S' -o "$work/time" "$@" >/dev/null 2>&1
  awk '{print $1 + $2}' "$work/time"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

modes=(native idle-thread sampled sampled+monitor)
for mode in "${modes[@]}"; do : > "$work/$mode"; done
for i in $(seq "$repeat"); do
  cpu_seconds "$loop" "$pairs" >> "$work/native"
  cpu_seconds "$loop" "$pairs" idle-thread >> "$work/idle-thread"
  rm -f "$work"/*.dprof
  cpu_seconds "$damon_prof" -q --no-follow -o "$work/s.dprof" --backend none --sample-rate 512KiB \
    "$loop" "$pairs" >> "$work/sampled"
  cpu_seconds "$damon_prof" -q --no-follow -o "$work/m.dprof" --sample-rate 512KiB \
    "$loop" "$pairs" >> "$work/sampled+monitor"
done
native=$(median < "$work/native")
printf 'malloc_loop, %s malloc/free pairs, median CPU time of %s interleaved runs\n' "$pairs" "$repeat"
for mode in "${modes[@]}"; do
  value=$(median < "$work/$mode")
  printf '%-16s %6.3f s  %5.2fx  %5.1f ns per pair over native\n' "$mode" "$value" \
    "$(echo "$value / $native" | bc -l)" "$(echo "($value - $native) * 1000000000 / $pairs" | bc -l)"
done
