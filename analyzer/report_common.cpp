#include "report_common.h"

#include <csignal>
#include <cstdio>
#include <cstring>

#include "damon_prof/trace_format.h"
#include "report.h"
#include "units.h"

namespace dprof::analyzer {

const std::vector<SiteMetric>& site_metrics() {
  using U = MetricUnit;
  static const std::vector<SiteMetric> kMetrics = {
      {"peak_bytes", "peak", "peak", U::kBytes,
       [](const Site& s, const Analysis&) { return static_cast<double>(s.peak_bytes); }},
      {"alloc_bytes", "allocated", "allocated", U::kBytes,
       [](const Site& s, const Analysis&) { return static_cast<double>(s.alloc_bytes); }},
      {"alloc_count", "allocs", "allocs", U::kCount,
       [](const Site& s, const Analysis&) { return static_cast<double>(s.alloc_count); }},
      {"leaked_bytes", "leaked", "leaked", U::kBytes,
       [](const Site& s, const Analysis&) { return static_cast<double>(s.leaked_bytes); }},
      {"leaked_count", "leaks", "leaks", U::kCount,
       [](const Site& s, const Analysis&) { return static_cast<double>(s.leaked_count); }},
      {"temporary_count", "temporary", "temporary", U::kCount,
       [](const Site& s, const Analysis&) { return static_cast<double>(s.temporary_count); }},
      {"hot_byte_seconds", "hot", "hot", U::kByteSeconds,
       [](const Site& s, const Analysis&) { return s.access.hot_byte_seconds; }},
      {"idle_byte_seconds", "idle", "idle", U::kByteSeconds,
       [](const Site& s, const Analysis&) { return s.access.idle_byte_seconds; }},
      {"idle_bytes_peak", "idle-peak", "idle peak", U::kBytes,
       [](const Site& s, const Analysis&) {
         return static_cast<double>(s.access.idle_bytes_peak);
       }},
      {"never_touched_bytes", "never-touched", "untouched", U::kBytes,
       [](const Site& s, const Analysis&) {
         return static_cast<double>(s.access.never_touched_bytes);
       }},
      {"not_sampled_byte_seconds", "not-sampled", "not sampled", U::kByteSeconds,
       [](const Site& s, const Analysis&) { return s.access.not_sampled_byte_seconds; }},
      {"access_density", "density", "density", U::kDensity,
       [](const Site& s, const Analysis& a) { return s.access.access_density(a.page_size); }},
  };
  return kMetrics;
}

const SiteMetric* find_site_metric(std::string_view name) {
  for (const SiteMetric& metric : site_metrics()) {
    if (name == metric.name || name == metric.short_name) return &metric;
  }
  return nullptr;
}

std::string metric_names() {
  std::string names;
  for (const SiteMetric& metric : site_metrics()) {
    if (!names.empty()) names += ", ";
    names += metric.short_name;
  }
  return names;
}

std::string format_metric(const SiteMetric& metric, double value) {
  char text[48];
  switch (metric.unit) {
    case MetricUnit::kBytes:
      return format_bytes(static_cast<uint64_t>(value));
    case MetricUnit::kCount:
      return format_count(static_cast<uint64_t>(value));
    case MetricUnit::kByteSeconds:
      return format_bytes(static_cast<uint64_t>(value)) + "*s";
    case MetricUnit::kDensity:
      std::snprintf(text, sizeof(text), "%.3g/B/s", value);
      return text;
  }
  return {};
}

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

std::string printable(std::string_view text) {
  std::string safe(text);
  for (char& c : safe) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return safe;
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
