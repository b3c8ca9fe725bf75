// Flamegraphs of allocation sites weighted by any site metric (hot, idle, never-touched, peak,
// allocated, allocs, leaked...): folded stacks for other tools, and a self-contained interactive
// SVG (hover for details, click to zoom, search) that also renders without its script.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "analysis.h"
#include "report_common.h"

namespace dprof::analyzer {

struct FlameNode {
  std::string name;
  std::string location;  // file:line or module+offset of the frame
  double weight = 0;
  // A differential graph: the same frame's weight in an older trace (set_baseline_weights).
  std::optional<double> baseline;
  std::vector<FlameNode> children;
};

// The tree of every site's stack, outermost frame first, down to the frame that names the site
// (the allocation machinery above it is left out), weighted by `metric`.
FlameNode build_flame_tree(Analysis& analysis, const SiteMetric& metric);

// Makes `current` a differential graph: each frame gets the weight of the frame at the same path
// (by function name) in `baseline`, 0 where there was none. Frames are drawn at their current
// width, red where they grew and blue where they shrank.
void set_baseline_weights(FlameNode& current, const FlameNode& baseline);

// "main;parse;make_table 4096" lines (weights rounded to whole units).
void write_folded(std::ostream& out, Analysis& analysis, const SiteMetric& metric);

// A standalone SVG document. `title` names the graph.
void write_flamegraph_svg(std::ostream& out, const FlameNode& root, const SiteMetric& metric,
                          const std::string& title);
// The same graph as an <svg> element to embed in HTML (its script comes from flamegraph_script).
void write_flamegraph_element(std::ostream& out, const FlameNode& root, const SiteMetric& metric,
                              const std::string& title, const std::string& id);
// The interactive part, shared by every flamegraph on a page: initializes each svg.dprof-flame.
const char* flamegraph_script();

// Escapes text for XML/HTML content and attribute values.
std::string xml_escape(const std::string& text);

}  // namespace dprof::analyzer
