#!/usr/bin/env bash
# Shows that the analyzer streams: records bench/churn until the trace reaches TARGET_MIB (1 GiB
# by default) and a trace 1/16 that size, analyzes both, and prints each one's analysis time and
# the analyzer's peak resident memory. The peak must not grow with the trace: the analyzer holds
# the live allocations, the stacks and bounded summaries, never the events.
#
#   bench/large_trace.sh [BUILD_DIR]     (env: TARGET_MIB=1024 THREADS=2 KEEP=0)
# Needs about TARGET_MIB * 1.1 of free disk in $TMPDIR; set KEEP=1 to keep the traces.
set -euo pipefail
build_dir=${1:-build}
target_mib=${TARGET_MIB:-1024}
threads=${THREADS:-2}
program="$build_dir/bin/churn"
damon_prof="$build_dir/bin/damon-prof"
for needed in "$program" "$damon_prof" /usr/bin/time; do
  [[ -x $needed ]] || { echo "large_trace: $needed is missing (build first; /usr/bin/time is in Debian's 'time')" >&2; exit 1; }
done
work=$(mktemp -d)
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$work"' EXIT

# Trace bytes per churn event, from a short calibration run.
calibration_events=1000000
"$damon_prof" -q -o "$work/calibration.dprof" "$program" "$threads" "$calibration_events" >/dev/null
calibration_bytes=$(stat -c %s "$work/calibration.dprof")
bytes_per_event=$(echo "$calibration_bytes / ($threads * $calibration_events)" | bc -l)

record() {  # record NAME MIB
  local events_per_thread
  events_per_thread=$(echo "$2 * 1048576 / $bytes_per_event / $threads" | bc)
  local start end
  start=$(date +%s.%N)
  "$damon_prof" -q -o "$work/$1.dprof" "$program" "$threads" "$events_per_thread" >/dev/null
  end=$(date +%s.%N)
  printf '  recorded %-6s %8.1f MiB, %s events, in %.1f s\n' "$1" \
    "$(echo "$(stat -c %s "$work/$1.dprof") / 1048576" | bc -l)" \
    "$((events_per_thread * threads))" "$(echo "$end - $start" | bc -l)"
}

analyze() {  # analyze NAME: prints analysis seconds and peak RSS
  /usr/bin/time -f '%e %M' -o "$work/$1.time" "$damon_prof" report "$work/$1.dprof" \
    --format json > "$work/$1.json"
  read -r seconds peak_kib < "$work/$1.time"
  local mib
  mib=$(echo "$(stat -c %s "$work/$1.dprof") / 1048576" | bc -l)
  printf '  analyzed %-6s %8.1f MiB trace in %6.1f s (%5.1f MiB/s), analyzer peak RSS %6.1f MiB (%.3f of the trace)\n' \
    "$1" "$mib" "$seconds" "$(echo "$mib / $seconds" | bc -l)" "$(echo "$peak_kib / 1024" | bc -l)" \
    "$(echo "$peak_kib / 1024 / $mib" | bc -l)"
  echo "$peak_kib" > "$work/$1.peak"
}

small_mib=$((target_mib / 16))
printf 'large_trace: churn, %s threads, %.2f trace bytes per event (calibrated)\n' "$threads" "$bytes_per_event"
record small "$small_mib"
record large "$target_mib"
analyze small
analyze large
python3 - "$work/large.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
info, summary = report["trace_info"], report["summary"]
print("  large trace: %d events in %d frames (%d allocation calls, %d frees), complete: %s, %d warnings" % (
    info["events"], info["frames"], summary["total_alloc_count"], summary["free_count"],
    info["complete"], len(report["warnings"])))
PY
small_peak=$(cat "$work/small.peak")
large_peak=$(cat "$work/large.peak")
printf '  peak RSS large / small: %.2f for a 16x longer trace (streaming: about 1)\n' \
  "$(echo "$large_peak / $small_peak" | bc -l)"
