// libFuzzer target: any bytes as the decompressed payload of one frame, wrapped into a valid trace
// file, so that every record decoder (and the analysis behind it) sees arbitrary records rather
// than the reader rejecting a bad checksum first. A bad record must end in a TraceError (or be
// skipped).
#include <vector>

#include "fuzz_analysis.h"
#include "trace_builder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > DPROF_MAX_FRAME_RAW_SIZE) return 0;
  dprof::testing::TraceBuilder builder;
  builder.raw_payload(data, size).end_frame();
  std::vector<uint8_t> file = builder.bytes();
  dprof::fuzzing::analyze_trace_bytes(file.data(), file.size(), /*also_salvage=*/false);
  return 0;
}
