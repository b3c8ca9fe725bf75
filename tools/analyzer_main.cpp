// damon-prof-analyze: the analysis verbs of damon-prof (report, flamegraph, heatmap, check, diff,
// export). The launcher (main.cpp) execs this program for them: it is separate so that recording
// does not load the analyzer's libraries (libdw, Capstone, protobuf, libpng) before the program
// starts: about 5 ms and 600 page faults, measured with `perf stat damon-prof --version`.
#include <string>
#include <vector>

#include "commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> arguments(argv + 1, argv + argc);
  if (arguments.empty() || !dprof::tools::is_analysis_verb(arguments.front())) {
    return dprof::tools::fail(
        "damon-prof-analyze runs the analysis verbs (report, flamegraph, heatmap, check, diff, "
        "export); see damon-prof help");
  }
  const std::string verb = arguments.front();
  std::vector<std::string> rest(arguments.begin() + 1, arguments.end());
  if (verb == "report") return dprof::tools::report_command(rest);
  if (verb == "flamegraph") return dprof::tools::flamegraph_command(rest);
  if (verb == "heatmap") return dprof::tools::heatmap_command(rest);
  if (verb == "check") return dprof::tools::check_command(rest);
  if (verb == "diff") return dprof::tools::diff_command(rest);
  if (verb == "export") return dprof::tools::export_command(rest);
  return dprof::tools::record_summary_command(rest);
}
