// The options of `damon-prof record`, validated before anything runs, and the environment they
// become for the runtime.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dprof::tools {

struct RecordOptions {
  std::string output;
  bool quiet = false;
  // DAMON_PROF_* variables for the runtime, already in its units.
  std::vector<std::pair<std::string, std::string>> runtime_environment;
  std::vector<std::string> program;  // PROGRAM and its arguments
};

// Parses the arguments after the verb. On an invalid option returns false with `error` naming it.
bool parse_record_options(const std::vector<std::string>& arguments, RecordOptions* options,
                          std::string* error);

}  // namespace dprof::tools
