#include <unistd.h>

#include <fstream>
#include <iostream>

#include "analysis.h"
#include "commands.h"
#include "html_report.h"
#include "process_tree.h"
#include "regions_view.h"
#include "report.h"
#include "report_views.h"
#include "trace_error.h"
#include "trace_loading.h"
#include "units.h"

namespace dprof::tools {

namespace {

const char kViews[] = "summary, sites, leaks, timeline, access-sites or regions";

bool is_view(const std::string& name) {
  for (const char* view : {"summary", "sites", "leaks", "timeline", "access-sites", "regions"}) {
    if (name == view) return true;
  }
  return false;
}

}  // namespace

int report_command(const std::vector<std::string>& arguments) {
  std::string trace_path;
  std::string output_path;
  std::string html_path;
  std::string format = "text";
  std::string view = "summary";
  analyzer::RegionsViewOptions regions_options;
  analyzer::ViewOptions view_options;
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
      if (given == nullptr) return fail("--format needs a value: text or json");
      if (*given != "text" && *given != "json") {
        return fail("--format " + *given + ": unknown format (use text or json)");
      }
      format = *given;
    } else if (argument == "--top") {
      const std::string* given = value();
      if (given == nullptr) return fail("--top needs a number");
      char* end = nullptr;
      long long count = std::strtoll(given->c_str(), &end, 10);
      if (given->empty() || *end != '\0' || count < 0) {
        return fail("--top " + *given + ": not a count (expected a whole number, 0 for all)");
      }
      view_options.report.top = static_cast<size_t>(count);
      top_given = true;
    } else if (argument == "--view") {
      const std::string* given = value();
      if (given == nullptr) return fail(std::string("--view needs a value: ") + kViews);
      if (!is_view(*given)) {
        return fail("--view " + *given + ": unknown view (use " + kViews + ")");
      }
      view = *given;
    } else if (argument == "--sort") {
      const std::string* given = value();
      if (given == nullptr) return fail("--sort needs a metric: " + analyzer::metric_names());
      view_options.sort = analyzer::find_site_metric(*given);
      if (view_options.sort == nullptr) {
        return fail("--sort " + *given + ": unknown metric (use " + analyzer::metric_names() + ")");
      }
      if (view == "summary") view = "sites";
    } else if (argument == "--min-size") {
      const std::string* given = value();
      if (given == nullptr) return fail("--min-size needs a size (e.g. 4096, 64KiB)");
      std::string problem;
      auto size = analyzer::parse_size(*given, &problem);
      if (!size) return fail("--min-size " + *given + ": " + problem);
      regions_options.min_size = *size;
    } else if (argument == "--full-stacks") {
      view_options.report.full_stacks = true;
    } else if (argument == "--html") {
      const std::string* given = value();
      if (given == nullptr) return fail("--html needs a file name (e.g. report.html)");
      html_path = *given;
    } else if (argument == "-o" || argument == "--output") {
      const std::string* given = value();
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
  bool json = format == "json";
  if (json && !top_given) view_options.report.top = 0;
  if (view == "sites" && !top_given && !json) view_options.report.top = 30;

  std::optional<analyzer::Analysis> loaded = load_trace(trace_path, loading);
  if (!loaded) return 2;
  analyzer::Analysis& analysis = *loaded;
  // The summary lists the traces the program's children wrote beside this one.
  if (view.empty() || view == "summary") analyzer::attach_child_traces(analysis);

  if (!html_path.empty()) {
    std::ofstream html(html_path, std::ios::out | std::ios::trunc);
    if (!html) return fail(html_path + ": cannot write the HTML report");
    try {
      analyzer::write_html_report(html, analysis, loading.reader);
    } catch (const analyzer::TraceError& error) {
      return fail(trace_path + ": " + error.what());
    }
    html.flush();
    if (!html) return fail(html_path + ": write failed");
    // The page is the output; a text or JSON report too only when -o names where it goes.
    if (output_path.empty()) return 0;
  }

  std::ofstream file;
  if (!output_path.empty()) {
    file.open(output_path, std::ios::out | std::ios::trunc);
    if (!file) return fail(output_path + ": cannot write the report");
  }
  std::ostream& out = output_path.empty() ? std::cout : file;
  view_options.report.color = output_path.empty() && !json && isatty(STDOUT_FILENO) != 0 &&
                              std::getenv("NO_COLOR") == nullptr;
  view_options.json = json;
  try {
    if (view == "regions") {
      regions_options.color = view_options.report.color;
      if (json) {
        analyzer::write_regions_json(out, analysis, loading.reader, regions_options);
      } else {
        analyzer::write_regions_text(out, analysis, loading.reader, regions_options);
      }
    } else if (view == "sites") {
      analyzer::write_sites_view(out, analysis, view_options);
    } else if (view == "leaks") {
      analyzer::write_leaks_view(out, analysis, view_options);
    } else if (view == "timeline") {
      analyzer::write_timeline_view(out, analysis, view_options);
    } else if (view == "access-sites") {
      analyzer::write_access_sites_view(out, analysis, view_options);
    } else if (json) {
      analyzer::write_json_report(out, analysis, view_options.report);
    } else {
      analyzer::write_text_report(out, analysis, view_options.report);
    }
  } catch (const analyzer::TraceError& error) {
    return fail(trace_path + ": " + error.what());
  }
  out.flush();
  if (!out) return fail((output_path.empty() ? "standard output" : output_path) + ": write failed");
  return 0;
}

}  // namespace dprof::tools
