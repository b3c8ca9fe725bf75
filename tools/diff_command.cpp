// damon-prof diff: what changed between two traces of the same program.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "commands.h"
#include "flamegraph.h"
#include "trace_diff.h"
#include "trace_loading.h"

namespace dprof::tools {

int diff_command(const std::vector<std::string>& arguments) {
  std::vector<std::string> traces;
  std::string format = "text";
  std::string flamegraph_path;
  std::string output_path;
  analyzer::DiffOptions options;
  bool top_given = false;
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
    if (argument == "--format") {
      const std::string* given = value();
      if (given == nullptr || (*given != "text" && *given != "json")) {
        return fail("--format " + (given == nullptr ? std::string() : *given) +
                    ": use text or json");
      }
      format = *given;
    } else if (argument == "--sort" || argument == "--weight") {
      const std::string* given = value();
      if (given == nullptr) return fail(argument + " needs a metric: " + analyzer::metric_names());
      options.sort = analyzer::find_site_metric(*given);
      if (options.sort == nullptr) {
        return fail(argument + " " + *given + ": unknown metric (use " + analyzer::metric_names() +
                    ")");
      }
    } else if (argument == "--top") {
      const std::string* given = value();
      char* end = nullptr;
      long long count = given == nullptr ? -1 : std::strtoll(given->c_str(), &end, 10);
      if (given == nullptr || given->empty() || *end != '\0' || count < 0) {
        return fail("--top needs a count (a whole number, 0 for all)");
      }
      options.top = static_cast<size_t>(count);
      top_given = true;
    } else if (argument == "--flamegraph") {
      const std::string* given = value();
      if (given == nullptr) return fail("--flamegraph needs a file name (e.g. diff.svg)");
      flamegraph_path = *given;
    } else if (argument == "-o" || argument == "--output") {
      const std::string* given = value();
      if (given == nullptr) return fail(argument + " needs a file name");
      output_path = *given;
    } else if (!argument.empty() && argument[0] == '-') {
      return fail("diff: unknown option " + argument);
    } else {
      traces.push_back(argument);
    }
  }
  if (traces.size() != 2) {
    return fail("diff: needs two traces, the older first: damon-prof diff BEFORE AFTER");
  }
  if (format == "json" && !top_given) options.top = 0;

  std::optional<analyzer::Analysis> before = load_trace(traces[0], loading);
  if (!before) return 2;
  TraceLoading after_loading = loading;
  std::optional<analyzer::Analysis> after = load_trace(traces[1], after_loading);
  if (!after) return 2;
  analyzer::symbolize_sites(*before);
  analyzer::symbolize_sites(*after);
  analyzer::TraceDiff diff = analyzer::diff_traces(*before, *after);

  if (!flamegraph_path.empty()) {
    const analyzer::SiteMetric& metric =
        options.sort != nullptr ? *options.sort : *analyzer::find_site_metric("peak");
    std::ofstream svg(flamegraph_path, std::ios::out | std::ios::trunc);
    if (!svg) return fail(flamegraph_path + ": cannot write the flamegraph");
    analyzer::FlameNode tree = analyzer::build_flame_tree(*after, metric);
    analyzer::FlameNode old_tree = analyzer::build_flame_tree(*before, metric);
    analyzer::set_baseline_weights(tree, old_tree);
    analyzer::write_flamegraph_svg(svg, tree, metric,
                                   std::string(metric.title) + ": " + traces[1] + " against " +
                                       traces[0] + " (red grew, blue shrank)");
    svg.flush();
    if (!svg) return fail(flamegraph_path + ": write failed");
    if (output_path.empty() && format == "text") return 0;
  }

  std::ofstream file;
  if (!output_path.empty()) {
    file.open(output_path, std::ios::out | std::ios::trunc);
    if (!file) return fail(output_path + ": cannot write the diff");
  }
  std::ostream& out = output_path.empty() ? std::cout : file;
  options.color = output_path.empty() && format == "text" && isatty(STDOUT_FILENO) != 0 &&
                  std::getenv("NO_COLOR") == nullptr;
  if (format == "json") {
    analyzer::write_diff_json(out, diff, *before, *after, options);
  } else {
    analyzer::write_diff_text(out, diff, *before, *after, options);
  }
  out.flush();
  if (!out) return fail((output_path.empty() ? "standard output" : output_path) + ": write failed");
  return 0;
}

}  // namespace dprof::tools
