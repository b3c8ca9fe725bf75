#include "annotation_report.h"
#include "damon_prof/trace_format.h"
#include "json_writer.h"
#include "process_report.h"
#include "report.h"
#include "report_common.h"

namespace dprof::analyzer {
namespace {

void write_frame(JsonWriter& json, const SiteFrame& frame) {
  json.begin_object();
  if (frame.function.empty()) {
    json.key("function").null();
  } else {
    json.field("function", frame.function);
  }
  if (frame.file.empty()) {
    json.key("file").null();
  } else {
    json.field("file", frame.file);
  }
  if (frame.line == 0) {
    json.key("line").null();
  } else {
    json.field("line", frame.line);
  }
  json.field("module", frame.module);
  json.field("module_offset", frame.module_offset);
  json.field("address", frame.address);
  json.field("inlined", frame.inlined);
  json.end_object();
}

}  // namespace

void write_working_set(JsonWriter& json, const Analysis& analysis) {
  const LogHistogram& sizes = analysis.working_set;
  json.key("working_set").begin_object();
  json.field("snapshots", sizes.count());
  json.field("mean_bytes", static_cast<uint64_t>(sizes.mean()));
  json.field("p50_bytes", sizes.percentile(0.50));
  json.field("p90_bytes", sizes.percentile(0.90));
  json.field("p99_bytes", sizes.percentile(0.99));
  json.field("max_bytes", sizes.max());
  json.end_object();
}

void write_site_figures(JsonWriter& json, const Site& site, const Analysis& analysis) {
  json.field("alloc_count", site.alloc_count);
  json.field("alloc_bytes", site.alloc_bytes);
  json.field("peak_bytes", site.peak_bytes);
  json.field("leaked_bytes", site.leaked_bytes);
  json.field("leaked_count", site.leaked_count);
  json.field("temporary_count", site.temporary_count);
  json.field("mmap_count", site.mmap_count);
  const AccessMetrics& access = site.access;
  json.field("hot_byte_seconds", access.hot_byte_seconds);
  json.field("hot_byte_seconds_stderr", access.hot_byte_seconds_stderr());
  json.field("idle_bytes_peak", access.idle_bytes_peak);
  json.field("not_sampled_byte_seconds", access.not_sampled_byte_seconds);
  json.field("idle_byte_seconds", access.idle_byte_seconds);
  json.field("never_touched_bytes", access.never_touched_bytes);
  json.field("never_touched_count", access.never_touched_count);
  json.field("access_density", access.access_density(analysis.page_size));
  json.field("observed_byte_seconds", access.observed_byte_seconds);
  json.field("observed_blocks", access.observed_blocks);
  json.field("snapshots_observed", access.snapshots);
  json.field("access_samples_read", access.read_samples);
  json.field("access_samples_written", access.write_samples);
}

void begin_view_document(JsonWriter& json, const char* schema, const Analysis& analysis) {
  json.begin_object();
  json.field("schema", schema);
  json.field("schema_version", 1u);
  json.field("trace", analysis.path);
}

void write_json_report(std::ostream& out, Analysis& analysis, const ReportOptions& options) {
  std::vector<size_t> listed = top_sites(analysis, options.top, [](const Site& site) {
    return site.alloc_count + site.peak_bytes + site.leaked_bytes + 1;
  });
  symbolize_sites(analysis, listed);
  JsonWriter json(out);
  begin_view_document(json, "damon-prof-report", analysis);

  json.key("trace_info").begin_object();
  json.field("format_version", std::to_string(analysis.decode.version_major) + "." +
                                   std::to_string(analysis.decode.version_minor));
  json.field("file_bytes", analysis.decode.file_bytes);
  json.field("frames", analysis.decode.frames);
  json.field("events", analysis.decode.events);
  json.field("complete", analysis.end.has_value() && !analysis.decode.truncated);
  json.field("truncated", analysis.decode.truncated);
  json.field("corrupt_frames_skipped", analysis.decode.corrupt_frames_skipped);
  json.end_object();

  json.key("process");
  if (analysis.process) {
    const ProcessInfo& process = *analysis.process;
    json.begin_object();
    json.field("pid", process.pid);
    json.field("ppid", process.ppid);
    json.field("executable", process.executable);
    json.key("command_line").begin_array();
    for (const std::string& argument : process.command_line) json.value(argument);
    json.end_array();
    json.field("hostname", process.hostname);
    json.field("start_wall_ns", process.start_wall_ns);
    json.field("forked", (process.flags & DPROF_PROCESS_FORKED) != 0);
    json.field("runtime_version", process.runtime_version);
    json.end_object();
  } else {
    json.null();
  }

  json.key("end");
  if (analysis.end) {
    json.begin_object();
    static const char* const kHow[] = {"unknown", "exit", "signal", "exec", "unknown"};
    json.field("how", kHow[analysis.end->how <= 4 ? analysis.end->how : 0]);
    json.field("code", analysis.end->code);
    json.field("time_ns", analysis.end->time_ns);
    json.field("dropped_events", analysis.end->dropped_events);
    json.end_object();
  } else {
    json.null();
  }

  const HeapTotals& totals = analysis.totals;
  json.key("summary").begin_object();
  json.field("total_alloc_count", totals.alloc_count);
  json.field("total_alloc_bytes", totals.alloc_bytes);
  json.field("malloc_count", totals.malloc_count);
  json.field("custom_count", totals.custom_count);
  json.field("custom_bytes", totals.custom_bytes);
  json.field("malloc_bytes", totals.malloc_bytes);
  json.field("mmap_count", totals.mmap_count);
  json.field("mmap_bytes", totals.mmap_bytes);
  json.field("free_count", totals.free_count);
  json.field("peak_heap_bytes", totals.peak_bytes);
  json.field("peak_time_ns", totals.peak_time_ns);
  json.field("leaked_bytes", totals.live_bytes);
  json.field("leaked_count", totals.live_count);
  json.field("temporary_count", totals.temporary_count);
  json.field("peak_rss_bytes", analysis.peak_rss_bytes);
  json.field("profiler_peak_bytes", analysis.peak_runtime_bytes);
  json.field("duration_ns", analysis.duration_ns);
  json.field("thread_count", analysis.thread_count);
  json.field("site_count", static_cast<uint64_t>(analysis.sites.size()));
  json.field("unmatched_frees", totals.unmatched_frees);
  // 0: every allocation recorded; else per-site figures, peak, leaks and temporary are estimates.
  json.field("allocation_sample_rate", analysis.allocation_sample_rate);
  json.field("lost_sampled_blocks",
             analysis.exact_totals ? analysis.exact_totals->lost_sampled_blocks : uint64_t{0});
  json.end_object();

  json.key("monitor");
  if (analysis.monitor_settings.empty()) {
    json.null();
  } else {
    const MonitorSettingsInfo& first = analysis.monitor_settings.front();
    const MonitorSettingsInfo& last = analysis.monitor_settings.back();
    json.begin_object();
    json.field("backend", first.backend);
    json.field("reason", last.reason);
    json.field("snapshots", analysis.snapshot_count);
    json.field("sampling_ns", last.sampling_ns);
    json.field("aggregation_ns", last.aggregation_ns);
    json.field("max_regions", last.max_regions);
    json.field("overhead_budget_ppm", last.overhead_budget_ppm);
    json.field("measured_overhead_ppm", last.measured_overhead_ppm);
    json.field("final_backend", last.backend);
    json.key("access_samples").begin_object();
    json.field("reads", analysis.access_sample_reads);
    json.field("writes", analysis.access_sample_writes);
    json.end_object();
    json.field("idle_threshold_ns", analysis.idle_threshold_ns);
    write_working_set(json, analysis);
    json.end_object();
  }

  json.key("sites").begin_array();
  for (size_t index : listed) {
    const Site& site = analysis.sites[index];
    json.begin_object();
    json.field("name", site_name(site));
    write_site_figures(json, site, analysis);
    json.key("frames").begin_array();
    for (const SiteFrame& frame : site.frames) write_frame(json, frame);
    json.end_array();
    json.end_object();
  }
  json.end_array();

  json.key("modules").begin_array();
  for (const ModuleInfo& module : analysis.modules) {
    static const char* digits = "0123456789abcdef";
    std::string build_id;
    for (unsigned char byte : module.build_id) {
      build_id += digits[byte >> 4];
      build_id += digits[byte & 15];
    }
    json.begin_object();
    json.field("path", module.path);
    json.field("build_id", build_id);
    json.field("load_bias", module.load_bias);
    json.field("load_time_ns", module.load_time_ns);
    json.key("unload_time_ns");
    if (module.unload_time_ns) {
      json.value(*module.unload_time_ns);
    } else {
      json.null();
    }
    json.end_object();
  }
  json.end_array();

  write_annotations_json(json, analysis);
  write_processes_json(json, analysis);

  json.key("warnings").begin_array();
  for (const std::string& warning : analysis.warnings) json.value(warning);
  for (const Diagnostic& diagnostic : analysis.diagnostics) json.value(diagnostic.text);
  json.end_array();
  json.end_object();
}

}  // namespace dprof::analyzer
