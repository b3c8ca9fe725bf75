// The short summary damon-prof prints after recording a program.
#include <sys/stat.h>

#include <iostream>

#include "analysis.h"
#include "commands.h"
#include "report.h"
#include "trace_error.h"

namespace dprof::tools {
namespace {

// The traces of the root process and of the images that replaced it by exec, in order: each
// image's trace is the previous one's name with ".exec<N>" before ".dprof".
std::vector<std::string> exec_chain(const std::string& root) {
  std::vector<std::string> chain{root};
  std::string stem = root.size() > 6 && root.compare(root.size() - 6, 6, ".dprof") == 0
                         ? root.substr(0, root.size() - 6)
                         : root;
  for (int image = 1;; ++image) {
    std::string next = stem + ".exec" + std::to_string(image) + ".dprof";
    struct stat status;
    if (lstat(next.c_str(), &status) != 0) break;
    chain.push_back(next);
  }
  return chain;
}

}  // namespace

// The launcher's summary after a run (record_command.cpp): the verb record-summary, which only
// the launcher uses: TRACE and --follow or --no-follow.
int record_summary_command(const std::vector<std::string>& arguments) {
  if (arguments.size() != 2 || (arguments[1] != "--follow" && arguments[1] != "--no-follow")) {
    return fail("record-summary takes TRACE and --follow or --no-follow");
  }
  const std::string& root_trace = arguments[0];
  bool follow_children = arguments[1] == "--follow";
  std::vector<std::string> chain = exec_chain(root_trace);
  const std::string& last = chain.back();
  uint64_t children = 0;
  try {
    analyzer::Analysis analysis = analyzer::analyze_trace(last);
    analyzer::write_short_summary(std::cerr, analysis);
    if (!analysis.end) std::cerr << "damon-prof: " << analyzer::describe_end(analysis) << "\n";
    children = analysis.child_start_count;
  } catch (const analyzer::TraceError& error) {
    std::cerr << "damon-prof: " << last << ": " << error.what() << "\n";
    return 1;
  }
  std::cerr << "damon-prof: trace written to " << last << " (damon-prof report " << last << ")\n";
  if (children != 0) {
    std::cerr << "damon-prof: the program started " << children
              << (children == 1 ? " child process" : " child processes") << " ("
              << (follow_children ? "their traces are listed by damon-prof report"
                                  : "not traced: --no-follow")
              << ")\n";
  }
  if (chain.size() > 1) {
    std::cerr << "damon-prof: the program replaced itself by exec; earlier images:";
    for (size_t i = 0; i + 1 < chain.size(); ++i) std::cerr << " " << chain[i];
    std::cerr << "\n";
  }
  return 0;
}

}  // namespace dprof::tools
