// `damon-prof report FILE --html OUT.html`: one self-contained page that works offline (no
// external scripts, styles or fonts): the summary, a sortable table of sites, flamegraphs for
// every weight, the heatmaps, and the footprint and working set over time. Everything taken from
// the trace (paths, names) is escaped.
#pragma once

#include <ostream>

#include "analysis.h"

namespace dprof::analyzer {

// Streams the trace again for the heatmaps; throws TraceError when it cannot.
void write_html_report(std::ostream& out, Analysis& analysis, ReaderOptions reader);

// A line chart of the timeline as an <svg> element (also used alone by `heatmap --footprint`).
void write_timeline_svg(std::ostream& out, const Analysis& analysis, bool element);

}  // namespace dprof::analyzer
