// Pieces shared by the text and JSON renderers.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "analysis.h"

namespace dprof::analyzer {

class JsonWriter;
struct ReportOptions;

// Terminal styling, off when the output is not a terminal.
struct Style {
  bool color = false;
  std::string bold(const std::string& text) const {
    return color ? "\033[1m" + text + "\033[0m" : text;
  }
  std::string dim(const std::string& text) const {
    return color ? "\033[2m" + text + "\033[0m" : text;
  }
  std::string warn(const std::string& text) const {
    return color ? "\033[33m" + text + "\033[0m" : text;
  }
};

// A site's call stack, one frame per line, the allocation machinery folded unless asked for.
void write_stack(std::ostream& out, const Style& style, const Site& site,
                 const ReportOptions& options);

// A per-site figure that views can sort by and flamegraphs can weigh by.
enum class MetricUnit { kBytes, kCount, kByteSeconds, kDensity };
struct SiteMetric {
  const char* name;        // as --sort and JSON spell it: "hot_byte_seconds"
  const char* short_name;  // as --weight spells it: "hot"
  const char* title;       // a column heading: "hot B*s"
  MetricUnit unit;
  double (*value)(const Site&, const Analysis&);
};
const std::vector<SiteMetric>& site_metrics();
// By either spelling; nullptr when unknown.
const SiteMetric* find_site_metric(std::string_view name);
std::string metric_names();  // "alloc_bytes, alloc_count, ..." for error messages
std::string format_metric(const SiteMetric& metric, double value);

// JSON pieces every document shares: the opening (schema, schema_version, trace), a site's
// allocation and access figures, and the working set size distribution.
void begin_view_document(JsonWriter& json, const char* schema, const Analysis& analysis);
void write_site_figures(JsonWriter& json, const Site& site, const Analysis& analysis);
void write_working_set(JsonWriter& json, const Analysis& analysis);

// Text from the trace (names the program chose, paths) made safe for a terminal: control
// characters (escape sequences could rewrite the screen or the title) become '?'.
std::string printable(std::string_view text);

// The site's short name: its naming frame's function, or module+offset when unsymbolized.
std::string site_name(const Site& site);
std::string frame_location(const SiteFrame& frame);  // "file.cpp:42" or "libfoo.so+0x1234"
std::string module_and_offset(const SiteFrame& frame);
// Site indices ordered by a metric, largest first, zero values left out, at most `limit`.
template <typename Metric>
std::vector<size_t> top_sites(const Analysis& analysis, size_t limit, Metric metric);

}  // namespace dprof::analyzer

#include <algorithm>
#include <numeric>

namespace dprof::analyzer {

template <typename Metric>
std::vector<size_t> top_sites(const Analysis& analysis, size_t limit, Metric metric) {
  std::vector<size_t> indices;
  for (size_t i = 0; i < analysis.sites.size(); ++i) {
    if (metric(analysis.sites[i]) > 0) indices.push_back(i);
  }
  std::stable_sort(indices.begin(), indices.end(), [&](size_t a, size_t b) {
    return metric(analysis.sites[a]) > metric(analysis.sites[b]);
  });
  if (limit != 0 && indices.size() > limit) indices.resize(limit);
  return indices;
}

}  // namespace dprof::analyzer
