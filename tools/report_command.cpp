#include <unistd.h>

#include <fstream>
#include <iostream>

#include "analysis.h"
#include "commands.h"
#include "regions_view.h"
#include "report.h"
#include "trace_error.h"
#include "units.h"

namespace dprof::tools {

int fail(const std::string& message) {
  std::cerr << "damon-prof: " << message << "\n";
  return 2;
}

int report_command(const std::vector<std::string>& arguments) {
  std::string trace_path;
  std::string output_path;
  std::string format = "text";
  std::string view = "summary";
  analyzer::RegionsViewOptions regions_options;
  analyzer::ReportOptions report_options;
  bool top_given = false;
  analyzer::ReaderOptions reader_options;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    auto value = [&](const char* option) -> const std::string* {
      if (i + 1 >= arguments.size()) return nullptr;
      (void)option;
      return &arguments[++i];
    };
    if (argument == "--format") {
      const std::string* given = value("--format");
      if (given == nullptr) return fail("--format needs a value: text or json");
      if (*given != "text" && *given != "json") {
        return fail("--format " + *given + ": unknown format (use text or json)");
      }
      format = *given;
    } else if (argument == "--top") {
      const std::string* given = value("--top");
      if (given == nullptr) return fail("--top needs a number");
      char* end = nullptr;
      long long count = std::strtoll(given->c_str(), &end, 10);
      if (given->empty() || *end != '\0' || count < 0) {
        return fail("--top " + *given + ": not a count (expected a whole number, 0 for all)");
      }
      report_options.top = static_cast<size_t>(count);
      top_given = true;
    } else if (argument == "--view") {
      const std::string* given = value("--view");
      if (given == nullptr) return fail("--view needs a value: summary or regions");
      if (*given != "summary" && *given != "regions") {
        return fail("--view " + *given + ": unknown view (use summary or regions)");
      }
      view = *given;
    } else if (argument == "--min-size") {
      const std::string* given = value("--min-size");
      if (given == nullptr) return fail("--min-size needs a size (e.g. 4096, 64KiB)");
      std::string problem;
      auto size = analyzer::parse_size(*given, &problem);
      if (!size) return fail("--min-size " + *given + ": " + problem);
      regions_options.min_size = *size;
    } else if (argument == "--full-stacks") {
      report_options.full_stacks = true;
    } else if (argument == "--salvage") {
      reader_options.salvage = true;
    } else if (argument == "-o" || argument == "--output") {
      const std::string* given = value("-o");
      if (given == nullptr) return fail(argument + " needs a file name");
      output_path = *given;
    } else if (!argument.empty() && argument[0] == '-' && argument != "-") {
      return fail("report: unknown option " + argument);
    } else if (trace_path.empty()) {
      trace_path = argument;
    } else {
      return fail("report: one trace at a time (got " + trace_path + " and " + argument + ")");
    }
  }
  if (trace_path.empty()) return fail("report: which trace? usage: damon-prof report TRACE");
  if (format == "json" && !top_given) report_options.top = 0;

  analyzer::Analysis analysis;
  try {
    analysis = analyzer::analyze_trace(trace_path, reader_options);
  } catch (const analyzer::TraceError& error) {
    return fail(trace_path + ": " + error.what());
  }
  if (!analysis.end || analysis.decode.truncated) {
    std::cerr << "damon-prof: " << trace_path << ": warning: " << analyzer::describe_end(analysis)
              << "; reporting every complete frame\n";
  }
  std::ofstream file;
  if (!output_path.empty()) {
    file.open(output_path, std::ios::out | std::ios::trunc);
    if (!file) return fail(output_path + ": cannot write the report");
  }
  std::ostream& out = output_path.empty() ? std::cout : file;
  report_options.color = output_path.empty() && format == "text" && isatty(STDOUT_FILENO) != 0 &&
                         std::getenv("NO_COLOR") == nullptr;
  try {
    if (view == "regions") {
      regions_options.color = report_options.color;
      if (format == "json") {
        analyzer::write_regions_json(out, analysis, reader_options, regions_options);
      } else {
        analyzer::write_regions_text(out, analysis, reader_options, regions_options);
      }
    } else if (format == "json") {
      analyzer::write_json_report(out, analysis, report_options);
    } else {
      analyzer::write_text_report(out, analysis, report_options);
    }
  } catch (const analyzer::TraceError& error) {
    return fail(trace_path + ": " + error.what());
  }
  out.flush();
  if (!out) return fail((output_path.empty() ? "standard output" : output_path) + ": write failed");
  return 0;
}

}  // namespace dprof::tools
