#!/usr/bin/env bash
# Regenerates the seed corpus from real recordings of the test programs: small traces for the
# trace-file target, and their frames' decompressed payloads for the record-stream target.
#   tests/fuzz/make_corpus.sh [BUILD_DIR]      (needs a normal build and the zstd command)
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
damon_prof="$build/bin/damon-prof"
programs="$build/tests/programs"
traces="$root/tests/fuzz/corpus/traces"
records="$root/tests/fuzz/corpus/records"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$traces" "$records"
mkdir -p "$traces" "$records"
record() {  # record NAME ARGS...: a trace of the program
  local name=$1
  shift
  "$damon_prof" -q -o "$traces/$name.dprof" "$@" > /dev/null
}
record exit --backend none "$programs/crasher" exit 3 || true  # exits 3, as asked
record annotated --backend none "$programs/annotated"
record footprint --sampling 5ms --aggregation 20ms "$programs/footprint" 64 128 4
record reads --backend mprotect --sampling 5ms --aggregation 20ms --overhead 100% \
  "$programs/access_pattern" 1 1 120 rw 1
record mappings --backend none "$programs/exact_allocations"
# Child-process records (the children's own traces stay out of the corpus).
mkdir -p "$work/children"
"$damon_prof" -q -o "$work/children/children.dprof" --backend none "$programs/process_tree" tree \
  > /dev/null
cp "$work/children/children.dprof" "$traces/"
# A trace cut mid-frame, as kill -9 leaves one.
head -c "$(( $(stat -c %s "$traces/footprint.dprof") * 2 / 3 ))" "$traces/footprint.dprof" \
  > "$traces/truncated.dprof"
# Each frame: a 16-byte header (magic, compressed size, raw size, check), then a zstd frame.
for trace in "$traces"/*.dprof; do
  python3 - "$trace" "$work" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
offset, index = 32, 0
name = sys.argv[1].rsplit("/", 1)[1][:-6]
while offset + 16 <= len(data):
    magic, compressed, raw, check = struct.unpack_from("<IIII", data, offset)
    if magic != 0x52465044 or offset + 16 + compressed > len(data):
        break
    open(f"{sys.argv[2]}/{name}-{index}.zst", "wb").write(data[offset + 16:offset + 16 + compressed])
    offset += 16 + compressed
    index += 1
PY
done
for frame in "$work"/*.zst; do
  zstd -q -d "$frame" -o "$records/$(basename "$frame" .zst).records"
done
ls -la "$traces" "$records" | awk '{s += $5} END {print "corpus bytes:", s}'
