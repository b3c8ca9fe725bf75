// The verbs of the damon-prof command. Each returns the process exit status. record runs in the
// launcher (damon-prof); the others, and record-summary (the launcher's summary after a run), in
// the analyzer (damon-prof-analyze), which the launcher execs for them.
#pragma once

#include <string>
#include <vector>

namespace dprof::tools {

int record_command(const std::vector<std::string>& arguments);
int report_command(const std::vector<std::string>& arguments);
int flamegraph_command(const std::vector<std::string>& arguments);
int heatmap_command(const std::vector<std::string>& arguments);
int check_command(const std::vector<std::string>& arguments);
int diff_command(const std::vector<std::string>& arguments);
int export_command(const std::vector<std::string>& arguments);
int record_summary_command(const std::vector<std::string>& arguments);

// Whether `verb` is one of the analyzer's.
bool is_analysis_verb(const std::string& verb);

// One-line error to stderr, prefixed "damon-prof: ". Returns 2 (the status for usage and input
// errors) so callers can `return fail(...)`.
int fail(const std::string& message);

}  // namespace dprof::tools
