// The outcome of `damon-prof check` for people (one line per limit), for programs (JSON), for CI
// test dashboards (JUnit XML: one test case per limit) and for CI job summaries (Markdown).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "limit_check.h"

namespace dprof::analyzer {

struct CheckContext {
  std::string trace;     // the trace checked
  std::string baseline;  // empty: none
  std::string program;   // its command line, when known
};

struct CheckCounts {
  size_t passed = 0;
  size_t failed = 0;
  size_t errors = 0;
};
CheckCounts count_results(const std::vector<LimitResult>& results);

void write_check_text(std::ostream& out, const CheckContext& context,
                      const std::vector<LimitResult>& results, bool color);
void write_check_json(std::ostream& out, const CheckContext& context,
                      const std::vector<LimitResult>& results);
void write_check_junit(std::ostream& out, const CheckContext& context,
                       const std::vector<LimitResult>& results);
void write_check_markdown(std::ostream& out, const CheckContext& context,
                          const std::vector<LimitResult>& results);

}  // namespace dprof::analyzer
