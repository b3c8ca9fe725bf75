#!/usr/bin/env bash
# The access monitor's cost against heap size: the access-pattern generator touches random pages
# of one buffer of 64 MiB, 1 GiB and 8 GiB (reads and writes, MODE=read|write|rw), under damon-prof with the monitor on and with
# --backend none, interleaved. Prints, per size, the monitor's measured cost (its CPU time plus the
# write faults it causes, as it records itself): the mean over the whole run (tuning included) and
# the mean of its last three measurements (settled); the intervals and region limit it settled
# on; and the program's wall-time ratio against --backend none.
#
#   bench/monitor_overhead.sh [BUILD_DIR]     (env: SIZES="64 1024 8192" SECONDS_PER_RUN=8 REPEAT=3
#                                                   OVERHEAD=2% MODE=rw BACKEND=auto)
set -euo pipefail
build_dir=${1:-build}
sizes=${SIZES:-64 1024 8192}
run_ms=$(( ${SECONDS_PER_RUN:-8} * 1000 ))
repeat=${REPEAT:-3}
overhead=${OVERHEAD:-2%}
mode=${MODE:-rw}
backend=${BACKEND:-auto}
damon_prof="$build_dir/bin/damon-prof"
generator="$build_dir/tests/programs/access_pattern"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

printf 'monitor cost by heap size: random page accesses (%s, 5%% of iterations), backend %s, %s s per run, %s runs, budget %s\n' \
  "$mode" "$backend" "$((run_ms / 1000))" "$repeat" "$overhead"
printf '%8s  %10s  %10s  %10s  %12s  %8s  %10s\n' "heap" "cost (run)" "(settled)" "sampling" \
  "aggregation" "regions" "wall ratio"
for size in $sizes; do
  : > "$work/on"; : > "$work/off"; : > "$work/cost"
  for i in $(seq "$repeat"); do
    rm -f "$work/on.dprof" "$work/off.dprof"
    seconds "$damon_prof" -q -o "$work/on.dprof" --backend "$backend" --overhead "$overhead" "$generator" 1 "$size" "$run_ms" "$mode" 0.05 >> "$work/on"
    seconds "$damon_prof" -q -o "$work/off.dprof" --backend none "$generator" 1 "$size" "$run_ms" "$mode" 0.05 >> "$work/off"
    "$damon_prof" report "$work/on.dprof" --view regions --format json --min-size 1TiB |
      python3 -c '
import json, sys
records = json.load(sys.stdin)["monitor"][1:]
def mean(rs): return sum(r["measured_overhead_ppm"] for r in rs) / max(1, len(rs)) / 10000
last = records[-1] if records else {"sampling_ns": 0, "aggregation_ns": 0, "max_regions": 0}
print(mean(records), mean(records[-3:]), last["sampling_ns"] / 1e6, last["aggregation_ns"] / 1e6,
      last["max_regions"])' >> "$work/cost"
  done
  cost=$(awk '{print $1}' "$work/cost" | median)
  settled=$(awk '{print $2}' "$work/cost" | median)
  sampling=$(awk '{print $3}' "$work/cost" | median)
  aggregation=$(awk '{print $4}' "$work/cost" | median)
  regions=$(awk '{print $5}' "$work/cost" | median)
  on=$(median < "$work/on"); off=$(median < "$work/off")
  printf '%6s MiB  %9.2f%%  %9.2f%%  %7.1f ms  %9.1f ms  %8s  %9.3fx\n' "$size" "$cost" "$settled" \
    "$sampling" "$aggregation" "$regions" "$(echo "$on / $off" | bc -l)"
done
