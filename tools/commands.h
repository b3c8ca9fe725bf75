// The verbs of the damon-prof command. Each returns the process exit status.
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

// One-line error to stderr, prefixed "damon-prof: ". Returns 2 (the status for usage and input
// errors) so callers can `return fail(...)`.
int fail(const std::string& message);

}  // namespace dprof::tools
