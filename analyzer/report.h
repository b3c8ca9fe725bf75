// Renderers of an Analysis: the text summary for people and the JSON document for programs
// (schema: docs/json-schema.md).
#pragma once

#include <cstddef>
#include <ostream>

#include "analysis.h"

namespace dprof::analyzer {

struct ReportOptions {
  size_t top = 10;           // sites per ranking (text) / sites listed (JSON, 0 = all)
  size_t max_frames = 12;    // stack frames shown per site in text
  bool full_stacks = false;  // text: also the allocation machinery above the site's frame
  bool color = false;
};

void write_text_report(std::ostream& out, Analysis& analysis, const ReportOptions& options);
void write_json_report(std::ostream& out, Analysis& analysis, const ReportOptions& options);
// The few lines `damon-prof record` prints when the program ends.
void write_short_summary(std::ostream& out, const Analysis& analysis);

// "exited with status 3", "killed by signal 9 (Killed)", "incomplete (no end record)"
std::string describe_end(const Analysis& analysis);

}  // namespace dprof::analyzer
