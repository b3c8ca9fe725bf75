#include "html_report.h"

#include <algorithm>
#include <cstdio>

#include "flamegraph.h"
#include "heatmap.h"
#include "report.h"
#include "report_common.h"
#include "units.h"

namespace dprof::analyzer {
namespace {

const char kStyle[] = R"CSS(
body{font:14px/1.4 system-ui,sans-serif;margin:0 24px 40px;color:#222;background:#fff}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f0f0f0;cursor:pointer;user-select:none}th.sorted{background:#dde8ff}
td.name,th.name{text-align:left}td.name{max-width:520px;overflow:hidden;text-overflow:ellipsis}
tr:nth-child(even) td{background:#fafafa}.summary td{text-align:left}.summary td:first-child{font-weight:600}
.tabs button{margin:0 4px 8px 0;padding:4px 10px;border:1px solid #aaa;background:#f6f6f6;cursor:pointer}
.tabs button.active{background:#334;color:#fff}.pane{display:none}.pane.active{display:block}
.note{color:#666}svg{max-width:100%;height:auto}
)CSS";

const char kScript[] = R"JS((function () {
  "use strict";
  // Sortable tables: click a heading; numbers sort by data-value, largest first.
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headings = table.querySelectorAll("th");
    headings.forEach(function (th, column) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var ascending = th.dataset.order === "desc";
        rows.sort(function (a, b) {
          var x = a.cells[column], y = b.cells[column];
          var u = x.dataset.value !== undefined ? +x.dataset.value : x.textContent;
          var v = y.dataset.value !== undefined ? +y.dataset.value : y.textContent;
          var order = u < v ? -1 : u > v ? 1 : 0;
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        headings.forEach(function (h) { h.classList.remove("sorted"); delete h.dataset.order; });
        th.classList.add("sorted"); th.dataset.order = ascending ? "asc" : "desc";
      });
    });
  });
  // Tabs: a button shows its pane and hides the others of the same group.
  document.querySelectorAll(".tabs button").forEach(function (button) {
    button.addEventListener("click", function () {
      var group = button.parentNode.dataset.group;
      document.querySelectorAll(".tabs[data-group='" + group + "'] button").forEach(function (b) {
        b.classList.toggle("active", b === button);
      });
      document.querySelectorAll(".pane[data-group='" + group + "']").forEach(function (pane) {
        pane.classList.toggle("active", pane.dataset.pane === button.dataset.pane);
      });
    });
  });
  var search = document.getElementById("flame-search");
  if (search) search.addEventListener("input", function () {
    document.querySelectorAll("svg.dprof-flame").forEach(function (svg) {
      if (svg.dprofSearch) svg.dprofSearch(search.value);
    });
  });
})();)JS";

void summary_row(std::ostream& out, const std::string& label, const std::string& value) {
  out << "<tr><td>" << xml_escape(label) << "</td><td>" << xml_escape(value) << "</td></tr>\n";
}

void write_summary(std::ostream& out, const Analysis& analysis) {
  const HeapTotals& totals = analysis.totals;
  out << "<h2>Summary</h2>\n<table class=\"summary\">\n";
  if (analysis.process) {
    std::string command;
    for (const std::string& argument : analysis.process->command_line) {
      if (!command.empty()) command += ' ';
      command += argument;
    }
    summary_row(out, "program", command + "  (pid " + std::to_string(analysis.process->pid) + ")");
  }
  summary_row(out, "ended",
              describe_end(analysis) + " after " + format_duration(analysis.duration_ns));
  summary_row(out, "allocations",
              format_count(totals.alloc_count) + " calls, " + format_bytes(totals.alloc_bytes) +
                  " in total");
  summary_row(out, "peak heap",
              format_bytes(totals.peak_bytes) + " at " + format_duration(totals.peak_time_ns));
  if (analysis.memory_samples != 0)
    summary_row(out, "peak RSS", format_bytes(analysis.peak_rss_bytes));
  summary_row(
      out, analysis.end ? "leaked" : "live at end",
      format_bytes(totals.live_bytes) + " in " + format_count(totals.live_count) + " blocks");
  summary_row(out, "temporary", format_count(totals.temporary_count) + " allocations");
  summary_row(out, "sites", format_count(analysis.sites.size()));
  if (!analysis.monitor_settings.empty()) {
    const MonitorSettingsInfo& last = analysis.monitor_settings.back();
    summary_row(out, "access monitor",
                analysis.monitor_settings.front().backend + ": " +
                    format_count(analysis.snapshot_count) + " snapshots, sampling " +
                    format_duration(last.sampling_ns) + ", aggregation " +
                    format_duration(last.aggregation_ns));
  }
  if (analysis.working_set.count() != 0) {
    const LogHistogram& sizes = analysis.working_set;
    summary_row(out, "working set",
                format_bytes(sizes.percentile(0.5)) + " median, " +
                    format_bytes(sizes.percentile(0.9)) + " p90, " +
                    format_bytes(sizes.percentile(0.99)) + " p99, " + format_bytes(sizes.max()) +
                    " at most");
    summary_row(out, "idle threshold", format_duration(analysis.idle_threshold_ns));
  }
  out << "</table>\n";
}

// The program's phases and markers (include/damon_prof/annotate.h): names it chose, escaped.
void write_annotations(std::ostream& out, const Analysis& analysis) {
  if (analysis.phases.empty() && analysis.markers.empty()) return;
  out << "<h2>Phases and markers</h2>\n<table class=\"summary\">\n";
  for (const PhaseStats& phase : analysis.phases) {
    summary_row(out, "phase " + phase.name,
                format_count(phase.spans) + " spans, " + format_duration(phase.total_ns) +
                    ", peak heap " + format_bytes(phase.peak_heap_bytes) + ", " +
                    format_bytes(phase.alloc_bytes) + " allocated");
  }
  size_t shown = 0;
  for (const Marker& marker : analysis.markers) {
    if (shown++ == 100) break;
    summary_row(out, "marker at " + format_duration(marker.time_ns), marker.name);
  }
  out << "</table>\n";
}

void write_site_table(std::ostream& out, Analysis& analysis) {
  std::vector<size_t> listed = top_sites(analysis, 500, [](const Site& site) {
    return static_cast<double>(site.peak_bytes + site.alloc_bytes) + site.access.hot_byte_seconds +
           site.access.idle_byte_seconds + 1;
  });
  symbolize_sites(analysis, listed);
  out << "<h2>Allocation sites</h2>\n<p class=\"note\">" << listed.size() << " of "
      << analysis.sites.size() << " sites; click a heading to sort.</p>\n";
  out << "<table class=\"sortable\" id=\"sites\"><thead><tr><th class=\"name\">site</th>"
         "<th class=\"name\">location</th>";
  bool access = analysis.snapshot_count != 0;
  std::vector<const SiteMetric*> columns;
  for (const SiteMetric& metric : site_metrics()) {
    if (metric.unit == MetricUnit::kBytes || metric.unit == MetricUnit::kCount || access) {
      columns.push_back(&metric);
    }
  }
  for (const SiteMetric* column : columns) out << "<th>" << xml_escape(column->title) << "</th>";
  out << "</tr></thead>\n<tbody>\n";
  for (size_t index : listed) {
    const Site& site = analysis.sites[index];
    std::string location = site.frames.empty() ? "" : frame_location(site.frames[site.name_frame]);
    out << "<tr><td class=\"name\" title=\"" << xml_escape(site_name(site)) << "\">"
        << xml_escape(site_name(site)) << "</td><td class=\"name\">" << xml_escape(location)
        << "</td>";
    for (const SiteMetric* column : columns) {
      double value = column->value(site, analysis);
      char number[40];
      std::snprintf(number, sizeof(number), "%.6g", value);
      out << "<td data-value=\"" << number << "\">" << xml_escape(format_metric(*column, value))
          << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</tbody></table>\n";
}

void write_flamegraphs(std::ostream& out, Analysis& analysis) {
  std::vector<const char*> weights = {"peak", "allocated", "allocs", "leaked"};
  if (analysis.snapshot_count != 0)
    weights.insert(weights.begin(), {"hot", "idle", "never-touched"});
  out << "<h2>Flamegraphs</h2>\n<p class=\"note\">Hover a frame for details, click to zoom; "
         "search: <input id=\"flame-search\" placeholder=\"function name or regex\"></p>\n";
  out << "<div class=\"tabs\" data-group=\"flame\">";
  for (size_t i = 0; i < weights.size(); ++i) {
    out << "<button data-pane=\"" << weights[i] << "\"" << (i == 0 ? " class=\"active\"" : "")
        << ">" << weights[i] << "</button>";
  }
  out << "</div>\n";
  for (size_t i = 0; i < weights.size(); ++i) {
    const SiteMetric& metric = *find_site_metric(weights[i]);
    FlameNode root = build_flame_tree(analysis, metric);
    out << "<div class=\"pane" << (i == 0 ? " active" : "")
        << "\" data-group=\"flame\" data-pane=\"" << weights[i] << "\">\n";
    write_flamegraph_element(out, root, metric,
                             std::string("Allocation sites by ") + metric.name + " (" +
                                 format_metric(metric, root.weight) + " in all)",
                             std::string("flame-") + weights[i]);
    out << "</div>\n";
  }
}

void write_heatmaps(std::ostream& out, Analysis& analysis, ReaderOptions reader) {
  out << "<h2>Heatmaps</h2>\n";
  if (analysis.snapshot_count == 0) {
    out << "<p class=\"note\">No region snapshots in this trace: heatmaps need the access "
           "monitor.</p>\n";
    return;
  }
  const std::pair<HeatmapKind, const char*> kinds[] = {
      {HeatmapKind::kSite, "by site"},
      {HeatmapKind::kAddress, "by address"},
      {HeatmapKind::kTemperature, "by temperature"}};
  out << "<div class=\"tabs\" data-group=\"heat\">";
  for (size_t i = 0; i < 3; ++i) {
    out << "<button data-pane=\"" << i << "\"" << (i == 0 ? " class=\"active\"" : "") << ">"
        << kinds[i].second << "</button>";
  }
  out << "</div>\n";
  for (size_t i = 0; i < 3; ++i) {
    HeatmapOptions options;
    options.kind = kinds[i].first;
    options.columns = 150;
    options.rows = 48;
    Heatmap heatmap = build_heatmap(analysis, reader, options);
    out << "<div class=\"pane" << (i == 0 ? " active" : "") << "\" data-group=\"heat\" data-pane=\""
        << i << "\">\n";
    write_heatmap_svg(out, heatmap, true);
    out << "</div>\n";
  }
}

}  // namespace

void write_timeline_svg(std::ostream& out, const Analysis& analysis, bool element) {
  const auto& points = analysis.timeline.points();
  const double left = 90;
  const double top = 30;
  const double width = 900;
  const double height = 260;
  uint64_t first = points.empty() ? 0 : points.front().time_ns;
  uint64_t last = points.empty() ? 1 : std::max(first + 1, points.back().time_ns);
  uint64_t highest = 1;
  for (const TimelinePoint& point : points) {
    highest = std::max(
        {highest, point.rss_bytes, point.heap_bytes, point.working_set_bytes, point.idle_bytes});
  }
  if (!element) out << "<?xml version=\"1.0\" standalone=\"no\"?>\n";
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer),
                "<svg class=\"dprof-timeline\" xmlns=\"http://www.w3.org/2000/svg\" "
                "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                "font-family=\"sans-serif\" font-size=\"11\">\n",
                left + width + 150, top + height + 50, left + width + 150, top + height + 50);
  out << buffer << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
      << "<text x=\"" << left << "\" y=\"18\" font-size=\"14\">Footprint and working set over time"
      << "</text>\n";
  struct Line {
    const char* name;
    const char* colour;
    uint64_t TimelinePoint::*field;
  };
  const Line lines[] = {{"RSS", "#d62728", &TimelinePoint::rss_bytes},
                        {"heap in use", "#1f77b4", &TimelinePoint::heap_bytes},
                        {"working set", "#2ca02c", &TimelinePoint::working_set_bytes},
                        {"idle", "#9467bd", &TimelinePoint::idle_bytes}};
  for (int tick = 0; tick <= 4; ++tick) {
    double y = top + height - height * tick / 4.0;
    std::snprintf(buffer, sizeof(buffer),
                  "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">",
                  left, left + width, y, y, left - 6, y + 4);
    out << buffer << format_bytes(highest * static_cast<uint64_t>(tick) / 4) << "</text>\n";
    double x = left + width * tick / 4.0;
    std::snprintf(buffer, sizeof(buffer), "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x,
                  top + height + 16);
    out << buffer << format_duration(first + (last - first) * static_cast<uint64_t>(tick) / 4)
        << "</text>\n";
  }
  std::vector<TimeMark> marks;
  std::vector<TimeBand> bands;
  annotation_marks(analysis, first, last, 40, marks, bands);
  write_svg_annotations(out, marks, bands, first, last, left, width, top, top + height);
  size_t legend = 0;
  for (const Line& line : lines) {
    std::string path;
    for (const TimelinePoint& point : points) {
      uint64_t value = point.*line.field;
      if (value == 0 && line.field != &TimelinePoint::heap_bytes) continue;
      double x = left + width * static_cast<double>(point.time_ns - first) /
                            static_cast<double>(last - first);
      double y = top + height - height * static_cast<double>(value) / static_cast<double>(highest);
      std::snprintf(buffer, sizeof(buffer), "%s%.1f,%.1f", path.empty() ? "M" : " L", x, y);
      path += buffer;
    }
    if (path.empty()) continue;
    out << "<path d=\"" << path << "\" fill=\"none\" stroke=\"" << line.colour
        << "\" stroke-width=\"1.5\"/>\n";
    std::snprintf(buffer, sizeof(buffer),
                  "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"3\" fill=\"%s\"/>"
                  "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
                  left + width + 14, top + 10 + 18.0 * static_cast<double>(legend), line.colour,
                  left + width + 30, top + 14 + 18.0 * static_cast<double>(legend), line.name);
    out << buffer;
    ++legend;
  }
  out << "</svg>\n";
}

void write_html_report(std::ostream& out, Analysis& analysis, ReaderOptions reader) {
  std::string program = analysis.process && !analysis.process->command_line.empty()
                            ? analysis.process->command_line.front()
                            : analysis.path;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n"
      << "<title>damon-prof: " << xml_escape(program) << "</title>\n<style>" << kStyle
      << "</style>\n</head><body>\n";
  out << "<h1>damon-prof report</h1>\n<p class=\"note\">" << xml_escape(analysis.path) << "</p>\n";
  write_summary(out, analysis);
  write_annotations(out, analysis);
  write_site_table(out, analysis);
  write_flamegraphs(out, analysis);
  write_heatmaps(out, analysis, reader);
  out << "<h2>Footprint over time</h2>\n";
  write_timeline_svg(out, analysis, true);
  out << "<script>" << flamegraph_script() << "</script>\n<script>" << kScript
      << "</script>\n</body></html>\n";
}

}  // namespace dprof::analyzer
