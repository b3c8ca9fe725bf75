// damon-prof heatmap TRACE [--by address|site|temperature] [--footprint] [-o OUT.png|OUT.svg]
//                    [--time-range FROM:TO] [--address-range FROM-TO] [--top N]
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "commands.h"
#include "heatmap.h"
#include "html_report.h"
#include "report_views.h"
#include "trace_error.h"
#include "trace_loading.h"
#include "units.h"

namespace dprof::tools {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "1s:3.5s", ":2s", "500ms:" -> nanoseconds since the program started.
bool parse_time_range(const std::string& text, uint64_t& from, uint64_t& to, std::string& error) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) {
    error = "expected FROM:TO, e.g. 1s:3.5s (either side may be left empty)";
    return false;
  }
  std::string left = text.substr(0, colon);
  std::string right = text.substr(colon + 1);
  if (!left.empty()) {
    auto value = analyzer::parse_duration(left, &error);
    if (!value) return false;
    from = *value;
  }
  if (!right.empty()) {
    auto value = analyzer::parse_duration(right, &error);
    if (!value) return false;
    to = *value;
  }
  if (from > to) {
    error = "the range ends before it starts";
    return false;
  }
  return true;
}

bool parse_address(const std::string& text, uint64_t& address) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), &end, 16);
  if (errno != 0 || *end != '\0') return false;
  address = value;
  return true;
}

// "7f0000000000-7f0010000000" (hex, 0x optional), either side may be left empty.
bool parse_address_range(const std::string& text, uint64_t& from, uint64_t& to,
                         std::string& error) {
  size_t dash = text.find('-');
  if (dash == std::string::npos) {
    error = "expected FROM-TO in hex, e.g. 0x7f0000000000-0x7f0010000000";
    return false;
  }
  std::string left = text.substr(0, dash);
  std::string right = text.substr(dash + 1);
  if ((!left.empty() && !parse_address(left, from)) ||
      (!right.empty() && !parse_address(right, to))) {
    error = "not a hexadecimal address";
    return false;
  }
  if (from >= to) {
    error = "the range ends before it starts";
    return false;
  }
  return true;
}

}  // namespace

int heatmap_command(const std::vector<std::string>& arguments) {
  std::string trace_path;
  std::string output_path;
  bool footprint = false;
  analyzer::HeatmapOptions options;
  bool rows_given = false;
  bool columns_given = false;
  TraceLoading loading;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    std::string error;
    if (parse_loading_option(arguments, i, loading, error)) {
      if (!error.empty()) return fail(error);
      continue;
    }
    auto value = [&]() -> const std::string* {
      return i + 1 < arguments.size() ? &arguments[++i] : nullptr;
    };
    auto count = [&](const std::string* given, size_t& out, size_t low, size_t high) {
      if (given == nullptr) return false;
      char* end = nullptr;
      long long number = std::strtoll(given->c_str(), &end, 10);
      if (given->empty() || *end != '\0' || number < static_cast<long long>(low) ||
          number > static_cast<long long>(high)) {
        return false;
      }
      out = static_cast<size_t>(number);
      return true;
    };
    if (argument == "--by") {
      const std::string* given = value();
      if (given != nullptr && *given == "address") {
        options.kind = analyzer::HeatmapKind::kAddress;
      } else if (given != nullptr && *given == "site") {
        options.kind = analyzer::HeatmapKind::kSite;
      } else if (given != nullptr && *given == "temperature") {
        options.kind = analyzer::HeatmapKind::kTemperature;
      } else {
        return fail("--by " + (given == nullptr ? std::string() : *given) +
                    ": use address, site or temperature");
      }
    } else if (argument == "--footprint") {
      footprint = true;
    } else if (argument == "--time-range") {
      const std::string* given = value();
      if (given == nullptr) return fail("--time-range needs FROM:TO, e.g. 1s:3.5s");
      if (!parse_time_range(*given, options.time_from_ns, options.time_to_ns, error)) {
        return fail("--time-range " + *given + ": " + error);
      }
    } else if (argument == "--address-range") {
      const std::string* given = value();
      if (given == nullptr) return fail("--address-range needs FROM-TO in hex");
      if (!parse_address_range(*given, options.address_from, options.address_to, error)) {
        return fail("--address-range " + *given + ": " + error);
      }
    } else if (argument == "--top") {
      const std::string* given = value();
      if (!count(given, options.top_sites, 1, 200))
        return fail("--top needs a count from 1 to 200");
    } else if (argument == "--rows") {
      if (!count(value(), options.rows, 2, 2000))
        return fail("--rows needs a count from 2 to 2000");
      rows_given = true;
    } else if (argument == "--columns") {
      if (!count(value(), options.columns, 2, 4000))
        return fail("--columns needs a count from 2 to 4000");
      columns_given = true;
    } else if (argument == "-o" || argument == "--output") {
      const std::string* given = value();
      if (given == nullptr) return fail(argument + " needs a file name (.png or .svg)");
      output_path = *given;
      if (!ends_with(output_path, ".png") && !ends_with(output_path, ".svg")) {
        return fail(output_path + ": the output's name must end in .png or .svg");
      }
    } else if (!argument.empty() && argument[0] == '-') {
      return fail("heatmap: unknown option " + argument);
    } else if (trace_path.empty()) {
      trace_path = argument;
    } else {
      return fail("heatmap: one trace at a time (got " + trace_path + " and " + argument + ")");
    }
  }
  if (trace_path.empty()) return fail("heatmap: which trace? usage: damon-prof heatmap TRACE");
  std::optional<analyzer::Analysis> loaded = load_trace(trace_path, loading);
  if (!loaded) return 2;
  analyzer::Analysis& analysis = *loaded;
  bool terminal = output_path.empty();
  bool color = terminal && isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
  if (terminal && !columns_given) options.columns = 96;
  if (terminal && !rows_given) options.rows = 24;
  if (!terminal && !columns_given) options.columns = 200;
  if (!terminal && !rows_given) options.rows = 100;

  if (footprint) {
    if (terminal) {
      analyzer::ViewOptions view;
      view.report.color = color;
      view.width = options.columns;
      view.height = std::min<size_t>(options.rows, 20);
      analyzer::write_timeline_view(std::cout, analysis, view);
      return std::cout ? 0 : fail("standard output: write failed");
    }
    if (ends_with(output_path, ".svg")) {
      std::ofstream file(output_path, std::ios::out | std::ios::trunc);
      if (!file) return fail(output_path + ": cannot write the plot");
      analyzer::write_timeline_svg(file, analysis, false);
      file.flush();
      if (!file) return fail(output_path + ": write failed");
    } else {
      std::string error;
      if (!analyzer::write_timeline_png(output_path, analysis, &error)) {
        return fail(output_path + ": " + error);
      }
    }
    std::cerr << "damon-prof: wrote " << output_path << "\n";
    return 0;
  }

  analyzer::ReaderOptions reader = loading.reader;
  show_progress_on_terminal(reader, "heatmap of " + trace_path);
  analyzer::Heatmap heatmap;
  try {
    heatmap = analyzer::build_heatmap(analysis, reader, options);
  } catch (const analyzer::TraceError& error) {
    return fail(trace_path + ": " + error.what());
  }
  if (terminal) {
    analyzer::write_heatmap_terminal(std::cout, heatmap, color);
    return std::cout ? 0 : fail("standard output: write failed");
  }
  if (heatmap.cells.empty()) {
    std::cerr << "damon-prof: " << trace_path
              << ": no region snapshots (in the chosen ranges); the image says so\n";
  }
  if (ends_with(output_path, ".svg")) {
    std::ofstream file(output_path, std::ios::out | std::ios::trunc);
    if (!file) return fail(output_path + ": cannot write the heatmap");
    analyzer::write_heatmap_svg(file, heatmap);
    file.flush();
    if (!file) return fail(output_path + ": write failed");
  } else {
    std::string error;
    if (!analyzer::write_heatmap_png(output_path, heatmap, &error)) {
      return fail(output_path + ": " + error);
    }
  }
  std::cerr << "damon-prof: wrote " << output_path << "\n";
  return 0;
}

}  // namespace dprof::tools
