#include "heatmap.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_map>

#include "attribution.h"
#include "flamegraph.h"
#include "pixel_font.h"
#include "report_common.h"
#include "trace_decoder.h"
#include "units.h"

namespace dprof::analyzer {
namespace {

bool in_time(const HeatmapOptions& options, const RegionSnapshot& snapshot) {
  return snapshot.time_ns >= options.time_from_ns && snapshot.time_ns <= options.time_to_ns;
}

// The part of a region inside the address range; false when none.
bool clip(const HeatmapOptions& options, const SnapshotRegion& region, uint64_t& start,
          uint64_t& end) {
  start = std::max(region.start, options.address_from);
  end = std::min(region.end, options.address_to);
  return start < end;
}

uint64_t interval_start(const RegionSnapshot& snapshot) {
  return snapshot.time_ns > snapshot.aggregation_ns ? snapshot.time_ns - snapshot.aggregation_ns
                                                    : 0;
}

// First pass: the watched ranges (joined), the time span and the most bytes watched at once.
class Extents : public TraceConsumer {
 public:
  explicit Extents(const HeatmapOptions& options) : options_(options) {}
  void on_region_snapshot(const RegionSnapshot& snapshot) override {
    if (!in_time(options_, snapshot)) return;
    ++snapshots;
    // A snapshot stands for its whole aggregation interval.
    first_time = std::min(first_time, interval_start(snapshot));
    last_time = std::max(last_time, snapshot.time_ns);
    uint64_t watched = 0;
    for (const SnapshotRegion& region : snapshot.regions) {
      uint64_t start;
      uint64_t end;
      if (!clip(options_, region, start, end)) continue;
      watched += end - start;
      add(start, end);
    }
    most_watched = std::max(most_watched, watched);
  }
  void add(uint64_t start, uint64_t end) {
    auto next = ranges.upper_bound(start);
    if (next != ranges.begin()) {
      auto previous = std::prev(next);
      if (previous->second >= start) {
        start = previous->first;
        end = std::max(end, previous->second);
        ranges.erase(previous);
      }
    }
    while (true) {
      next = ranges.lower_bound(start);
      if (next == ranges.end() || next->first > end) break;
      end = std::max(end, next->second);
      ranges.erase(next);
    }
    ranges[start] = end;
  }

  std::map<uint64_t, uint64_t> ranges;
  uint64_t snapshots = 0;
  uint64_t first_time = UINT64_MAX;
  uint64_t last_time = 0;
  uint64_t most_watched = 0;

 private:
  const HeatmapOptions& options_;
};

// Sums of value x weight and of weight per cell; a cell's value is their ratio.
class Grid {
 public:
  Grid(size_t rows, size_t columns)
      : rows_(rows), columns_(columns), sum_(rows * columns, 0.0), weight_(rows * columns, 0.0) {}
  void add(size_t row, size_t column, double value, double weight) {
    sum_[row * columns_ + column] += value * weight;
    weight_[row * columns_ + column] += weight;
  }
  std::vector<double> values() const {
    std::vector<double> cells(rows_ * columns_, -1.0);
    for (size_t i = 0; i < cells.size(); ++i) {
      if (weight_[i] > 0) cells[i] = sum_[i] / weight_[i];
    }
    return cells;
  }

 private:
  size_t rows_;
  size_t columns_;
  std::vector<double> sum_;
  std::vector<double> weight_;
};

size_t column_of(uint64_t time, uint64_t first, uint64_t last, size_t columns) {
  if (last <= first || time <= first) return 0;
  auto column = static_cast<size_t>(static_cast<long double>(time - first) * columns /
                                    static_cast<long double>(last - first + 1));
  return std::min(columns - 1, column);
}

// The columns a snapshot covers: every one its aggregation interval overlaps, so that the picture
// has no blank between snapshots of uneven length (the tuner ends one early when it changes the
// intervals, and a column may be shorter than a snapshot).
struct ColumnSpan {
  size_t first;
  size_t last;
};
ColumnSpan columns_of(const RegionSnapshot& snapshot, uint64_t first, uint64_t last,
                      size_t columns) {
  return {column_of(interval_start(snapshot), first, last, columns),
          column_of(snapshot.time_ns, first, last, columns)};
}

// Rows over a byte axis [0, total): spreads [from, to) over the rows it covers.
template <typename Add>
void spread(uint64_t from, uint64_t to, uint64_t total, size_t rows, Add add) {
  if (total == 0) return;
  while (from < to) {
    auto row = static_cast<size_t>(static_cast<long double>(from) * rows / total);
    row = std::min(rows - 1, row);
    auto row_end = static_cast<uint64_t>(static_cast<long double>(total) * (row + 1) / rows);
    if (row_end <= from) row_end = from + 1;
    uint64_t piece_end = std::min(to, row_end);
    add(row, static_cast<double>(piece_end - from));
    from = piece_end;
  }
}

class AddressPass : public TraceConsumer {
 public:
  AddressPass(const HeatmapOptions& options, const Extents& extents, Grid& grid, size_t rows,
              size_t columns)
      : options_(options), extents_(extents), grid_(grid), rows_(rows), columns_(columns) {
    for (const auto& [start, end] : extents.ranges) {
      offsets_.push_back({start, end, total});
      total += end - start;
    }
  }
  void on_region_snapshot(const RegionSnapshot& snapshot) override {
    if (!in_time(options_, snapshot)) return;
    ColumnSpan span = columns_of(snapshot, extents_.first_time, extents_.last_time, columns_);
    for (const SnapshotRegion& region : snapshot.regions) {
      uint64_t start;
      uint64_t end;
      if (!clip(options_, region, start, end)) continue;
      double frequency = access_frequency(snapshot, region);
      uint64_t from = compact(start);
      spread(from, from + (end - start), total, rows_, [&](size_t row, double bytes) {
        for (size_t column = span.first; column <= span.last; ++column) {
          grid_.add(row, column, frequency, bytes);
        }
      });
    }
  }
  // The real address at the start of a row.
  uint64_t address_of_row(size_t row) const {
    auto position = static_cast<uint64_t>(static_cast<long double>(total) * row / rows_);
    for (const Offset& offset : offsets_) {
      if (position < offset.compact + (offset.end - offset.start))
        return offset.start + (position - offset.compact);
    }
    return offsets_.empty() ? 0 : offsets_.back().end;
  }
  uint64_t total = 0;

 private:
  struct Offset {
    uint64_t start;
    uint64_t end;
    uint64_t compact;
  };
  uint64_t compact(uint64_t address) const {
    auto it = std::upper_bound(offsets_.begin(), offsets_.end(), address,
                               [](uint64_t a, const Offset& o) { return a < o.start; });
    if (it == offsets_.begin()) return 0;
    --it;
    return it->compact + (address - it->start);
  }
  const HeatmapOptions& options_;
  const Extents& extents_;
  Grid& grid_;
  size_t rows_;
  size_t columns_;
  std::vector<Offset> offsets_;
};

class TemperaturePass : public TraceConsumer {
 public:
  TemperaturePass(const HeatmapOptions& options, const Extents& extents, Grid& grid, size_t rows,
                  size_t columns)
      : options_(options), extents_(extents), grid_(grid), rows_(rows), columns_(columns) {}
  void on_region_snapshot(const RegionSnapshot& snapshot) override {
    if (!in_time(options_, snapshot)) return;
    ColumnSpan span = columns_of(snapshot, extents_.first_time, extents_.last_time, columns_);
    std::vector<std::pair<double, uint64_t>> pieces;  // frequency, bytes
    for (const SnapshotRegion& region : snapshot.regions) {
      uint64_t start;
      uint64_t end;
      if (clip(options_, region, start, end))
        pieces.emplace_back(access_frequency(snapshot, region), end - start);
    }
    std::stable_sort(pieces.begin(), pieces.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    uint64_t at = 0;
    for (const auto& [frequency, bytes] : pieces) {
      double value = frequency;
      spread(at, at + bytes, extents_.most_watched, rows_, [&](size_t row, double weight) {
        for (size_t column = span.first; column <= span.last; ++column) {
          grid_.add(row, column, value, weight);
        }
      });
      at += bytes;
    }
  }

 private:
  const HeatmapOptions& options_;
  const Extents& extents_;
  Grid& grid_;
  size_t rows_;
  size_t columns_;
};

// Per site and time bin: the site's hot bytes (bytes x access frequency), averaged over the
// snapshots in the bin; scaled to the largest cell afterwards.
class SitePass : public TraceConsumer {
 public:
  SitePass(const HeatmapOptions& options, const Analysis& analysis, const Extents& extents,
           const std::unordered_map<size_t, size_t>& row_of_site, Grid& grid, size_t columns)
      : options_(options),
        analysis_(analysis),
        extents_(extents),
        row_of_site_(row_of_site),
        grid_(grid),
        columns_(columns),
        attribution_(heap_, analysis.idle_threshold_ns) {
    heap_.set_page_size(analysis.page_size);
  }
  void prefetch(const Event& event) override { heap_.prefetch(event); }
  void on_event(const Event& event) override { heap_.apply(event); }
  void on_monitor_settings(const MonitorSettingsInfo& settings) override {
    // As the analysis does: blocks older than read sampling are never watched for reads.
    if (!settings_seen_ && settings.backend.find("mprotect") != std::string::npos) {
      attribution_.set_reads_watched_from(settings.time_ns);
    }
    settings_seen_ = true;
  }
  void on_access_sample(const AccessSample& sample) override {
    attribution_.on_access_sample(sample);
  }
  void on_region_snapshot(const RegionSnapshot& snapshot) override {
    bool wanted = in_time(options_, snapshot);
    ColumnSpan span = columns_of(snapshot, extents_.first_time, extents_.last_time, columns_);
    std::vector<double> hot(row_of_site_.size(), 0.0);
    attribution_.on_snapshot(snapshot, [&](const SnapshotShare& share) {
      auto site = analysis_.site_of_stack.find(share.stack_id);
      if (site == analysis_.site_of_stack.end()) return;
      auto row = row_of_site_.find(site->second);
      if (row != row_of_site_.end()) hot[row->second] += share.hot_bytes;
    });
    if (!wanted) return;
    for (size_t row = 0; row < hot.size(); ++row) {
      for (size_t column = span.first; column <= span.last; ++column) {
        grid_.add(row, column, hot[row], 1.0);
      }
      largest = std::max(largest, hot[row]);
    }
  }
  double largest = 0;

 private:
  const HeatmapOptions& options_;
  const Analysis& analysis_;
  const Extents& extents_;
  const std::unordered_map<size_t, size_t>& row_of_site_;
  Grid& grid_;
  size_t columns_;
  HeapModel heap_;
  AccessAttribution attribution_;
  bool settings_seen_ = false;
};

// A label cut to `width` characters keeping its end: a function's own name is at the end of
// "(anonymous namespace)::Cache::fill".
std::string fit_label(const std::string& label, size_t width) {
  if (label.size() <= width) return label;
  return ".." + label.substr(label.size() - (width - 2));
}

std::string hex_address(uint64_t address) {
  char text[24];
  std::snprintf(text, sizeof(text), "%llx", static_cast<unsigned long long>(address));
  return text;
}

}  // namespace

void heat_colour(double value, uint8_t rgb[3]) {
  static const double kStops[][3] = {
      {13, 8, 60}, {90, 20, 120}, {190, 40, 80}, {245, 125, 20}, {252, 240, 160}};
  value = std::clamp(value, 0.0, 1.0) * 4.0;
  auto low = static_cast<size_t>(std::min(3.0, std::floor(value)));
  double t = value - static_cast<double>(low);
  for (int i = 0; i < 3; ++i) {
    rgb[i] = static_cast<uint8_t>(kStops[low][i] + (kStops[low + 1][i] - kStops[low][i]) * t + 0.5);
  }
}

void annotation_marks(const Analysis& analysis, uint64_t from_ns, uint64_t to_ns, size_t limit,
                      std::vector<TimeMark>& marks, std::vector<TimeBand>& bands) {
  marks.clear();
  bands.clear();
  for (const Marker& marker : analysis.markers) {
    if (marks.size() == limit) break;
    if (marker.time_ns >= from_ns && marker.time_ns <= to_ns) {
      marks.push_back({marker.time_ns, marker.name});
    }
  }
  for (const PhaseSpan& span : analysis.phase_spans) {
    if (bands.size() == limit) break;
    if (span.end_ns < from_ns || span.begin_ns > to_ns) continue;
    bands.push_back({std::max(span.begin_ns, from_ns), std::min(span.end_ns, to_ns),
                     analysis.phases[span.phase].name});
  }
}

Heatmap build_heatmap(Analysis& analysis, ReaderOptions reader, const HeatmapOptions& options) {
  Heatmap heatmap;
  heatmap.kind = options.kind;
  Extents extents(options);
  decode_trace(analysis.path, extents, reader);
  heatmap.snapshots = extents.snapshots;
  if (extents.snapshots == 0 || extents.ranges.empty()) return heatmap;
  heatmap.time_from_ns = extents.first_time;
  heatmap.time_to_ns = extents.last_time;
  heatmap.columns = std::max<size_t>(1, std::min<size_t>(options.columns, extents.snapshots));
  annotation_marks(analysis, heatmap.time_from_ns, heatmap.time_to_ns, 40, heatmap.marks,
                   heatmap.bands);
  if (options.kind == HeatmapKind::kSite) {
    std::vector<size_t> top = top_sites(analysis, options.top_sites, [](const Site& site) {
      return site.access.hot_byte_seconds + site.access.observed_byte_seconds * 1e-12;
    });
    symbolize_sites(analysis, top);
    std::unordered_map<size_t, size_t> row_of_site;
    for (size_t row = 0; row < top.size(); ++row) row_of_site[top[row]] = row;
    heatmap.rows = std::max<size_t>(1, top.size());
    Grid grid(heatmap.rows, heatmap.columns);
    SitePass pass(options, analysis, extents, row_of_site, grid, heatmap.columns);
    decode_trace(analysis.path, pass, reader);
    heatmap.cells = grid.values();
    for (double& cell : heatmap.cells) {
      if (cell >= 0) cell = pass.largest > 0 ? cell / pass.largest : 0;
    }
    for (size_t index : top) heatmap.row_labels.push_back(site_name(analysis.sites[index]));
    if (top.empty()) heatmap.row_labels.push_back("(no site held monitored memory)");
    heatmap.title = "Hot bytes per allocation site over time";
    heatmap.row_axis =
        "allocation site (top " + std::to_string(top.size()) + " by hot byte-seconds)";
    heatmap.value_label = "full colour = " + format_bytes(static_cast<uint64_t>(pass.largest)) +
                          " hot (bytes x access frequency)";
    return heatmap;
  }
  heatmap.rows = std::max<size_t>(2, options.rows);
  Grid grid(heatmap.rows, heatmap.columns);
  if (options.kind == HeatmapKind::kAddress) {
    AddressPass pass(options, extents, grid, heatmap.rows, heatmap.columns);
    decode_trace(analysis.path, pass, reader);
    for (size_t row = 0; row < heatmap.rows; ++row)
      heatmap.row_labels.push_back(hex_address(pass.address_of_row(row)));
    heatmap.title = "Access frequency by address over time";
    heatmap.row_axis = "address (" + std::to_string(extents.ranges.size()) +
                       " watched ranges, gaps removed; " + format_bytes(pass.total) + ")";
  } else {
    TemperaturePass pass(options, extents, grid, heatmap.rows, heatmap.columns);
    decode_trace(analysis.path, pass, reader);
    for (size_t row = 0; row < heatmap.rows; ++row) {
      heatmap.row_labels.push_back(format_bytes(static_cast<uint64_t>(
          static_cast<long double>(extents.most_watched) * row / heatmap.rows)));
    }
    heatmap.title = "Memory sorted by temperature over time (hottest at the top)";
    heatmap.row_axis = "bytes, hottest first (" + format_bytes(extents.most_watched) + " watched)";
  }
  heatmap.cells = grid.values();
  heatmap.value_label = "full colour = accessed in every sampling interval";
  return heatmap;
}

void write_heatmap_terminal(std::ostream& out, const Heatmap& heatmap, bool color) {
  if (heatmap.cells.empty()) {
    out << "no region snapshots in this trace (or in the chosen ranges)\n";
    return;
  }
  static const char kShades[] = " .:-=+*#%@";
  out << heatmap.title << "\n"
      << "rows: " << heatmap.row_axis << "; columns: time; " << heatmap.value_label
      << (color ? "" : "; darker characters = hotter") << "\n";
  const size_t label_width = heatmap.kind == HeatmapKind::kSite ? 28 : 14;
  for (size_t row = 0; row < heatmap.rows; ++row) {
    std::string label = fit_label(heatmap.row_labels[row], label_width);
    out << std::string(label_width - std::min(label_width, label.size()), ' ') << label << " |";
    for (size_t column = 0; column < heatmap.columns; ++column) {
      double value = heatmap.cell(row, column);
      if (value < 0) {
        out << ' ';
      } else if (color) {
        uint8_t rgb[3];
        heat_colour(value, rgb);
        char cell[32];
        std::snprintf(cell, sizeof(cell), "\033[48;2;%u;%u;%um \033[0m", rgb[0], rgb[1], rgb[2]);
        out << cell;
      } else {
        out << kShades[std::min<size_t>(9, static_cast<size_t>(value * 9.0 + 0.999))];
      }
    }
    out << "|\n";
  }
  out << std::string(label_width + 1, ' ') << '+' << std::string(heatmap.columns, '-') << "+\n";
  std::string left = format_duration(heatmap.time_from_ns);
  std::string right = format_duration(heatmap.time_to_ns);
  size_t gap = heatmap.columns > left.size() + right.size()
                   ? heatmap.columns - left.size() - right.size()
                   : 1;
  out << std::string(label_width + 2, ' ') << left << std::string(gap, ' ') << right << '\n';
  if (heatmap.marks.empty() && heatmap.bands.empty()) return;
  // The program's phases ([ ]) and markers (^) under the columns they fall in, then a legend.
  double span =
      static_cast<double>(std::max<uint64_t>(1, heatmap.time_to_ns - heatmap.time_from_ns));
  auto column_of = [&](uint64_t time) {
    double share = static_cast<double>(time - std::min(time, heatmap.time_from_ns)) / span;
    return std::min(heatmap.columns - 1,
                    static_cast<size_t>(share * static_cast<double>(heatmap.columns)));
  };
  std::string row(heatmap.columns, ' ');
  for (const TimeBand& band : heatmap.bands) {
    size_t first = column_of(band.begin_ns);
    size_t last = column_of(band.end_ns);
    for (size_t column = first; column <= last; ++column) {
      if (row[column] == ' ') row[column] = '-';
    }
    row[first] = '[';
    row[last] = last == first ? '|' : ']';
  }
  for (const TimeMark& mark : heatmap.marks) row[column_of(mark.time_ns)] = '^';
  out << std::string(label_width + 2, ' ') << row << '\n';
  for (const TimeBand& band : heatmap.bands) {
    out << std::string(label_width + 2, ' ') << "[ ] " << format_duration(band.begin_ns) << " - "
        << format_duration(band.end_ns) << "  phase " << printable(band.label) << '\n';
  }
  for (const TimeMark& mark : heatmap.marks) {
    out << std::string(label_width + 2, ' ') << "^   " << format_duration(mark.time_ns) << "  "
        << printable(mark.label) << '\n';
  }
}

void write_svg_annotations(std::ostream& out, const std::vector<TimeMark>& marks,
                           const std::vector<TimeBand>& bands, uint64_t from_ns, uint64_t to_ns,
                           double left, double plot_width, double top, double bottom) {
  char buffer[320];
  double span = static_cast<double>(std::max<uint64_t>(1, to_ns - from_ns));
  auto x_of = [&](uint64_t time) {
    return left + plot_width * static_cast<double>(time - std::min(time, from_ns)) / span;
  };
  for (const TimeBand& band : bands) {
    double x = x_of(band.begin_ns);
    std::snprintf(buffer, sizeof(buffer),
                  "<g class=\"phase\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                  "height=\"%.1f\" fill=\"#39f\" fill-opacity=\"0.15\" stroke=\"#39f\"/><title>",
                  x, top, std::max(1.0, x_of(band.end_ns) - x), bottom - top);
    out << buffer << "phase " << xml_escape(band.label) << ": "
        << xml_escape(format_duration(band.begin_ns)) << " - "
        << xml_escape(format_duration(band.end_ns)) << "</title>";
    std::snprintf(buffer, sizeof(buffer),
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" fill=\"#139\">", x + 2, top + 10);
    out << buffer << xml_escape(fit_label(band.label, 24)) << "</text></g>\n";
  }
  for (const TimeMark& mark : marks) {
    double x = x_of(mark.time_ns);
    std::snprintf(buffer, sizeof(buffer),
                  "<g class=\"marker\"><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"#0a0\" stroke-width=\"1.5\" stroke-dasharray=\"4,2\"/><title>",
                  x, x, top, bottom);
    out << buffer << xml_escape(mark.label) << " at " << xml_escape(format_duration(mark.time_ns))
        << "</title>";
    std::snprintf(buffer, sizeof(buffer),
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" fill=\"#060\">", x + 2, bottom - 3);
    out << buffer << xml_escape(fit_label(mark.label, 24)) << "</text></g>\n";
  }
}

void write_heatmap_svg(std::ostream& out, const Heatmap& heatmap, bool element) {
  const double left = heatmap.kind == HeatmapKind::kSite ? 260 : 130;
  const double top = 40;
  const double cell_width = std::max(2.0, 900.0 / std::max<size_t>(1, heatmap.columns));
  const double cell_height = heatmap.kind == HeatmapKind::kSite
                                 ? 22.0
                                 : std::max(4.0, 480.0 / std::max<size_t>(1, heatmap.rows));
  double width = left + cell_width * static_cast<double>(heatmap.columns) + 20;
  double height = top + cell_height * static_cast<double>(heatmap.rows) + 60;
  char buffer[256];
  if (!element) out << "<?xml version=\"1.0\" standalone=\"no\"?>\n";
  std::snprintf(buffer, sizeof(buffer),
                "<svg class=\"dprof-heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
                "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
                "font-size=\"11\">\n",
                width, height, width, height);
  out << buffer;
  out << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  out << "<text x=\"" << left << "\" y=\"16\" font-size=\"14\">" << xml_escape(heatmap.title)
      << "</text>\n";
  out << "<text x=\"" << left << "\" y=\"32\" fill=\"#555\">" << xml_escape(heatmap.row_axis)
      << "; " << xml_escape(heatmap.value_label) << "</text>\n";
  if (heatmap.cells.empty()) {
    out << "<text x=\"" << left << "\" y=\"60\">no region snapshots</text>\n</svg>\n";
    return;
  }
  for (size_t row = 0; row < heatmap.rows; ++row) {
    for (size_t column = 0; column < heatmap.columns; ++column) {
      double value = heatmap.cell(row, column);
      if (value < 0) continue;
      uint8_t rgb[3];
      heat_colour(value, rgb);
      std::snprintf(buffer, sizeof(buffer),
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"#%02x%02x%02x\"><title>%.0f%%</title></rect>\n",
                    left + cell_width * static_cast<double>(column),
                    top + cell_height * static_cast<double>(row), cell_width + 0.05,
                    cell_height + 0.05, rgb[0], rgb[1], rgb[2], value * 100);
      out << buffer;
    }
  }
  // Row labels: every row for sites, about every 20 px otherwise.
  size_t every = heatmap.kind == HeatmapKind::kSite
                     ? 1
                     : std::max<size_t>(1, static_cast<size_t>(20.0 / cell_height));
  for (size_t row = 0; row < heatmap.rows; row += every) {
    std::string label = fit_label(heatmap.row_labels[row], 40);
    std::snprintf(buffer, sizeof(buffer), "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
                  left - 6,
                  top + cell_height * static_cast<double>(row) + std::min(cell_height, 14.0) - 3);
    out << buffer << xml_escape(label) << "</text>\n";
  }
  double bottom = top + cell_height * static_cast<double>(heatmap.rows);
  for (int tick = 0; tick <= 4; ++tick) {
    double x = left + cell_width * static_cast<double>(heatmap.columns) * tick / 4.0;
    uint64_t time = heatmap.time_from_ns +
                    (heatmap.time_to_ns - heatmap.time_from_ns) * static_cast<uint64_t>(tick) / 4;
    std::snprintf(buffer, sizeof(buffer),
                  "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                  x, x, bottom, bottom + 5, x, bottom + 18);
    out << buffer << xml_escape(format_duration(time)) << "</text>\n";
  }
  std::snprintf(buffer, sizeof(buffer), "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                left + cell_width * static_cast<double>(heatmap.columns) / 2, bottom + 36);
  out << buffer << "time since the program started</text>\n";
  write_svg_annotations(out, heatmap.marks, heatmap.bands, heatmap.time_from_ns, heatmap.time_to_ns,
                        left, cell_width * static_cast<double>(heatmap.columns), top, bottom);
  out << "</svg>\n";
}

namespace {

class Image {
 public:
  Image(size_t width, size_t height)
      : width_(width), height_(height), pixels_(width * height * 3, 255) {}
  void put(size_t x, size_t y, const uint8_t rgb[3]) {
    if (x >= width_ || y >= height_) return;
    std::copy(rgb, rgb + 3, &pixels_[(y * width_ + x) * 3]);
  }
  void fill(size_t x, size_t y, size_t w, size_t h, const uint8_t rgb[3]) {
    for (size_t j = 0; j < h; ++j)
      for (size_t i = 0; i < w; ++i) put(x + i, y + j, rgb);
  }
  // 3x5 glyphs at scale 2: 8 px per character.
  void text(size_t x, size_t y, const std::string& text) {
    static const uint8_t kInk[3] = {30, 30, 30};
    for (char c : text) {
      const uint8_t* glyph = pixel_glyph(c);
      for (size_t row = 0; row < 5; ++row)
        for (size_t column = 0; column < 3; ++column)
          if ((glyph[row] >> (2 - column)) & 1) fill(x + column * 2, y + row * 2, 2, 2, kInk);
      x += 8;
    }
  }
  void line(double x0, double y0, double x1, double y1, const uint8_t rgb[3]) {
    double steps = std::max({std::abs(x1 - x0), std::abs(y1 - y0), 1.0});
    for (double step = 0; step <= steps; ++step) {
      double t = step / steps;
      auto x = static_cast<size_t>(x0 + (x1 - x0) * t + 0.5);
      auto y = static_cast<size_t>(y0 + (y1 - y0) * t + 0.5);
      fill(x, y, 2, 2, rgb);
    }
  }
  size_t width() const { return width_; }
  size_t height() const { return height_; }
  const uint8_t* row(size_t y) const { return &pixels_[y * width_ * 3]; }

 private:
  size_t width_;
  size_t height_;
  std::vector<uint8_t> pixels_;
};

bool save_png(const std::string& path, const Image& image, std::string* error) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    if (error != nullptr) *error = "cannot create the file";
    return false;
  }
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png == nullptr ? nullptr : png_create_info_struct(png);
  if (png == nullptr || info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(file);
    if (error != nullptr) *error = "PNG encoding failed";
    return false;
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width()),
               static_cast<png_uint_32>(image.height()), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (size_t y = 0; y < image.height(); ++y) {
    png_write_row(png, const_cast<png_bytep>(image.row(y)));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  if (std::fclose(file) != 0) {
    if (error != nullptr) *error = "write failed";
    return false;
  }
  return true;
}

}  // namespace

bool write_heatmap_png(const std::string& path, const Heatmap& heatmap, std::string* error) {
  const size_t label_chars = heatmap.kind == HeatmapKind::kSite ? 30 : 14;
  const size_t left = label_chars * 8 + 12;
  const size_t top = 34;
  const size_t columns = std::max<size_t>(1, heatmap.columns);
  const size_t rows = std::max<size_t>(1, heatmap.rows);
  const size_t cell_width = std::max<size_t>(2, 900 / columns);
  const size_t cell_height =
      heatmap.kind == HeatmapKind::kSite ? 20 : std::max<size_t>(3, 480 / rows);
  Image image(left + cell_width * columns + 16, top + cell_height * rows + 40);
  std::string title = heatmap.title;
  image.text(left, 6, title.substr(0, (image.width() - left) / 8));
  image.text(left, 20, heatmap.value_label.substr(0, (image.width() - left) / 8));
  if (heatmap.cells.empty()) {
    image.text(left, top + 10, "no region snapshots");
  } else {
    for (size_t row = 0; row < heatmap.rows; ++row) {
      for (size_t column = 0; column < heatmap.columns; ++column) {
        double value = heatmap.cell(row, column);
        if (value < 0) continue;
        uint8_t rgb[3];
        heat_colour(value, rgb);
        image.fill(left + column * cell_width, top + row * cell_height, cell_width, cell_height,
                   rgb);
      }
    }
    size_t every = std::max<size_t>(1, (14 + cell_height - 1) / cell_height);
    for (size_t row = 0; row < heatmap.rows; row += every) {
      std::string label = fit_label(heatmap.row_labels[row], label_chars);
      image.text(left - 6 - label.size() * 8, top + row * cell_height + 1, label);
    }
    size_t bottom = top + cell_height * rows;
    static const uint8_t kAxis[3] = {60, 60, 60};
    for (int tick = 0; tick <= 4; ++tick) {
      size_t x = left + cell_width * columns * static_cast<size_t>(tick) / 4;
      image.fill(std::min(x, image.width() - 1), bottom, 1, 5, kAxis);
      uint64_t time = heatmap.time_from_ns +
                      (heatmap.time_to_ns - heatmap.time_from_ns) * static_cast<uint64_t>(tick) / 4;
      std::string label = format_duration(time);
      size_t width = label.size() * 8;
      size_t at = x > width / 2 ? x - width / 2 : 0;
      image.text(std::min(at, image.width() - width), bottom + 9, label);
    }
    image.text(left, bottom + 25, "time");
    // The program's phases (blue edges) and markers (dashed green lines).
    double span =
        static_cast<double>(std::max<uint64_t>(1, heatmap.time_to_ns - heatmap.time_from_ns));
    auto x_of = [&](uint64_t time) {
      double share = static_cast<double>(time - std::min(time, heatmap.time_from_ns)) / span;
      return left + static_cast<size_t>(share * static_cast<double>(cell_width * columns));
    };
    static const uint8_t kPhase[3] = {40, 120, 255};
    static const uint8_t kMarker[3] = {0, 170, 0};
    for (const TimeBand& band : heatmap.bands) {
      image.fill(x_of(band.begin_ns), top, 1, bottom - top, kPhase);
      image.fill(x_of(band.end_ns), top, 1, bottom - top, kPhase);
      image.fill(x_of(band.begin_ns), top, x_of(band.end_ns) - x_of(band.begin_ns) + 1, 2, kPhase);
    }
    for (const TimeMark& mark : heatmap.marks) {
      for (size_t y = top; y < bottom; y += 6) image.fill(x_of(mark.time_ns), y, 2, 4, kMarker);
    }
  }
  return save_png(path, image, error);
}

bool write_timeline_png(const std::string& path, const Analysis& analysis, std::string* error) {
  const auto& points = analysis.timeline.points();
  const size_t left = 100;
  const size_t top = 30;
  const size_t width = 900;
  const size_t height = 300;
  Image image(left + width + 150, top + height + 50);
  image.text(left, 8, "FOOTPRINT AND WORKING SET OVER TIME");
  uint64_t first = points.empty() ? 0 : points.front().time_ns;
  uint64_t last = points.empty() ? 1 : std::max(first + 1, points.back().time_ns);
  uint64_t highest = 1;
  for (const TimelinePoint& point : points) {
    highest = std::max(
        {highest, point.rss_bytes, point.heap_bytes, point.working_set_bytes, point.idle_bytes});
  }
  static const uint8_t kGrid[3] = {220, 220, 220};
  for (size_t tick = 0; tick <= 4; ++tick) {
    size_t y = top + height - height * tick / 4;
    image.fill(left, y, width, 1, kGrid);
    std::string label = format_bytes(highest * tick / 4);
    image.text(left - 6 - label.size() * 8, y - 5, label);
    size_t x = left + width * tick / 4;
    std::string time = format_duration(first + (last - first) * tick / 4);
    image.text(x > time.size() * 4 ? x - time.size() * 4 : 0, top + height + 10, time);
  }
  struct Series {
    const char* name;
    uint8_t colour[3];
    uint64_t TimelinePoint::*field;
  };
  const Series series[] = {{"RSS", {214, 39, 40}, &TimelinePoint::rss_bytes},
                           {"HEAP", {31, 119, 180}, &TimelinePoint::heap_bytes},
                           {"WORKING SET", {44, 160, 44}, &TimelinePoint::working_set_bytes},
                           {"IDLE", {148, 103, 189}, &TimelinePoint::idle_bytes}};
  size_t legend = 0;
  for (const Series& one : series) {
    bool drawn = false;
    double previous_x = 0;
    double previous_y = 0;
    for (const TimelinePoint& point : points) {
      uint64_t value = point.*one.field;
      if (value == 0 && one.field != &TimelinePoint::heap_bytes) continue;
      double x = static_cast<double>(left) + static_cast<double>(width) *
                                                 static_cast<double>(point.time_ns - first) /
                                                 static_cast<double>(last - first);
      double y = static_cast<double>(top + height) - static_cast<double>(height) *
                                                         static_cast<double>(value) /
                                                         static_cast<double>(highest);
      if (drawn) image.line(previous_x, previous_y, x, y, one.colour);
      previous_x = x;
      previous_y = y;
      drawn = true;
    }
    if (!drawn) continue;
    image.fill(left + width + 14, top + 12 + 18 * legend, 12, 3, one.colour);
    image.text(left + width + 30, top + 8 + 18 * legend, one.name);
    ++legend;
  }
  return save_png(path, image, error);
}

}  // namespace dprof::analyzer
