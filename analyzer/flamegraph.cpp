#include "flamegraph.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "units.h"

namespace dprof::analyzer {
namespace {

constexpr double kWidth = 1200;
constexpr double kRowHeight = 17;
constexpr double kTop = 44;  // title and controls above the frames

std::string frame_name(const SiteFrame& frame) {
  return frame.function.empty() ? module_and_offset(frame) : frame.function;
}

void add_path(FlameNode& root, const std::vector<const SiteFrame*>& path, double weight) {
  FlameNode* node = &root;
  node->weight += weight;
  for (const SiteFrame* frame : path) {
    std::string name = frame_name(*frame);
    auto child = std::find_if(node->children.begin(), node->children.end(),
                              [&](const FlameNode& candidate) { return candidate.name == name; });
    if (child == node->children.end()) {
      node->children.push_back(FlameNode{name, frame_location(*frame), 0, {}});
      child = std::prev(node->children.end());
    }
    node = &*child;
    node->weight += weight;
  }
}

size_t depth_of(const FlameNode& node) {
  size_t deepest = 0;
  for (const FlameNode& child : node.children) deepest = std::max(deepest, depth_of(child));
  return deepest + 1;
}

// Warm colours for allocation figures, reds for hot, blues for idle, greys for never touched:
// the hue says what is weighed, the name's hash varies it so neighbours differ.
std::string colour(const SiteMetric& metric, const std::string& name) {
  uint32_t hash = 2166136261u;
  for (char c : name) hash = (hash ^ static_cast<uint8_t>(c)) * 16777619u;
  double vary = static_cast<double>(hash % 1000) / 1000.0;
  int red;
  int green;
  int blue;
  std::string key = metric.short_name;
  if (key == "hot" || key == "density") {
    red = 220 + static_cast<int>(35 * vary);
    green = 60 + static_cast<int>(90 * vary);
    blue = 40;
  } else if (key == "idle" || key == "idle-peak") {
    red = 60 + static_cast<int>(50 * vary);
    green = 120 + static_cast<int>(70 * vary);
    blue = 200 + static_cast<int>(55 * vary);
  } else if (key == "never-touched") {
    red = green = blue = 150 + static_cast<int>(70 * vary);
    blue += 10;
  } else {
    red = 205 + static_cast<int>(50 * vary);
    green = 100 + static_cast<int>(120 * vary);
    blue = 40 + static_cast<int>(40 * vary);
  }
  char text[48];
  std::snprintf(text, sizeof(text), "rgb(%d,%d,%d)", std::min(red, 255), std::min(green, 255),
                std::min(blue, 255));
  return text;
}

// A differential frame: white when unchanged, deepening to red as it grew and to blue as it
// shrank, relative to the larger of its two weights.
std::string difference_colour(const FlameNode& node) {
  double before = *node.baseline;
  double larger = std::max(before, node.weight);
  double change = larger <= 0 ? 0 : (node.weight - before) / larger;
  int fade = static_cast<int>(std::lround(200 * (1 - std::fabs(change))));
  char text[48];
  if (change >= 0) {
    std::snprintf(text, sizeof(text), "rgb(255,%d,%d)", 55 + fade, 55 + fade);
  } else {
    std::snprintf(text, sizeof(text), "rgb(%d,%d,255)", 55 + fade, 55 + fade);
  }
  return text;
}

std::string change_text(const SiteMetric& metric, const FlameNode& node) {
  double before = *node.baseline;
  double delta = node.weight - before;
  std::string text = ", was " + format_metric(metric, before) + " (" + (delta < 0 ? "-" : "+") +
                     format_metric(metric, std::fabs(delta));
  if (before > 0) {
    char percent[32];
    std::snprintf(percent, sizeof(percent), ", %+.1f%%", delta / before * 100.0);
    text += percent;
  }
  return text + ")";
}

void write_frames(std::ostream& out, const FlameNode& node, const SiteMetric& metric, double total,
                  double x, size_t depth, size_t rows) {
  double width = total <= 0 ? 0 : node.weight / total * kWidth;
  if (width < 0.1) return;  // too thin to see or hover
  double y = kTop + static_cast<double>(rows - 1 - depth) * kRowHeight;
  double share = total <= 0 ? 0 : 100.0 * node.weight / total;
  char share_text[16];
  std::snprintf(share_text, sizeof(share_text), "%.2f%%", share);
  std::string details = node.name + (node.location.empty() ? "" : " (" + node.location + ")") +
                        " — " + format_metric(metric, node.weight) + ", " + share_text +
                        (node.baseline ? change_text(metric, node) : "");
  char geometry[160];
  std::snprintf(geometry, sizeof(geometry),
                "<g class=\"f\" data-x=\"%.6f\" data-w=\"%.6f\" data-d=\"%zu\">", x / kWidth,
                width / kWidth, depth);
  out << geometry << "<title>" << xml_escape(details) << "</title>";
  std::snprintf(geometry, sizeof(geometry),
                "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" rx=\"2\" fill=\"", x, y,
                width, kRowHeight - 1);
  out << geometry << (node.baseline ? difference_colour(node) : colour(metric, node.name))
      << "\"/>";
  // Text that fits (about 7 px per character); the script redoes this after a zoom.
  size_t fits = width > 20 ? static_cast<size_t>((width - 6) / 7) : 0;
  std::string label = node.name.size() <= fits ? node.name
                      : fits > 2               ? node.name.substr(0, fits - 2) + ".."
                                               : "";
  std::snprintf(geometry, sizeof(geometry), "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + 12);
  out << geometry << xml_escape(label) << "</text>";
  out << "<desc>" << xml_escape(node.name) << "</desc></g>\n";
  double child_x = x;
  for (const FlameNode& child : node.children) {
    write_frames(out, child, metric, total, child_x, depth + 1, rows);
    child_x += total <= 0 ? 0 : child.weight / total * kWidth;
  }
}

void write_body(std::ostream& out, const FlameNode& root, const SiteMetric& metric,
                const std::string& title, const std::string& id) {
  size_t rows = std::max<size_t>(depth_of(root), 1);
  double height = kTop + static_cast<double>(rows) * kRowHeight + 24;
  char header[320];
  std::snprintf(header, sizeof(header),
                "<svg class=\"dprof-flame\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
                "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                "data-total=\"%s\">\n",
                xml_escape(id).c_str(), kWidth, height, kWidth, height,
                xml_escape(format_metric(metric, root.weight)).c_str());
  out << header;
  out << "<style>.dprof-flame text{font:12px monospace;fill:#000;pointer-events:none}"
         ".dprof-flame .f:hover rect{stroke:#000;stroke-width:0.8}"
         ".dprof-flame .f{cursor:pointer}.dprof-flame .ui{font:12px sans-serif;cursor:pointer;"
         "fill:#333}.dprof-flame .hit rect{fill:rgb(230,0,230)!important}</style>\n";
  out << "<rect width=\"100%\" height=\"100%\" fill=\"#fafafa\"/>\n";
  out << "<text x=\"600\" y=\"18\" text-anchor=\"middle\" style=\"font:15px sans-serif\">"
      << xml_escape(title) << "</text>\n";
  out << "<text class=\"ui reset\" x=\"10\" y=\"36\" visibility=\"hidden\">Reset zoom</text>\n";
  out << "<text class=\"ui search\" x=\"1110\" y=\"36\">Search</text>\n";
  out << "<text class=\"ui matched\" x=\"960\" y=\"36\"></text>\n";
  std::snprintf(header, sizeof(header), "<text class=\"details\" x=\"10\" y=\"%.0f\">", height - 8);
  out << header << "</text>\n";
  if (root.weight <= 0) {
    out << "<text x=\"600\" y=\"80\" text-anchor=\"middle\">nothing to show for "
        << xml_escape(metric.name) << "</text>\n";
  } else {
    write_frames(out, root, metric, root.weight, 0, 0, rows);
  }
}

}  // namespace

void set_baseline_weights(FlameNode& current, const FlameNode& baseline) {
  current.baseline = baseline.weight;
  for (FlameNode& child : current.children) {
    const FlameNode* match = nullptr;
    for (const FlameNode& old : baseline.children) {
      if (old.name == child.name) {
        match = &old;
        break;
      }
    }
    if (match != nullptr) {
      set_baseline_weights(child, *match);
    } else {
      set_baseline_weights(child, FlameNode{});
    }
  }
}

std::string xml_escape(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '&':
        escaped += "&amp;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&#39;";
        break;
      default:
        // Control characters are not allowed in XML at all.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          escaped += '?';
        } else {
          escaped += c;
        }
    }
  }
  return escaped;
}

FlameNode build_flame_tree(Analysis& analysis, const SiteMetric& metric) {
  symbolize_sites(analysis);
  FlameNode root{"all", "", 0, {}};
  for (const Site& site : analysis.sites) {
    double weight = metric.value(site, analysis);
    if (weight <= 0) continue;
    std::vector<const SiteFrame*> path;
    for (size_t i = site.frames.size(); i > site.name_frame; --i)
      path.push_back(&site.frames[i - 1]);
    if (site.frames.empty()) {
      static const SiteFrame kUnknown{0, "(unknown stack)", "", 0, "", 0, false};
      path.push_back(&kUnknown);
    }
    add_path(root, path, weight);
  }
  // Heaviest first, as flamegraph.pl sorts alphabetically: here weight tells more.
  std::function<void(FlameNode&)> order = [&](FlameNode& node) {
    std::sort(node.children.begin(), node.children.end(),
              [](const FlameNode& a, const FlameNode& b) { return a.weight > b.weight; });
    for (FlameNode& child : node.children) order(child);
  };
  order(root);
  return root;
}

void write_folded(std::ostream& out, Analysis& analysis, const SiteMetric& metric) {
  symbolize_sites(analysis);
  for (const Site& site : analysis.sites) {
    auto weight = static_cast<uint64_t>(std::llround(metric.value(site, analysis)));
    if (weight == 0) continue;
    std::string line;
    for (size_t i = site.frames.size(); i > site.name_frame; --i) {
      std::string name = frame_name(site.frames[i - 1]);
      // ';' separates frames and a newline ends the line: neither may appear inside a name.
      std::replace(name.begin(), name.end(), ';', ':');
      std::replace(name.begin(), name.end(), '\n', ' ');
      if (!line.empty()) line += ';';
      line += name;
    }
    if (line.empty()) line = "(unknown stack)";
    out << line << ' ' << weight << '\n';
  }
}

void write_flamegraph_svg(std::ostream& out, const FlameNode& root, const SiteMetric& metric,
                          const std::string& title) {
  out << "<?xml version=\"1.0\" standalone=\"no\"?>\n";
  write_body(out, root, metric, title, "flame");
  out << "<script type=\"text/ecmascript\"><![CDATA[\n"
      << flamegraph_script() << "\n]]></script>\n";
  out << "</svg>\n";
}

void write_flamegraph_element(std::ostream& out, const FlameNode& root, const SiteMetric& metric,
                              const std::string& title, const std::string& id) {
  write_body(out, root, metric, title, id);
  out << "</svg>\n";
}

const char* flamegraph_script() {
  return R"JS((function () {
  "use strict";
  function fit(g, width) {
    var text = g.querySelector("text"), name = g.querySelector("desc").textContent;
    var fits = width > 20 ? Math.floor((width - 6) / 7) : 0;
    text.textContent = name.length <= fits ? name : (fits > 2 ? name.slice(0, fits - 2) + ".." : "");
  }
  function init(svg) {
    if (svg.dprofReady) return;
    svg.dprofReady = true;
    var W = svg.viewBox.baseVal.width, frames = Array.prototype.slice.call(svg.querySelectorAll("g.f"));
    var details = svg.querySelector("text.details"), reset = svg.querySelector("text.reset");
    var matched = svg.querySelector("text.matched");
    function place(g, x, w) {
      var rect = g.querySelector("rect"), text = g.querySelector("text");
      rect.setAttribute("x", x * W); rect.setAttribute("width", w * W);
      text.setAttribute("x", x * W + 3); fit(g, w * W);
    }
    function zoom(target) {
      var tx = +target.dataset.x, tw = +target.dataset.w, td = +target.dataset.d;
      frames.forEach(function (g) {
        var x = +g.dataset.x, w = +g.dataset.w, d = +g.dataset.d;
        var inside = x >= tx - 1e-9 && x + w <= tx + tw + 1e-9 && d >= td;
        var above = d < td && x <= tx + 1e-9 && x + w >= tx + tw - 1e-9;
        if (above) { g.style.display = ""; place(g, 0, 1); g.style.opacity = 0.6; }
        else if (inside) { g.style.display = ""; g.style.opacity = 1; place(g, (x - tx) / tw, w / tw); }
        else g.style.display = "none";
      });
      reset.setAttribute("visibility", "visible");
    }
    function unzoom() {
      frames.forEach(function (g) {
        g.style.display = ""; g.style.opacity = 1; place(g, +g.dataset.x, +g.dataset.w);
      });
      reset.setAttribute("visibility", "hidden");
    }
    function search(term) {
      var hits = 0, total = 0, expression = null;
      if (term) { try { expression = new RegExp(term); } catch (e) { expression = null; } }
      var covered = [];
      frames.forEach(function (g) {
        var name = g.querySelector("desc").textContent;
        var hit = !!term && (expression ? expression.test(name) : name.indexOf(term) >= 0);
        g.classList.toggle("hit", hit);
        if (+g.dataset.d === 0) total = +g.dataset.w;
        if (hit) {
          var x = +g.dataset.x, w = +g.dataset.w;
          if (!covered.some(function (c) { return x >= c[0] && x + w <= c[0] + c[1] + 1e-9; })) {
            covered.push([x, w]); hits += w;
          }
        }
      });
      matched.textContent = term ? "Matched: " + (total ? (100 * hits / total).toFixed(1) : "0") + "%" : "";
      return hits;
    }
    frames.forEach(function (g) {
      g.addEventListener("click", function () { zoom(g); });
      g.addEventListener("mouseover", function () {
        details.textContent = g.querySelector("title").textContent;
      });
      g.addEventListener("mouseout", function () { details.textContent = ""; });
    });
    reset.addEventListener("click", unzoom);
    svg.querySelector("text.search").addEventListener("click", function () {
      var term = window.prompt("Search (a regular expression)", "");
      if (term !== null) search(term);
    });
    svg.dprofZoom = zoom; svg.dprofUnzoom = unzoom; svg.dprofSearch = search;
  }
  function initAll() {
    var all = document.querySelectorAll("svg.dprof-flame");
    for (var i = 0; i < all.length; i++) init(all[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();)JS";
}

}  // namespace dprof::analyzer
