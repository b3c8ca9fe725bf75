// damon-prof check: fails a CI job when a trace breaks its memory budget.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "check_report.h"
#include "commands.h"
#include "limit_check.h"
#include "memory_limits.h"
#include "trace_loading.h"

namespace dprof::tools {
namespace {

// Splits "max-peak=64MiB,max-leaked=0" into limits on the sites matching `pattern`, or with
// `phase`, on the phase named `pattern`.
bool add_scoped_limits(const std::string& option, const std::string& pattern,
                       const std::string& list, bool phase, std::vector<analyzer::Limit>& limits,
                       std::string& error) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t equals = item.find('=');
    if (equals == std::string::npos) {
      error = option + " " + pattern + " " + list +
              ": expected LIMIT=VALUE[,LIMIT=VALUE...] (e.g. max-peak=64MiB,max-allocs=1000)";
      return false;
    }
    std::string problem;
    std::optional<std::string> site_pattern;
    std::optional<std::string> phase_name;
    (phase ? phase_name : site_pattern) = pattern;
    if (!analyzer::add_limit(item.substr(0, equals), item.substr(equals + 1), site_pattern,
                             option + " " + pattern, limits, &problem, phase_name)) {
      error = option + " " + pattern + " " + item + ": " + problem;
      return false;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

bool write_file(const std::string& path, const char* what,
                void (*writer)(std::ostream&, const analyzer::CheckContext&,
                               const std::vector<analyzer::LimitResult>&),
                const analyzer::CheckContext& context,
                const std::vector<analyzer::LimitResult>& results) {
  std::ofstream file(path, std::ios::out | std::ios::trunc);
  if (!file) {
    fail(path + ": cannot write the " + what);
    return false;
  }
  writer(file, context, results);
  file.flush();
  if (!file) {
    fail(path + ": write failed");
    return false;
  }
  return true;
}

std::string command_line(const analyzer::Analysis& analysis) {
  std::string text;
  if (!analysis.process) return text;
  for (const std::string& argument : analysis.process->command_line) {
    if (!text.empty()) text += ' ';
    text += argument;
  }
  return text;
}

}  // namespace

int check_command(const std::vector<std::string>& arguments) {
  std::string trace_path;
  std::string baseline_path;
  std::string junit_path;
  std::string markdown_path;
  std::string format = "text";
  std::vector<analyzer::Limit> limits;
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
    if (analyzer::is_limit_option(argument)) {
      const std::string* given = value();
      if (given == nullptr) return fail(argument + " needs a value");
      if (!analyzer::add_limit(argument.substr(2), *given, std::nullopt, argument, limits,
                               &error)) {
        return fail(argument + " " + *given + ": " + error);
      }
    } else if (argument == "--site" || argument == "--phase") {
      const std::string* pattern = value();
      const std::string* list = value();
      if (pattern == nullptr || list == nullptr) {
        return fail(argument == "--site"
                        ? "--site needs a pattern and limits: --site 'Parser::*' max-peak=64MiB"
                        : "--phase needs a name and limits: --phase load max-peak=64MiB");
      }
      if (!add_scoped_limits(argument, *pattern, *list, argument == "--phase", limits, error)) {
        return fail(error);
      }
    } else if (argument == "--limits") {
      const std::string* given = value();
      if (given == nullptr) return fail("--limits needs a file name");
      if (!analyzer::read_limits_file(*given, limits, &error)) return fail(error);
    } else if (argument == "--baseline") {
      const std::string* given = value();
      if (given == nullptr) return fail("--baseline needs a trace file");
      baseline_path = *given;
    } else if (argument == "--junit") {
      const std::string* given = value();
      if (given == nullptr) return fail("--junit needs a file name (e.g. memory-check.xml)");
      junit_path = *given;
    } else if (argument == "--markdown") {
      const std::string* given = value();
      if (given == nullptr) return fail("--markdown needs a file name (e.g. memory-check.md)");
      markdown_path = *given;
    } else if (argument == "--format") {
      const std::string* given = value();
      if (given == nullptr || (*given != "text" && *given != "json")) {
        return fail("--format " + (given == nullptr ? std::string() : *given) +
                    ": use text or json");
      }
      format = *given;
    } else if (!argument.empty() && argument[0] == '-') {
      return fail("check: unknown option " + argument);
    } else if (trace_path.empty()) {
      trace_path = argument;
    } else {
      return fail("check: one trace at a time (got " + trace_path + " and " + argument +
                  "; a baseline goes with --baseline)");
    }
  }
  if (trace_path.empty()) return fail("check: which trace? usage: damon-prof check TRACE LIMITS");
  if (limits.empty()) {
    return fail(
        "check: no limits given (e.g. --max-peak 512MiB, --limits FILE; see damon-prof "
        "help)");
  }
  bool wants_growth = false;
  for (const analyzer::Limit& limit : limits) wants_growth = wants_growth || limit.growth;
  if (wants_growth && baseline_path.empty()) {
    return fail("check: a growth limit needs --baseline BASE.dprof");
  }

  std::optional<analyzer::Analysis> analysis = load_trace(trace_path, loading);
  if (!analysis) return 2;
  analyzer::symbolize_sites(*analysis);
  std::optional<analyzer::Analysis> baseline;
  if (!baseline_path.empty()) {
    TraceLoading baseline_loading = loading;
    baseline = load_trace(baseline_path, baseline_loading);
    if (!baseline) return 2;
    analyzer::symbolize_sites(*baseline);
  }

  std::vector<analyzer::LimitResult> results =
      analyzer::check_limits(limits, *analysis, baseline ? &*baseline : nullptr);
  analyzer::CheckContext context{trace_path, baseline_path, command_line(*analysis)};
  if (format == "json") {
    analyzer::write_check_json(std::cout, context, results);
  } else {
    bool color = isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
    analyzer::write_check_text(std::cout, context, results, color);
  }
  std::cout.flush();
  bool written = true;
  if (!junit_path.empty()) {
    written &=
        write_file(junit_path, "JUnit report", analyzer::write_check_junit, context, results);
  }
  if (!markdown_path.empty()) {
    written &= write_file(markdown_path, "Markdown summary", analyzer::write_check_markdown,
                          context, results);
  }
  analyzer::CheckCounts counts = analyzer::count_results(results);
  if (!written || counts.errors > 0) return 2;
  return counts.failed > 0 ? 1 : 0;
}

}  // namespace dprof::tools
