// libFuzzer target: any bytes as the decompressed payload of one frame, wrapped into a valid trace
// file, so that every record decoder (and the analysis behind it) sees arbitrary records rather
// than the reader rejecting a bad checksum first. A bad record must end in a TraceError (or be
// skipped), never a crash, a hang or a sanitizer report.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <streambuf>
#include <string>

#include "analysis.h"
#include "chrome_trace.h"
#include "trace_builder.h"
#include "trace_error.h"

namespace {

class NullBuffer : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize count) override { return count; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > DPROF_MAX_FRAME_RAW_SIZE) return 0;
  static int fd = memfd_create("records", 0);
  if (fd < 0) return 0;
  dprof::testing::TraceBuilder builder;
  builder.raw_payload(data, size).end_frame();
  std::vector<uint8_t> file = builder.bytes();
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, file.data(), file.size(), 0) != static_cast<ssize_t>(file.size())) {
    return 0;
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    dprof::analyzer::Analysis analysis = dprof::analyzer::analyze_trace(path);
    // Renderers that need no symbols (symbolizing reads the program's files: slow, and not what
    // is fuzzed here).
    NullBuffer discard;
    std::ostream out(&discard);
    dprof::analyzer::write_chrome_trace(out, analysis);
  } catch (const dprof::analyzer::TraceError&) {
    // The expected answer to a damaged record.
  }
  return 0;
}
