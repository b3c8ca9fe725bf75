#include "report_common.h"

#include <csignal>
#include <cstdio>
#include <cstring>

#include "damon_prof/trace_format.h"
#include "report.h"
#include "units.h"

namespace dprof::analyzer {

std::string module_and_offset(const SiteFrame& frame) {
  char offset[32];
  if (frame.module.empty()) {
    std::snprintf(offset, sizeof(offset), "0x%llx", static_cast<unsigned long long>(frame.address));
    return offset;
  }
  size_t slash = frame.module.rfind('/');
  std::snprintf(offset, sizeof(offset), "+0x%llx",
                static_cast<unsigned long long>(frame.module_offset));
  return (slash == std::string::npos ? frame.module : frame.module.substr(slash + 1)) + offset;
}

std::string frame_location(const SiteFrame& frame) {
  if (!frame.file.empty()) {
    size_t slash = frame.file.rfind('/');
    std::string file = slash == std::string::npos ? frame.file : frame.file.substr(slash + 1);
    return frame.line != 0 ? file + ":" + std::to_string(frame.line) : file;
  }
  return module_and_offset(frame);
}

std::string site_name(const Site& site) {
  if (site.frames.empty()) return "<unknown stack>";
  const SiteFrame& frame = site.frames[site.name_frame];
  return frame.function.empty() ? module_and_offset(frame) : frame.function;
}

std::string describe_end(const Analysis& analysis) {
  if (!analysis.end) {
    return analysis.decode.truncated
               ? "incomplete: the trace ends mid-frame (the process was killed or crashed)"
               : "incomplete: no end record (the process was killed or crashed)";
  }
  const EndInfo& end = *analysis.end;
  switch (end.how) {
    case DPROF_END_EXIT:
      return "exited with status " + std::to_string(end.code & 0xff);
    case DPROF_END_SIGNAL: {
      const char* name = strsignal(static_cast<int>(end.code));
      return "killed by signal " + std::to_string(end.code) +
             (name != nullptr ? std::string(" (") + name + ")" : std::string());
    }
    case DPROF_END_EXEC:
      return "replaced by exec (the new program has its own trace)";
    default:
      return "ended (exit status unknown)";
  }
}

}  // namespace dprof::analyzer
