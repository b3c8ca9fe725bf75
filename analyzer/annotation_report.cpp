#include "annotation_report.h"

#include <cstdio>

#include "json_writer.h"
#include "units.h"

namespace dprof::analyzer {

void write_annotations_json(JsonWriter& json, const Analysis& analysis) {
  json.key("phases").begin_array();
  for (const PhaseStats& phase : analysis.phases) {
    json.begin_object();
    json.field("name", phase.name);
    json.field("spans", phase.spans);
    json.field("total_ns", phase.total_ns);
    json.field("first_begin_ns", phase.first_begin_ns);
    json.field("peak_heap_bytes", phase.peak_heap_bytes);
    json.field("peak_heap_time_ns", phase.peak_heap_time_ns);
    json.key("peak_rss_bytes");
    if (phase.rss_samples != 0) {
      json.value(phase.peak_rss_bytes);
    } else {
      json.null();
    }
    json.field("alloc_count", phase.alloc_count);
    json.field("alloc_bytes", phase.alloc_bytes);
    json.field("left_open", phase.left_open);
    json.end_object();
  }
  json.end_array();
  json.key("phase_spans").begin_array();
  for (const PhaseSpan& span : analysis.phase_spans) {
    json.begin_object();
    json.field("phase", analysis.phases[span.phase].name);
    json.field("begin_ns", span.begin_ns).field("end_ns", span.end_ns);
    json.field("thread_id", span.thread_id);
    json.end_object();
  }
  json.end_array();
  json.field("phase_span_count", analysis.phase_span_count);
  json.key("markers").begin_array();
  for (const Marker& marker : analysis.markers) {
    json.begin_object();
    json.field("time_ns", marker.time_ns).field("thread_id", marker.thread_id);
    json.field("name", marker.name);
    json.end_object();
  }
  json.end_array();
  json.field("marker_count", analysis.marker_count);
}

void write_annotations_text(std::ostream& out, const Style& style, const Analysis& analysis,
                            size_t max_markers) {
  if (!analysis.phases.empty()) {
    out << '\n' << style.bold("PHASES") << "  (annotated by the program)\n";
    char line[160];
    std::snprintf(line, sizeof(line), "  %-20s %6s %10s %11s %11s %13s\n", "phase", "spans", "time",
                  "peak heap", "peak RSS", "allocated");
    out << style.dim(line);
    for (const PhaseStats& phase : analysis.phases) {
      std::string name =
          printable(phase.name.size() > 20 ? phase.name.substr(0, 19) + "~" : phase.name);
      std::snprintf(
          line, sizeof(line), "  %-20s %6llu %10s %11s %11s %13s%s\n", name.c_str(),
          static_cast<unsigned long long>(phase.spans), format_duration(phase.total_ns).c_str(),
          format_bytes(phase.peak_heap_bytes).c_str(),
          phase.rss_samples != 0 ? format_bytes(phase.peak_rss_bytes).c_str() : "-",
          format_bytes(phase.alloc_bytes).c_str(), phase.left_open ? "  (open at the end)" : "");
      out << line;
    }
  }
  if (!analysis.markers.empty()) {
    out << '\n' << style.bold("MARKERS") << "  (" << format_count(analysis.marker_count) << ")\n";
    size_t shown = 0;
    for (const Marker& marker : analysis.markers) {
      if (shown++ == max_markers) {
        out << style.dim("  ... " + format_count(analysis.marker_count - max_markers) + " more")
            << '\n';
        break;
      }
      out << "  " << format_duration(marker.time_ns) << "  " << printable(marker.name) << '\n';
    }
  }
}

}  // namespace dprof::analyzer
