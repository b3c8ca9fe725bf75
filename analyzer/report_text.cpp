#include <algorithm>
#include <cstdio>
#include <functional>
#include <set>
#include <string>

#include "annotation_report.h"
#include "damon_prof/trace_format.h"
#include "monitor_cost.h"
#include "process_report.h"
#include "report.h"
#include "report_common.h"
#include "units.h"

namespace dprof::analyzer {
namespace {

std::string calls(uint64_t count) {
  return format_count(count) + (count == 1 ? " call" : " calls");
}

std::string percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "0%";
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%.1f%%",
                100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buffer;
}

void write_line(std::ostream& out, const Style& style, const std::string& label,
                const std::string& text) {
  char padded[24];
  std::snprintf(padded, sizeof(padded), "  %-14s", label.c_str());
  out << style.bold(padded) << text << '\n';
}

void write_frame_line(std::ostream& out, const Style& style, const SiteFrame& frame,
                      bool names_site) {
  std::string function = frame.function.empty() ? "??" : frame.function;
  if (function.size() > 110) function = function.substr(0, 107) + "...";
  out << "       " << (names_site ? "> " : "  ") << function << "  "
      << style.dim(frame_location(frame)) << (frame.inlined ? style.dim(" (inlined)") : "") << '\n';
}

}  // namespace

// The frames above the one that names the site are the allocation machinery (operator new, the
// standard library's allocators and containers): one line says how it was reached, unless the
// full stacks are asked for.
void write_stack(std::ostream& out, const Style& style, const Site& site,
                 const ReportOptions& options) {
  size_t first = 0;
  if (!options.full_stacks && site.name_frame > 1) {
    const SiteFrame& entry = site.frames[0];
    std::string entry_name = entry.function.empty() ? module_and_offset(entry) : entry.function;
    if (entry_name.size() > 60) entry_name = entry_name.substr(0, 57) + "...";
    out << "         "
        << style.dim("(" + entry_name + " and " + std::to_string(site.name_frame - 1) +
                     " more allocation frames; --full-stacks shows them)")
        << '\n';
    first = site.name_frame;
  }
  size_t shown = 0;
  for (size_t i = first; i < site.frames.size() && shown < options.max_frames; ++i, ++shown) {
    write_frame_line(out, style, site.frames[i], i == site.name_frame);
  }
  size_t remaining = site.frames.size() - first - shown;
  if (remaining > 0) {
    out << "         " << style.dim("... " + std::to_string(remaining) + " more frames") << '\n';
  }
}

namespace {

void write_ranking(std::ostream& out, const Style& style, Analysis& analysis,
                   const ReportOptions& options, const std::string& title,
                   const std::function<double(const Site&)>& metric,
                   const std::function<std::string(const Site&)>& headline) {
  std::vector<size_t> ranked = top_sites(analysis, options.top, metric);
  out << '\n' << style.bold(title) << '\n';
  if (ranked.empty()) {
    out << "  (none)\n";
    return;
  }
  symbolize_sites(analysis, ranked);
  for (size_t rank = 0; rank < ranked.size(); ++rank) {
    const Site& site = analysis.sites[ranked[rank]];
    char number[32];
    std::snprintf(number, sizeof(number), "%3zu. ", rank + 1);
    out << number << headline(site) << "  in " << style.bold(site_name(site)) << '\n';
    write_stack(out, style, site, options);
  }
}

// Hot, idle and never-touched memory per site: only with region snapshots.
void write_access_rankings(std::ostream& out, const Style& style, Analysis& analysis,
                           const ReportOptions& options) {
  uint64_t page = analysis.page_size;
  write_ranking(
      out, style, analysis, options,
      "HOTTEST SITES (hot byte-seconds: bytes x access frequency x time)",
      [](const Site& site) { return site.access.hot_byte_seconds; },
      [page](const Site& site) {
        char density[32];
        std::snprintf(density, sizeof(density), "%.3g", site.access.access_density(page));
        return format_metric(*find_site_metric("hot"), site.access.hot_byte_seconds) + " +/- " +
               format_bytes(static_cast<uint64_t>(site.access.hot_byte_seconds_stderr())) + "*s, " +
               density + " accesses/B/s";
      });
  write_ranking(
      out, style, analysis, options,
      "IDLE MEMORY (no access for " + format_duration(analysis.idle_threshold_ns) +
          " or more; --idle sets it)",
      [](const Site& site) { return site.access.idle_byte_seconds; },
      [](const Site& site) {
        return format_metric(*find_site_metric("idle"), site.access.idle_byte_seconds) +
               ", at most " + format_bytes(site.access.idle_bytes_peak) + " idle at once";
      });
  write_ranking(
      out, style, analysis, options, "NEVER TOUCHED (allocated, never seen accessed)",
      [](const Site& site) { return static_cast<double>(site.access.never_touched_bytes); },
      [](const Site& site) {
        return format_bytes(site.access.never_touched_bytes) + " in " +
               format_count(site.access.never_touched_count) + " blocks never accessed";
      });
  // Only when read sampling left memory out: where neither list above can speak.
  bool any_not_sampled =
      std::any_of(analysis.sites.begin(), analysis.sites.end(),
                  [](const Site& s) { return s.access.not_sampled_byte_seconds > 0; });
  if (!any_not_sampled) return;
  write_ranking(
      out, style, analysis, options,
      "NOT SAMPLED (memory read sampling could not watch, and never seen written: neither hot "
      "nor idle can be said)",
      [](const Site& site) { return site.access.not_sampled_byte_seconds; },
      [](const Site& site) {
        double seen = site.access.observed_byte_seconds + site.access.not_sampled_byte_seconds;
        char share[32];
        std::snprintf(share, sizeof(share), "%.0f%%",
                      seen > 0 ? 100.0 * site.access.not_sampled_byte_seconds / seen : 0.0);
        return format_metric(*find_site_metric("not-sampled"),
                             site.access.not_sampled_byte_seconds) +
               " not sampled, " + share + " of the site's monitored byte-seconds";
      });
}

}  // namespace

void write_text_report(std::ostream& out, Analysis& analysis, const ReportOptions& options) {
  Style style{options.color};
  const HeapTotals& totals = analysis.totals;
  out << style.bold("damon-prof report") << "  " << analysis.path << '\n';
  if (analysis.process) {
    const ProcessInfo& process = *analysis.process;
    std::string command;
    for (const std::string& argument : process.command_line) {
      if (!command.empty()) command += ' ';
      for (char c : argument) command += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
    }
    if (command.size() > 100) command = command.substr(0, 97) + "...";
    write_line(out, style, "program", command + "  (pid " + std::to_string(process.pid) + ")");
    if ((process.flags & DPROF_PROCESS_FORKED) != 0) {
      write_line(out, style, "",
                 "a fork child of pid " + std::to_string(process.ppid) +
                     ": blocks inherited from the parent are not counted");
    }
  }
  write_line(out, style, "ended",
             describe_end(analysis) + " after " + format_duration(analysis.duration_ns));
  std::string trace_state =
      analysis.decode.truncated || !analysis.end ? style.warn("incomplete") : "complete";
  write_line(out, style, "trace",
             format_bytes(analysis.decode.file_bytes) + ", " +
                 format_count(analysis.decode.frames) + " frames, format " +
                 std::to_string(analysis.decode.version_major) + "." +
                 std::to_string(analysis.decode.version_minor) + ", " + trace_state);
  if (analysis.decode.corrupt_frames_skipped != 0) {
    write_line(out, style, "",
               style.warn(format_count(analysis.decode.corrupt_frames_skipped) +
                          " corrupt frames skipped (--salvage)"));
  }
  write_line(
      out, style, "allocations",
      calls(totals.alloc_count) + ", " + format_bytes(totals.alloc_bytes) +
          " in total  (malloc family " + format_count(totals.malloc_count) + ", anonymous mmap " +
          format_count(totals.mmap_count) +
          (totals.custom_count != 0 ? ", custom allocator " + format_count(totals.custom_count) +
                                          " (" + format_bytes(totals.custom_bytes) + ")"
                                    : std::string()) +
          ")");
  if (analysis.allocation_sample_rate != 0) {
    write_line(out, style, "sampled",
               "one allocation per " + format_bytes(analysis.allocation_sample_rate) +
                   " on average (--sample-rate): call counts and bytes above are exact; "
                   "per-site figures, temporary, peak heap and leaks are estimates");
    if (analysis.exact_totals && analysis.exact_totals->lost_sampled_blocks != 0) {
      write_line(out, style, "warning",
                 format_count(analysis.exact_totals->lost_sampled_blocks) +
                     " sampled blocks were never followed to their release (the runtime's table "
                     "of sampled blocks was full): they count as leaked");
    }
  }
  write_line(out, style, "temporary",
             format_count(totals.temporary_count) + " (" +
                 percent(totals.temporary_count, totals.alloc_count) +
                 " of calls: freed right after, with no allocation in between)");
  write_line(out, style, "peak heap",
             format_bytes(totals.peak_bytes) + " at " + format_duration(totals.peak_time_ns));
  if (analysis.memory_samples != 0) {
    write_line(out, style, "peak RSS", format_bytes(analysis.peak_rss_bytes));
  }
  if (analysis.peak_runtime_bytes != 0) {
    write_line(
        out, style, "profiler",
        format_bytes(analysis.peak_runtime_bytes) +
            " of the RSS at most was damon-prof's own (rings, stacks, unwind caches, bookkeeping)");
  }
  std::string leak_label = analysis.end ? "leaked" : "live at end";
  write_line(
      out, style, leak_label,
      format_bytes(totals.live_bytes) + " in " + format_count(totals.live_count) + " blocks");
  write_line(out, style, "threads",
             format_count(analysis.thread_count) + " recorded, " +
                 format_count(analysis.sites.size()) + " allocation sites");
  if (!analysis.monitor_settings.empty()) {
    const MonitorSettingsInfo& first = analysis.monitor_settings.front();
    const MonitorSettingsInfo& last = analysis.monitor_settings.back();
    std::string monitor = first.backend;
    if (first.backend != "none") {
      MonitorCost cost = summarize_monitor_cost(analysis.monitor_settings);
      double budget = static_cast<double>(last.overhead_budget_ppm) / 10000.0;
      char measured[160];
      if (cost.measured) {
        std::snprintf(measured, sizeof(measured),
                      ", measured cost %.2f%% of a CPU on average over %s, %.2f%% at most (budget "
                      "%.2f%%)",
                      static_cast<double>(cost.average_ppm) / 10000.0,
                      format_duration(cost.measured_ns).c_str(),
                      static_cast<double>(cost.highest_ppm) / 10000.0, budget);
      } else {
        // The program ended before the first cost window did.
        std::snprintf(measured, sizeof(measured), ", cost not measured yet (budget %.2f%%)",
                      budget);
      }
      monitor += ": " + format_count(analysis.snapshot_count) + " region snapshots, sampling " +
                 format_duration(last.sampling_ns) + ", aggregation " +
                 format_duration(last.aggregation_ns) + measured;
      uint64_t samples = analysis.access_sample_reads + analysis.access_sample_writes;
      if (samples != 0) {
        monitor += "; " + format_count(samples) + " access samples (" +
                   format_count(analysis.access_sample_reads) + " reads, " +
                   format_count(analysis.access_sample_writes) + " writes)";
      }
      // Every change of backend or of how it watches, with its reason: a later retune must not
      // hide why read sampling was switched off before it.
      for (size_t i = 1; i < analysis.monitor_settings.size(); ++i) {
        const MonitorSettingsInfo& before = analysis.monitor_settings[i - 1];
        const MonitorSettingsInfo& now = analysis.monitor_settings[i];
        if (now.backend != before.backend || now.reason != before.reason)
          monitor += "; later " + now.backend + ": " + now.reason;
      }
    } else {
      monitor += " (" + first.reason + ")";
    }
    write_line(out, style, "monitor", monitor);
    if (analysis.working_set.count() != 0) {
      const LogHistogram& sizes = analysis.working_set;
      write_line(out, style, "working set",
                 format_bytes(sizes.percentile(0.5)) + " median, " +
                     format_bytes(sizes.percentile(0.9)) + " p90, " + format_bytes(sizes.max()) +
                     " at most (bytes accessed per " + format_duration(last.aggregation_ns) +
                     " interval)");
    }
  }
  if (totals.unmatched_frees != 0) {
    write_line(out, style, "",
               style.dim(format_count(totals.unmatched_frees) +
                         " frees of blocks allocated before the trace began"));
  }
  if (analysis.end && analysis.end->dropped_events != 0) {
    write_line(
        out, style, "",
        style.warn(format_count(analysis.end->dropped_events) + " events could not be recorded"));
  }
  size_t diagnostics_shown = 0;
  for (const Diagnostic& diagnostic : analysis.diagnostics) {
    if (diagnostics_shown++ == 10) {
      write_line(out, style, "",
                 style.dim("... " + format_count(analysis.diagnostics.size() - 10) +
                           " more notes (--format json lists them)"));
      break;
    }
    write_line(out, style, diagnostics_shown == 1 ? "notes" : "",
               diagnostic.severity != 0 ? style.warn(printable(diagnostic.text))
                                        : printable(diagnostic.text));
  }
  write_annotations_text(out, style, analysis, 10);
  write_processes_text(out, style, analysis, 20);

  write_ranking(
      out, style, analysis, options, "TOP SITES BY PEAK HEAP",
      [](const Site& site) { return static_cast<double>(site.peak_bytes); },
      [](const Site& site) {
        return format_bytes(site.peak_bytes) + " at peak, " + format_count(site.alloc_count) +
               " calls";
      });
  write_ranking(
      out, style, analysis, options, "TOP SITES BY BYTES ALLOCATED",
      [](const Site& site) { return static_cast<double>(site.alloc_bytes); },
      [](const Site& site) {
        return format_bytes(site.alloc_bytes) + " allocated in " + format_count(site.alloc_count) +
               " calls";
      });
  write_ranking(
      out, style, analysis, options,
      analysis.end ? "TOP SITES BY LEAKED BYTES" : "TOP SITES BY BYTES LIVE AT END",
      [](const Site& site) { return static_cast<double>(site.leaked_bytes); },
      [](const Site& site) {
        return format_bytes(site.leaked_bytes) + " in " + format_count(site.leaked_count) +
               " blocks";
      });
  write_ranking(
      out, style, analysis, options, "TOP SITES BY ALLOCATION CALLS",
      [](const Site& site) { return static_cast<double>(site.alloc_count); },
      [](const Site& site) {
        return format_count(site.alloc_count) + " calls, " + format_count(site.temporary_count) +
               " temporary";
      });
  if (analysis.snapshot_count != 0) write_access_rankings(out, style, analysis, options);
  for (const std::string& warning : analysis.warnings) {
    out << style.warn("warning: ") << warning << '\n';
  }
}

void write_short_summary(std::ostream& out, const Analysis& analysis) {
  const HeapTotals& totals = analysis.totals;
  out << "damon-prof: " << format_count(totals.alloc_count) << " allocations ("
      << format_bytes(totals.alloc_bytes) << "), peak heap " << format_bytes(totals.peak_bytes);
  if (analysis.memory_samples != 0) out << ", peak RSS " << format_bytes(analysis.peak_rss_bytes);
  out << ", " << (analysis.end ? "leaked " : "live at end ") << format_bytes(totals.live_bytes)
      << " in " << format_count(totals.live_count) << " blocks\n";
}

}  // namespace dprof::analyzer
