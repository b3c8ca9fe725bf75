#!/usr/bin/env bash
# Runs both fuzz targets for SECONDS each (default 3600), building build-fuzz first if needed:
#   tests/fuzz/run.sh [SECONDS]
# Crashing inputs land in build-fuzz/tests/fuzz/corpus-*/artifacts/.
set -euo pipefail
seconds=${1:-3600}
root=$(cd "$(dirname "$0")/../.." && pwd)
CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -DDAMON_PROF_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$root/build-fuzz" -j "$(nproc)"
for pair in trace_file_fuzzer:traces record_stream_fuzzer:records; do
  target=${pair%%:*} corpus=${pair##*:}
  "$root/tests/fuzz/run_one.sh" "$root/build-fuzz/bin/$target" \
    "$root/tests/fuzz/corpus/$corpus" "$root/build-fuzz/tests/fuzz/corpus-$corpus" "$seconds"
done
