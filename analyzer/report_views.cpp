#include "report_views.h"

#include <cstdio>
#include <map>

#include "annotation_report.h"
#include "disassembler.h"
#include "json_writer.h"
#include "symbolizer.h"
#include "terminal_plot.h"
#include "units.h"

namespace dprof::analyzer {
namespace {

std::string padded(const std::string& text, size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

std::string naming_location(const Site& site) {
  if (site.frames.empty()) return "";
  return frame_location(site.frames[site.name_frame]);
}

void write_site_json(JsonWriter& json, const Site& site, size_t index, const Analysis& analysis) {
  json.begin_object();
  json.field("index", static_cast<uint64_t>(index));
  json.field("name", site_name(site));
  json.field("location", naming_location(site));
  write_site_figures(json, site, analysis);
  json.key("stack").begin_array();
  for (const SiteFrame& frame : site.frames) {
    json.value((frame.function.empty() ? module_and_offset(frame) : frame.function) + "  " +
               frame_location(frame));
  }
  json.end_array();
  json.end_object();
}

}  // namespace

void write_sites_view(std::ostream& out, Analysis& analysis, const ViewOptions& options) {
  const SiteMetric& sort = options.sort != nullptr ? *options.sort : *find_site_metric("peak");
  // Every site, zero or not, in the metric's order (top_sites leaves zeros out: add them after).
  std::vector<size_t> order =
      top_sites(analysis, 0, [&](const Site& site) { return sort.value(site, analysis); });
  for (size_t i = 0; i < analysis.sites.size(); ++i) {
    if (sort.value(analysis.sites[i], analysis) <= 0) order.push_back(i);
  }
  if (options.report.top != 0 && order.size() > options.report.top)
    order.resize(options.report.top);
  symbolize_sites(analysis, order);
  if (options.json) {
    JsonWriter json(out);
    begin_view_document(json, "damon-prof-sites", analysis);
    json.field("sort", sort.name);
    json.field("site_count", static_cast<uint64_t>(analysis.sites.size()));
    json.key("sites").begin_array();
    for (size_t index : order) write_site_json(json, analysis.sites[index], index, analysis);
    json.end_array();
    json.end_object();
    out << '\n';
    return;
  }
  Style style{options.report.color};
  bool access = analysis.snapshot_count != 0;
  out << style.bold("SITES BY " + std::string(sort.title)) << "  (" << order.size() << " of "
      << analysis.sites.size() << "; --sort " << metric_names() << "; --top N)\n";
  std::vector<const SiteMetric*> columns;
  for (const char* name : {"peak", "allocated", "allocs", "leaked"}) {
    columns.push_back(find_site_metric(name));
  }
  if (access) {
    for (const char* name : {"hot", "idle", "idle-peak", "never-touched", "density"}) {
      columns.push_back(find_site_metric(name));
    }
  }
  std::string heading = "   # ";
  for (const SiteMetric* column : columns) {
    std::string title = column->title;
    if (column == &sort) title = "[" + title + "]";
    heading += padded(title, 13);
  }
  out << style.bold(heading + "site") << '\n';
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const Site& site = analysis.sites[order[rank]];
    char number[32];
    std::snprintf(number, sizeof(number), "%4zu ", rank + 1);
    std::string line = number;
    for (const SiteMetric* column : columns) {
      line += padded(format_metric(*column, column->value(site, analysis)), 13);
    }
    out << line << style.bold(site_name(site)) << "  " << style.dim(naming_location(site)) << '\n';
  }
  if (!access) {
    out << style.dim(
               "(no region snapshots in this trace: hot and idle columns need the access "
               "monitor)")
        << '\n';
  }
}

void write_leaks_view(std::ostream& out, Analysis& analysis, const ViewOptions& options) {
  std::vector<size_t> leaking = top_sites(analysis, options.report.top, [](const Site& site) {
    return static_cast<double>(site.leaked_bytes);
  });
  symbolize_sites(analysis, leaking);
  const HeapTotals& totals = analysis.totals;
  bool complete = analysis.end.has_value() && !analysis.decode.truncated;
  if (options.json) {
    JsonWriter json(out);
    begin_view_document(json, "damon-prof-leaks", analysis);
    // Without an end record, "leaked" means "live when the trace stops".
    json.field("complete", complete);
    json.field("leaked_bytes", totals.live_bytes);
    json.field("leaked_count", totals.live_count);
    json.key("sites").begin_array();
    for (size_t index : leaking) write_site_json(json, analysis.sites[index], index, analysis);
    json.end_array();
    json.end_object();
    out << '\n';
    return;
  }
  Style style{options.report.color};
  out << style.bold(complete ? "LEAKS" : "LIVE AT THE END OF AN INCOMPLETE TRACE") << ": "
      << format_bytes(totals.live_bytes) << " in " << format_count(totals.live_count)
      << " blocks from " << format_count(leaking.size()) << " sites"
      << (options.report.top != 0 ? " (top " + std::to_string(options.report.top) + " shown)" : "")
      << '\n';
  ReportOptions full = options.report;
  full.full_stacks = true;
  for (size_t rank = 0; rank < leaking.size(); ++rank) {
    const Site& site = analysis.sites[leaking[rank]];
    char number[32];
    std::snprintf(number, sizeof(number), "%3zu. ", rank + 1);
    out << '\n'
        << number << format_bytes(site.leaked_bytes) << " in " << format_count(site.leaked_count)
        << " blocks (of " << format_count(site.alloc_count) << " allocated)  "
        << style.bold(site_name(site)) << '\n';
    if (analysis.snapshot_count != 0 && site.access.never_touched_bytes != 0) {
      out << "       "
          << style.dim(format_bytes(site.access.never_touched_bytes) +
                       " of this site's blocks were never accessed")
          << '\n';
    }
    write_stack(out, style, site, full);
  }
}

void write_timeline_view(std::ostream& out, Analysis& analysis, const ViewOptions& options) {
  const auto& points = analysis.timeline.points();
  const LogHistogram& sizes = analysis.working_set;
  if (options.json) {
    JsonWriter json(out);
    begin_view_document(json, "damon-prof-timeline", analysis);
    write_working_set(json, analysis);
    write_annotations_json(json, analysis);
    json.key("points").begin_array();
    for (const TimelinePoint& point : points) {
      json.begin_object();
      json.field("time_ns", point.time_ns);
      json.field("rss_bytes", point.rss_bytes);
      json.field("heap_bytes", point.heap_bytes);
      json.field("working_set_bytes", point.working_set_bytes);
      json.field("monitored_bytes", point.monitored_bytes);
      json.field("idle_bytes", point.idle_bytes);
      json.end_object();
    }
    json.end_array();
    json.end_object();
    out << '\n';
    return;
  }
  Style style{options.report.color};
  PlotSeries rss{'R', "RSS", {}};
  PlotSeries heap{'H', "heap in use", {}};
  PlotSeries working{'W', "working set", {}};
  PlotSeries idle{'I', "idle", {}};
  for (const TimelinePoint& point : points) {
    if (point.rss_bytes != 0) rss.points.emplace_back(point.time_ns, point.rss_bytes);
    heap.points.emplace_back(point.time_ns, point.heap_bytes);
    if (sizes.count() != 0) {
      working.points.emplace_back(point.time_ns, point.working_set_bytes);
      idle.points.emplace_back(point.time_ns, point.idle_bytes);
    }
  }
  out << style.bold("FOOTPRINT OVER TIME") << "  (largest value per column)\n";
  std::vector<PlotSeries> series;
  if (!rss.points.empty()) series.push_back(rss);
  series.push_back(heap);
  if (!working.points.empty()) {
    series.push_back(idle);
    series.push_back(working);
  }
  plot_series(out, series, options.width, options.height, options.report.color);
  write_annotations_text(out, style, analysis, 50);
  if (sizes.count() == 0) {
    out << style.dim("(no region snapshots: the working set needs the access monitor)") << '\n';
    return;
  }
  out << '\n'
      << style.bold("WORKING SET SIZE") << "  (bytes accessed per aggregation interval, "
      << format_count(sizes.count()) << " intervals)\n";
  for (double fraction : {0.5, 0.9, 0.99}) {
    char label[16];
    std::snprintf(label, sizeof(label), "  p%-3.0f ", fraction * 100);
    out << label << format_bytes(sizes.percentile(fraction)) << '\n';
  }
  out << "  max  " << format_bytes(sizes.max()) << "\n  mean "
      << format_bytes(static_cast<uint64_t>(sizes.mean())) << '\n';
}

void write_access_sites_view(std::ostream& out, Analysis& analysis, const ViewOptions& options) {
  Symbolizer& symbolizer = symbolizer_for(analysis);
  Disassembler disassembler;
  struct Instruction {
    const AccessSite* access;
    std::string text;
    std::string location;
  };
  struct Function {
    std::string name;
    uint64_t reads = 0;
    uint64_t writes = 0;
    std::vector<Instruction> instructions;
  };
  std::vector<Function> functions;
  std::map<std::string, size_t> function_index;
  std::vector<size_t> touched_sites;
  for (const AccessSite& access : analysis.access_sites) {
    // A pc is not a return address: the symbolizer looks up address - 1.
    const ResolvedAddress& resolved = symbolizer.resolve(access.pc + 1, UINT64_MAX);
    std::string name = resolved.frames.empty() || resolved.frames.back().function.empty()
                           ? (resolved.module.empty() ? "??" : resolved.module)
                           : resolved.frames.back().function;
    std::string location;
    if (!resolved.frames.empty() && !resolved.frames.front().file.empty()) {
      location = resolved.frames.front().file + ":" + std::to_string(resolved.frames.front().line);
    } else if (!resolved.module.empty()) {
      char offset[32];
      std::snprintf(offset, sizeof(offset), "+0x%llx",
                    static_cast<unsigned long long>(resolved.module_offset));
      location = resolved.module + offset;
    }
    auto [position, inserted] = function_index.emplace(name, functions.size());
    if (inserted) functions.push_back(Function{name, 0, 0, {}});
    Function& function = functions[position->second];
    function.reads += access.reads;
    function.writes += access.writes;
    function.instructions.push_back(
        {&access, disassembler.decode(access.code, access.pc), location});
    for (const AccessSite::Target& target : access.targets) {
      if (target.site) touched_sites.push_back(*target.site);
    }
  }
  std::stable_sort(functions.begin(), functions.end(), [](const Function& a, const Function& b) {
    return a.reads + a.writes > b.reads + b.writes;
  });
  if (options.report.top != 0 && functions.size() > options.report.top)
    functions.resize(options.report.top);
  symbolize_sites(analysis, touched_sites);
  auto target_name = [&](const AccessSite::Target& target) {
    return target.site ? site_name(analysis.sites[*target.site]) : std::string("(no allocation)");
  };
  if (options.json) {
    JsonWriter json(out);
    begin_view_document(json, "damon-prof-access-sites", analysis);
    json.field("reads", analysis.access_sample_reads);
    json.field("writes", analysis.access_sample_writes);
    json.key("functions").begin_array();
    for (const Function& function : functions) {
      json.begin_object();
      json.field("function", function.name);
      json.field("reads", function.reads);
      json.field("writes", function.writes);
      json.key("instructions").begin_array();
      for (const Instruction& instruction : function.instructions) {
        json.begin_object();
        json.field("pc", instruction.access->pc);
        json.field("instruction", instruction.text);
        json.field("location", instruction.location);
        json.field("reads", instruction.access->reads);
        json.field("writes", instruction.access->writes);
        json.key("touches").begin_array();
        for (const AccessSite::Target& target : instruction.access->targets) {
          json.begin_object();
          json.field("site", target_name(target));
          json.key("site_index");
          if (target.site) {
            json.value(static_cast<uint64_t>(*target.site));
          } else {
            json.null();
          }
          json.field("reads", target.reads);
          json.field("writes", target.writes);
          json.end_object();
        }
        json.end_array();
        json.end_object();
      }
      json.end_array();
      json.end_object();
    }
    json.end_array();
    json.end_object();
    out << '\n';
    return;
  }
  Style style{options.report.color};
  out << style.bold("ACCESS SITES") << "  (instructions that touched sampled pages, by function; "
      << format_count(analysis.access_sample_reads) << " reads, "
      << format_count(analysis.access_sample_writes) << " writes sampled)\n";
  if (functions.empty()) {
    out << "  (no access samples: they come from the mprotect read sampler, --backend auto or "
           "mprotect, on pages inside allocations of a page or more)\n";
    return;
  }
  for (const Function& function : functions) {
    out << '\n'
        << style.bold(function.name) << "  " << format_count(function.reads) << " reads, "
        << format_count(function.writes) << " writes\n";
    for (const Instruction& instruction : function.instructions) {
      char pc[24];
      std::snprintf(pc, sizeof(pc), "  %12llx  ",
                    static_cast<unsigned long long>(instruction.access->pc));
      out << pc << padded(instruction.text, 36)
          << padded(format_count(instruction.access->reads) + "r " +
                        format_count(instruction.access->writes) + "w",
                    12)
          << style.dim(instruction.location) << '\n';
      for (const AccessSite::Target& target : instruction.access->targets) {
        out << "                  touches " << style.bold(target_name(target)) << "  "
            << format_count(target.reads + target.writes) << " samples\n";
      }
    }
  }
}

}  // namespace dprof::analyzer
