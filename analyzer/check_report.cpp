#include "check_report.h"

#include "flamegraph.h"  // xml_escape
#include "json_writer.h"

namespace dprof::analyzer {
namespace {

const char* status_word(LimitStatus status) {
  switch (status) {
    case LimitStatus::kPass:
      return "ok";
    case LimitStatus::kFail:
      return "FAIL";
    case LimitStatus::kError:
      return "ERROR";
  }
  return "";
}

std::string verdict(const CheckCounts& counts, size_t total) {
  if (counts.errors > 0) {
    return std::to_string(counts.errors) + " of " + std::to_string(total) +
           " limits could not be checked" +
           (counts.failed > 0 ? ", " + std::to_string(counts.failed) + " violated" : "");
  }
  if (counts.failed > 0) {
    return std::to_string(counts.failed) + " of " + std::to_string(total) + " limits violated";
  }
  return "all " + std::to_string(total) + " limits hold";
}

// Markdown table cells: a pipe would end the cell, a newline the row; markup characters are
// escaped so a site name cannot turn into a link or an image in a CI summary.
std::string markdown_cell(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      escaped += ' ';
    } else if (c == '|' || c == '\\' || c == '`' || c == '*' || c == '_' || c == '[' || c == ']' ||
               c == '<' || c == '>' || c == '!' || c == '#') {
      escaped += '\\';
      escaped += c;
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string value_text(const LimitResult& result) {
  const QuantityKind kind = quantity_info(result.limit.quantity).kind;
  if (result.status == LimitStatus::kError) return "—";
  if (!result.limit.growth) return format_quantity(kind, result.actual);
  return format_quantity(kind, *result.baseline) + " → " + format_quantity(kind, result.actual);
}

}  // namespace

CheckCounts count_results(const std::vector<LimitResult>& results) {
  CheckCounts counts;
  for (const LimitResult& result : results) {
    switch (result.status) {
      case LimitStatus::kPass:
        ++counts.passed;
        break;
      case LimitStatus::kFail:
        ++counts.failed;
        break;
      case LimitStatus::kError:
        ++counts.errors;
        break;
    }
  }
  return counts;
}

void write_check_text(std::ostream& out, const CheckContext& context,
                      const std::vector<LimitResult>& results, bool color) {
  out << "damon-prof check " << context.trace;
  if (!context.baseline.empty()) out << " against baseline " << context.baseline;
  out << "\n";
  for (const LimitResult& result : results) {
    std::string word = status_word(result.status);
    if (color && result.status != LimitStatus::kPass) word = "\033[1;31m" + word + "\033[0m";
    if (color && result.status == LimitStatus::kPass) word = "\033[32m" + word + "\033[0m";
    out << "  " << word << std::string(6 - std::string(status_word(result.status)).size(), ' ')
        << result.summary() << "\n";
  }
  out << verdict(count_results(results), results.size()) << "\n";
}

void write_check_json(std::ostream& out, const CheckContext& context,
                      const std::vector<LimitResult>& results) {
  JsonWriter json(out);
  CheckCounts counts = count_results(results);
  json.begin_object();
  json.field("schema", "damon-prof-check").field("schema_version", 1);
  json.field("trace", context.trace);
  json.key("baseline");
  if (context.baseline.empty()) {
    json.null();
  } else {
    json.value(context.baseline);
  }
  json.field("passed", counts.passed).field("failed", counts.failed).field("errors", counts.errors);
  json.key("limits").begin_array();
  for (const LimitResult& result : results) {
    const QuantityInfo& info = quantity_info(result.limit.quantity);
    json.begin_object();
    json.field("quantity", info.key);
    json.key("site_pattern");
    if (result.limit.site_pattern) {
      json.value(*result.limit.site_pattern);
    } else {
      json.null();
    }
    json.key("phase");
    if (result.limit.phase) {
      json.value(*result.limit.phase);
    } else {
      json.null();
    }
    json.field("growth", result.limit.growth);
    json.field("relative", result.limit.relative);
    json.field("bound", result.limit.bound);
    json.field("origin", result.limit.origin);
    json.field("status", result.status == LimitStatus::kPass   ? "pass"
                         : result.status == LimitStatus::kFail ? "fail"
                                                               : "error");
    if (result.status == LimitStatus::kError) {
      json.field("error", result.error);
    } else {
      json.field("actual", result.actual);
      json.key("baseline");
      if (result.baseline) {
        json.value(*result.baseline);
      } else {
        json.null();
      }
      json.field("allowed", result.allowed);
    }
    json.key("responsible_sites").begin_array();
    for (const Contributor& contributor : result.responsible) {
      json.begin_object().field("site", contributor.site).field("value", contributor.value);
      json.end_object();
    }
    json.end_array();
    json.field("message", result.summary());
    json.end_object();
  }
  json.end_array();
  json.end_object();
  out << "\n";
}

void write_check_junit(std::ostream& out, const CheckContext& context,
                       const std::vector<LimitResult>& results) {
  CheckCounts counts = count_results(results);
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites name=\"damon-prof check\" tests=\"" << results.size() << "\" failures=\""
      << counts.failed << "\" errors=\"" << counts.errors << "\">\n";
  out << "  <testsuite name=\"" << xml_escape("memory limits: " + context.trace) << "\" tests=\""
      << results.size() << "\" failures=\"" << counts.failed << "\" errors=\"" << counts.errors
      << "\">\n";
  for (const LimitResult& result : results) {
    std::string name = describe_limit(result.limit) + " <= " + format_bound(result.limit);
    std::string class_name = result.limit.site_pattern ? "damon-prof.sites"
                             : result.limit.phase      ? "damon-prof.phases"
                                                       : "damon-prof.program";
    out << "    <testcase classname=\"" << xml_escape(class_name) << "\" name=\""
        << xml_escape(name) << "\">\n";
    if (result.status == LimitStatus::kFail) {
      out << "      <failure message=\"" << xml_escape(result.summary()) << "\" type=\"limit\">"
          << xml_escape(result.summary()) << "</failure>\n";
    } else if (result.status == LimitStatus::kError) {
      out << "      <error message=\"" << xml_escape(result.summary()) << "\" type=\"unchecked\">"
          << xml_escape(result.summary()) << "</error>\n";
    } else {
      out << "      <system-out>" << xml_escape(result.summary()) << "</system-out>\n";
    }
    out << "    </testcase>\n";
  }
  out << "  </testsuite>\n</testsuites>\n";
}

void write_check_markdown(std::ostream& out, const CheckContext& context,
                          const std::vector<LimitResult>& results) {
  CheckCounts counts = count_results(results);
  bool clean = counts.failed == 0 && counts.errors == 0;
  out << "### damon-prof memory check: " << (clean ? "passed" : "FAILED") << "\n\n";
  out << "Trace " << markdown_cell(context.trace);
  if (!context.baseline.empty()) out << ", baseline " << markdown_cell(context.baseline);
  if (!context.program.empty()) out << ", program " << markdown_cell(context.program);
  out << ": " << verdict(counts, results.size()) << ".\n\n";
  out << "| | Limit | Value | Bound | Set by |\n|---|---|---|---|---|\n";
  for (const LimitResult& result : results) {
    const char* mark = result.status == LimitStatus::kPass   ? "✅"
                       : result.status == LimitStatus::kFail ? "❌"
                                                             : "⚠️";
    out << "| " << mark << " | " << markdown_cell(describe_limit(result.limit)) << " | "
        << markdown_cell(value_text(result)) << " | " << markdown_cell(format_bound(result.limit))
        << " | " << markdown_cell(result.limit.origin) << " |\n";
  }
  if (!clean) {
    out << "\n";
    for (const LimitResult& result : results) {
      if (result.status == LimitStatus::kPass) continue;
      out << "- **" << status_word(result.status) << "** " << markdown_cell(result.summary())
          << "\n";
    }
  }
}

}  // namespace dprof::analyzer
