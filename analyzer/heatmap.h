// Access heatmaps from the region snapshots, three ways:
//   address      time x address, the gaps between watched ranges compacted away
//   site         time x allocation site (the top N by hot byte-seconds): each site's hot bytes
//   temperature  time x memory sorted by access frequency, hottest at the top: how big the hot
//                part of memory is, over time
// and three outputs: the terminal (colour blocks, or shades without colour), PNG and SVG.
// Building one streams the trace again; memory is bounded by the grid and the live blocks.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "analysis.h"

namespace dprof::analyzer {

enum class HeatmapKind { kAddress, kSite, kTemperature };

struct HeatmapOptions {
  HeatmapKind kind = HeatmapKind::kAddress;
  size_t rows = 32;
  size_t columns = 100;
  size_t top_sites = 12;  // site heatmap rows
  uint64_t time_from_ns = 0;
  uint64_t time_to_ns = UINT64_MAX;
  uint64_t address_from = 0;
  uint64_t address_to = UINT64_MAX;
};

// What the program annotated (include/damon_prof/annotate.h), drawn over the time axis.
struct TimeMark {
  uint64_t time_ns = 0;
  std::string label;
};
struct TimeBand {
  uint64_t begin_ns = 0;
  uint64_t end_ns = 0;
  std::string label;
};
// The markers and phase spans inside [from, to], at most `limit` of each.
void annotation_marks(const Analysis& analysis, uint64_t from_ns, uint64_t to_ns, size_t limit,
                      std::vector<TimeMark>& marks, std::vector<TimeBand>& bands);

// Phases as shaded bands and markers as dashed lines over an SVG plot whose time axis runs from
// `left` (at from_ns) over `plot_width` pixels (to to_ns), between `top` and `bottom`.
void write_svg_annotations(std::ostream& out, const std::vector<TimeMark>& marks,
                           const std::vector<TimeBand>& bands, uint64_t from_ns, uint64_t to_ns,
                           double left, double plot_width, double top, double bottom);

struct Heatmap {
  HeatmapKind kind = HeatmapKind::kAddress;
  size_t rows = 0;
  size_t columns = 0;
  std::vector<double> cells;  // row-major; value scaled to [0, 1], or -1 where nothing was seen
  std::vector<std::string> row_labels;
  uint64_t time_from_ns = 0;
  uint64_t time_to_ns = 0;
  std::string title;
  std::string row_axis;     // "address (gaps removed)", ...
  std::string value_label;  // what full colour means
  uint64_t snapshots = 0;
  std::vector<TimeMark> marks;  // the program's markers
  std::vector<TimeBand> bands;  // its phases
  double cell(size_t row, size_t column) const { return cells[row * columns + column]; }
};

// Throws TraceError when the trace cannot be read again.
// Symbolizes the sites it names.
Heatmap build_heatmap(Analysis& analysis, ReaderOptions reader, const HeatmapOptions& options);

void write_heatmap_terminal(std::ostream& out, const Heatmap& heatmap, bool color);
// A standalone SVG document, or (element = true) an <svg> element for HTML.
void write_heatmap_svg(std::ostream& out, const Heatmap& heatmap, bool element = false);
// False with `error` set when the file cannot be written.
bool write_heatmap_png(const std::string& path, const Heatmap& heatmap, std::string* error);

// The footprint timeline (RSS, heap, working set, idle) as a PNG line plot.
bool write_timeline_png(const std::string& path, const Analysis& analysis, std::string* error);

// The colour of a value in [0, 1] (dark blue, purple, red, orange, pale yellow).
void heat_colour(double value, uint8_t rgb[3]);

}  // namespace dprof::analyzer
