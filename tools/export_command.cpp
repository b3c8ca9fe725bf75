// damon-prof export: a trace in the formats other tools read. Several exports may be asked for
// at once; the trace is analyzed once.
//   --pprof OUT.pb.gz        gzipped profile.proto (go tool pprof, Pyroscope, Parca)
//   --chrome-trace OUT.json  Trace Event Format (Perfetto UI, chrome://tracing)
//   --folded [FILE]          folded stacks weighted by --weight (default peak; "-": stdout)
//   --json [FILE]            the full JSON report, every site ("-" or no file: stdout)
#include <fstream>
#include <iostream>

#include "chrome_trace.h"
#include "commands.h"
#include "flamegraph.h"
#include "pprof_export.h"
#include "report.h"
#include "trace_loading.h"

namespace dprof::tools {
namespace {

// Writes with `writer` to `path` ("-": standard output); false after printing the error.
template <typename Writer>
bool write_output(const std::string& path, const char* what, Writer writer) {
  if (path == "-") {
    writer(std::cout);
    std::cout.flush();
    if (!std::cout) {
      fail(std::string("standard output: write failed (") + what + ")");
      return false;
    }
    return true;
  }
  std::ofstream file(path, std::ios::out | std::ios::trunc);
  if (!file) {
    fail(path + ": cannot write the " + what);
    return false;
  }
  writer(file);
  file.flush();
  if (!file) {
    fail(path + ": write failed");
    return false;
  }
  return true;
}

}  // namespace

int export_command(const std::vector<std::string>& arguments) {
  std::string trace_path;
  std::string pprof_path;
  std::string chrome_path;
  std::optional<std::string> folded_path;
  std::optional<std::string> json_path;
  const analyzer::SiteMetric* weight = nullptr;
  TraceLoading loading;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    std::string error;
    if (parse_loading_option(arguments, i, loading, error)) {
      if (!error.empty()) return fail(error);
      continue;
    }
    // An optional file name: the next argument unless it is an option (or there is none).
    auto optional_file = [&]() -> std::string {
      if (i + 1 < arguments.size() && (arguments[i + 1] == "-" || arguments[i + 1][0] != '-')) {
        // The trace may come last: a .dprof file is the trace, not this option's output.
        const std::string& next = arguments[i + 1];
        bool is_trace = next.size() > 6 && next.substr(next.size() - 6) == ".dprof";
        if (!is_trace) return arguments[++i];
      }
      return "-";
    };
    auto value = [&]() -> const std::string* {
      return i + 1 < arguments.size() ? &arguments[++i] : nullptr;
    };
    if (argument == "--pprof") {
      const std::string* given = value();
      if (given == nullptr) return fail("--pprof needs a file name (e.g. profile.pb.gz)");
      pprof_path = *given;
    } else if (argument == "--chrome-trace") {
      const std::string* given = value();
      if (given == nullptr) return fail("--chrome-trace needs a file name (e.g. trace.json)");
      chrome_path = *given;
    } else if (argument == "--folded") {
      folded_path = optional_file();
    } else if (argument == "--json") {
      json_path = optional_file();
    } else if (argument == "--weight") {
      const std::string* given = value();
      if (given == nullptr) return fail("--weight needs a metric: " + analyzer::metric_names());
      weight = analyzer::find_site_metric(*given);
      if (weight == nullptr) {
        return fail("--weight " + *given + ": unknown metric (use " + analyzer::metric_names() +
                    ")");
      }
    } else if (!argument.empty() && argument[0] == '-') {
      return fail("export: unknown option " + argument);
    } else if (trace_path.empty()) {
      trace_path = argument;
    } else {
      return fail("export: one trace at a time (got " + trace_path + " and " + argument + ")");
    }
  }
  if (trace_path.empty()) {
    return fail("export: which trace? usage: damon-prof export TRACE --pprof OUT.pb.gz");
  }
  if (pprof_path.empty() && chrome_path.empty() && !folded_path && !json_path) {
    return fail("export: which format? --pprof FILE, --chrome-trace FILE, --folded or --json");
  }
  if (folded_path == "-" && json_path == "-") {
    return fail("export: --folded and --json cannot both go to standard output (give a file)");
  }

  std::optional<analyzer::Analysis> loaded = load_trace(trace_path, loading);
  if (!loaded) return 2;
  analyzer::Analysis& analysis = *loaded;
  analyzer::symbolize_sites(analysis);
  if (!pprof_path.empty()) {
    std::string error;
    if (!analyzer::write_pprof_file(pprof_path, analysis, &error)) return fail(error);
  }
  if (!chrome_path.empty() && !write_output(chrome_path, "Chrome trace", [&](std::ostream& out) {
        analyzer::write_chrome_trace(out, analysis);
      })) {
    return 2;
  }
  if (folded_path) {
    const analyzer::SiteMetric& metric =
        weight != nullptr ? *weight : *analyzer::find_site_metric("peak");
    if (!write_output(*folded_path, "folded stacks",
                      [&](std::ostream& out) { analyzer::write_folded(out, analysis, metric); })) {
      return 2;
    }
  }
  if (json_path) {
    analyzer::ReportOptions options;
    options.top = 0;
    if (!write_output(*json_path, "JSON report", [&](std::ostream& out) {
          analyzer::write_json_report(out, analysis, options);
        })) {
      return 2;
    }
  }
  return 0;
}

}  // namespace dprof::tools
