// `damon-prof report --view regions`: the access monitor's region snapshots over time, and the
// allocations alive during the run, as JSON (for tools) or as a terminal heatmap (for people).
// Streams the trace again; memory is bounded by one snapshot and the live allocations.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "analysis.h"

namespace dprof::analyzer {

struct RegionsViewOptions {
  uint64_t min_size = 0;  // allocations smaller than this are left out of the JSON
  size_t width = 96;      // heatmap columns (time)
  size_t height = 24;     // heatmap rows (address)
  bool color = false;
};

void write_regions_json(std::ostream& out, Analysis& analysis, ReaderOptions reader_options,
                        const RegionsViewOptions& options);
void write_regions_text(std::ostream& out, Analysis& analysis, ReaderOptions reader_options,
                        const RegionsViewOptions& options);

}  // namespace dprof::analyzer
