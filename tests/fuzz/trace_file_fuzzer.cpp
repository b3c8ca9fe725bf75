// libFuzzer target: any bytes as a whole trace file, read strictly and with --salvage.
#include "fuzz_analysis.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dprof::fuzzing::analyze_trace_bytes(data, size, /*also_salvage=*/true);
  return 0;
}
