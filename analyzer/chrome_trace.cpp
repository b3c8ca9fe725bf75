#include "chrome_trace.h"

#include <algorithm>

#include "json_writer.h"
#include "report.h"
#include "units.h"

namespace dprof::analyzer {
namespace {

// Trace Event Format timestamps are microseconds.
double microseconds(uint64_t nanoseconds) {
  return static_cast<double>(nanoseconds) / 1000.0;
}

void counter(JsonWriter& json, const char* name, uint64_t pid, uint64_t time_ns, uint64_t bytes) {
  json.begin_object();
  json.field("name", name).field("ph", "C").field("ts", microseconds(time_ns));
  json.field("pid", pid).field("tid", 0);
  json.key("args").begin_object().field("bytes", bytes).end_object();
  json.end_object();
}

void instant(JsonWriter& json, const std::string& name, uint64_t pid, uint64_t time_ns,
             const std::string& detail) {
  json.begin_object();
  json.field("name", name).field("ph", "i").field("s", "p").field("ts", microseconds(time_ns));
  json.field("pid", pid).field("tid", 0);
  json.key("args").begin_object().field("detail", detail).end_object();
  json.end_object();
}

}  // namespace

void write_chrome_trace(std::ostream& out, const Analysis& analysis) {
  uint64_t pid = analysis.process ? analysis.process->pid : 1;
  std::string program = "damon-prof";
  if (analysis.process) {
    program.clear();
    for (const std::string& argument : analysis.process->command_line) {
      program += (program.empty() ? "" : " ") + argument;
    }
  }
  JsonWriter json(out, false);
  json.begin_object();
  json.field("displayTimeUnit", "ms");
  json.key("otherData").begin_object();
  json.field("source", "damon-prof").field("trace", analysis.path);
  json.end_object();
  json.key("traceEvents").begin_array();
  json.begin_object();
  json.field("name", "process_name").field("ph", "M").field("pid", pid).field("tid", 0);
  json.key("args").begin_object().field("name", program).end_object();
  json.end_object();
  bool monitored = analysis.snapshot_count > 0;
  for (const TimelinePoint& point : analysis.timeline.points()) {
    if (point.rss_bytes > 0) counter(json, "RSS", pid, point.time_ns, point.rss_bytes);
    counter(json, "heap in use", pid, point.time_ns, point.heap_bytes);
    if (monitored) {
      counter(json, "working set", pid, point.time_ns, point.working_set_bytes);
      counter(json, "idle", pid, point.time_ns, point.idle_bytes);
    }
  }
  if (analysis.totals.peak_bytes > 0) {
    instant(json, "heap peak", pid, analysis.totals.peak_time_ns,
            format_bytes(analysis.totals.peak_bytes) + " live");
  }
  if (analysis.end) instant(json, "end", pid, analysis.end->time_ns, describe_end(analysis));
  // The program's own annotations: markers on the thread that made them, phases as slices.
  for (const Marker& marker : analysis.markers) {
    json.begin_object();
    json.field("name", marker.name).field("cat", "marker").field("ph", "i").field("s", "t");
    json.field("ts", microseconds(marker.time_ns));
    json.field("pid", pid).field("tid", marker.thread_id);
    json.end_object();
  }
  for (const PhaseSpan& span : analysis.phase_spans) {
    json.begin_object();
    json.field("name", analysis.phases[span.phase].name).field("cat", "phase").field("ph", "X");
    json.field("ts", microseconds(span.begin_ns));
    json.field("dur", microseconds(span.end_ns - std::min(span.end_ns, span.begin_ns)));
    json.field("pid", pid).field("tid", span.thread_id);
    json.end_object();
  }
  json.end_array();
  json.end_object();
  out << "\n";
}

}  // namespace dprof::analyzer
