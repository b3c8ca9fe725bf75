#!/usr/bin/env bash
# Runs one fuzz target for SECONDS on a working copy of its seed corpus; fails on any crash, leak,
# timeout or sanitizer report (libFuzzer exits non-zero and writes the input as crash-*).
#   run_one.sh TARGET SEED_CORPUS WORK_DIR SECONDS
set -euo pipefail
target=$1 seeds=$2 work=$3 seconds=${4:-20}
mkdir -p "$work/corpus" "$work/artifacts"
cp -n "$seeds"/* "$work/corpus/" 2>/dev/null || true
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus"
