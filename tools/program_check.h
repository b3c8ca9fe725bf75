// Checks made before anything runs: that the program exists, can be executed, and can be
// preloaded (a dynamically linked x86-64 ELF, or a script whose interpreter is one), and is not
// setuid/setgid (the dynamic linker ignores LD_PRELOAD for those).
#pragma once

#include <string>

namespace dprof::tools {

struct ProgramCheck {
  std::string path;   // resolved path to execute
  std::string error;  // empty when the program can be profiled
};

ProgramCheck check_program(const std::string& name);

// Where the runtime library is: $DAMON_PROF_RUNTIME, else next to this executable in the build
// tree or installed prefix layout (<prefix>/bin/damon-prof, <prefix>/<libdir>/damon-prof/).
std::string locate_runtime(std::string* error);
// Where the analyzer (damon-prof-analyze, the analysis verbs) is: $DAMON_PROF_ANALYZER, else
// beside the runtime library.
std::string locate_analyzer(std::string* error);

}  // namespace dprof::tools
