// What both fuzz targets do with a trace file's bytes: put them in a memory file and run them
// through what `damon-prof report` does with a trace: read its process record alone (as a report
// does with every trace beside its own), then framing, zstd, records, heap model, attribution,
// phases, a renderer. A bad file must end in a TraceError, never a crash, a hang or a sanitizer
// report.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <streambuf>
#include <string>

#include "analysis.h"
#include "chrome_trace.h"
#include "trace_decoder.h"
#include "trace_error.h"

namespace dprof::fuzzing {

// Discards what is written: the report is rendered for its side effects on the analysis only.
class NullBuffer : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize count) override { return count; }
};

inline void analyze_trace_bytes(const uint8_t* data, size_t size, bool also_salvage) {
  static int fd = memfd_create("trace", 0);
  if (fd < 0) return;
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return;
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    // What a report reads of every trace beside its own, to find its children.
    dprof::analyzer::read_process_info(path);
  } catch (const dprof::analyzer::TraceError&) {
  }
  for (bool salvage : {false, true}) {
    if (salvage && !also_salvage) break;
    try {
      dprof::analyzer::ReaderOptions options;
      options.salvage = salvage;
      dprof::analyzer::Analysis analysis = dprof::analyzer::analyze_trace(path, options);
      // Renderers that need no symbols (symbolizing reads the program's files: slow, and not
      // what is fuzzed here).
      NullBuffer discard;
      std::ostream out(&discard);
      dprof::analyzer::write_chrome_trace(out, analysis);
    } catch (const dprof::analyzer::TraceError&) {
      // The expected answer to a damaged file.
    }
  }
}

}  // namespace dprof::fuzzing
