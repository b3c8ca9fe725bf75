// damon-prof flamegraph TRACE [--weight W] [-o OUT.svg] [--folded]
#include <fstream>
#include <iostream>

#include "commands.h"
#include "flamegraph.h"
#include "report_common.h"
#include "trace_loading.h"

namespace dprof::tools {

int flamegraph_command(const std::vector<std::string>& arguments) {
  std::string trace_path;
  std::string output_path;
  std::string title;
  const analyzer::SiteMetric* weight = nullptr;
  bool folded = false;
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
    if (argument == "--weight") {
      const std::string* given = value();
      if (given == nullptr) return fail("--weight needs a metric: " + analyzer::metric_names());
      weight = analyzer::find_site_metric(*given);
      if (weight == nullptr) {
        return fail("--weight " + *given + ": unknown metric (use " + analyzer::metric_names() +
                    ")");
      }
    } else if (argument == "--folded") {
      folded = true;
    } else if (argument == "--title") {
      const std::string* given = value();
      if (given == nullptr) return fail("--title needs a text");
      title = *given;
    } else if (argument == "-o" || argument == "--output") {
      const std::string* given = value();
      if (given == nullptr) return fail(argument + " needs a file name");
      output_path = *given;
    } else if (!argument.empty() && argument[0] == '-') {
      return fail("flamegraph: unknown option " + argument);
    } else if (trace_path.empty()) {
      trace_path = argument;
    } else {
      return fail("flamegraph: one trace at a time (got " + trace_path + " and " + argument + ")");
    }
  }
  if (trace_path.empty()) {
    return fail(
        "flamegraph: which trace? usage: damon-prof flamegraph TRACE --weight W -o OUT.svg");
  }
  std::optional<analyzer::Analysis> loaded = load_trace(trace_path, loading);
  if (!loaded) return 2;
  analyzer::Analysis& analysis = *loaded;
  if (weight == nullptr) {
    weight = analyzer::find_site_metric(analysis.snapshot_count != 0 ? "hot" : "peak");
  }
  bool to_stdout = output_path.empty() && folded;
  if (output_path.empty() && !folded) {
    output_path = trace_path + "." + weight->short_name + ".svg";
  }
  std::ofstream file;
  if (!to_stdout) {
    file.open(output_path, std::ios::out | std::ios::trunc);
    if (!file) return fail(output_path + ": cannot write the flamegraph");
  }
  std::ostream& out = to_stdout ? std::cout : file;
  if (folded) {
    analyzer::write_folded(out, analysis, *weight);
  } else {
    analyzer::FlameNode root = analyzer::build_flame_tree(analysis, *weight);
    if (title.empty()) {
      std::string program = analysis.process && !analysis.process->command_line.empty()
                                ? analysis.process->command_line.front()
                                : trace_path;
      title = program + ": allocation sites by " + weight->name + " (" +
              analyzer::format_metric(*weight, root.weight) + " in all)";
    }
    analyzer::write_flamegraph_svg(out, root, *weight, title);
  }
  out.flush();
  if (!out) return fail((to_stdout ? "standard output" : output_path) + ": write failed");
  if (!to_stdout && !folded) std::cerr << "damon-prof: wrote " << output_path << "\n";
  return 0;
}

}  // namespace dprof::tools
