// What damon-prof refuses to do: write a trace through a symlink or over a file (neither the
// launcher nor the preloaded runtime on its own), or run a setuid program it cannot watch.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "integration_support.h"

using namespace dprof::testing;

namespace {

int lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(Security, TheLauncherNeverWritesThroughASymlink) {
  TempDir directory;
  std::string target = directory.file("target");
  std::string link = directory.file("link.dprof");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  CommandResult result =
      run_command({damon_prof_binary(), "-o", link, test_program("crasher"), "exit", "0"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find(link + ": already exists"), std::string::npos) << result.err;
  EXPECT_EQ(lines(result.err), 1) << result.err;
  EXPECT_FALSE(file_exists(target));
}

// Preloaded by hand, the runtime opens its output with O_EXCL | O_NOFOLLOW: a planted symlink (or
// file) is not followed or truncated, and the program runs exactly as it would without us.
TEST(Security, ThePreloadedRuntimeNeverWritesThroughASymlinkOrOverAFile) {
  TempDir directory;
  std::string target = directory.file("victim");
  std::string link = directory.file("planted.dprof");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  std::string existing = directory.file("existing.dprof");
  { std::ofstream(existing) << "precious"; }
  for (const std::string& output : {link, existing}) {
    CommandResult result = run_command(
        {test_program("crasher"), "exit", "7"},
        {std::string("LD_PRELOAD=") + DAMON_PROF_RUNTIME_LIBRARY, "DAMON_PROF_OUTPUT=" + output});
    EXPECT_EQ(result.exit_code, 7);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, "");  // diagnostics only with DAMON_PROF_VERBOSE
  }
  EXPECT_FALSE(file_exists(target));
  EXPECT_EQ(read_file(existing), "precious");
}

TEST(Security, SetuidProgramsAreRefusedBeforeAnythingRuns) {
  TempDir directory;
  std::string program = directory.file("setuid_crasher");
  std::filesystem::copy_file(test_program("crasher"), program);
  ASSERT_EQ(chmod(program.c_str(), 04755), 0);
  std::string trace = directory.file("never.dprof");
  CommandResult result = run_command({damon_prof_binary(), "-o", trace, program, "exit", "0"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("is setuid/setgid"), std::string::npos) << result.err;
  EXPECT_EQ(lines(result.err), 1) << result.err;
  EXPECT_FALSE(file_exists(trace));
}

}  // namespace

// A bad DAMON_PROF_* value inherited from the environment is refused by the launcher, with one
// line naming it, before the program runs; an unknown name is only pointed out.
TEST(Security, TheLauncherRefusesBadEnvironmentValues) {
  TempDir directory;
  std::string trace = directory.file("t.dprof");
  CommandResult bad =
      run_command({damon_prof_binary(), "-o", trace, test_program("crasher"), "exit", "0"},
                  {"DAMON_PROF_SAMPLING_NS=fast"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err,
            "damon-prof: DAMON_PROF_SAMPLING_NS=fast: expected nanoseconds from 100000 to "
            "10000000000 (in the environment)\n");
  EXPECT_FALSE(file_exists(trace));
  // An option given on the command line replaces the inherited value: nothing to refuse.
  CommandResult overridden = run_command({damon_prof_binary(), "-q", "-o", trace, "--sampling",
                                          "5ms", test_program("crasher"), "exit", "0"},
                                         {"DAMON_PROF_SAMPLING_NS=fast"});
  EXPECT_EQ(overridden.exit_code, 0) << overridden.err;
  CommandResult typo = run_command({damon_prof_binary(), "-q", "-o", directory.file("u.dprof"),
                                    test_program("crasher"), "exit", "0"},
                                   {"DAMON_PROF_SAMPLNG_NS=5000000"});
  EXPECT_EQ(typo.exit_code, 0);
  EXPECT_EQ(typo.err,
            "damon-prof: warning: DAMON_PROF_SAMPLNG_NS is not a damon-prof variable "
            "(ignored)\n");
}

// The runtime alone (preloaded by hand) cannot refuse anything: the program runs unchanged, the
// defaults are used, and the trace says which variables were wrong, printable.
TEST(Security, TheRuntimeNotesBadEnvironmentValuesInTheTrace) {
  TempDir directory;
  CommandResult result = run_command(
      {test_program("crasher"), "exit", "5"},
      {std::string("LD_PRELOAD=") + DAMON_PROF_RUNTIME_LIBRARY,
       "DAMON_PROF_OUTPUT_DIR=" + directory.path(), "DAMON_PROF_FLUSH_INTERVAL=9\x1b]0;x\x07",
       "DAMON_PROF_BACKEND=turbo", "DAMON_PROF_TYPO=1"});
  EXPECT_EQ(result.exit_code, 5);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "");
  auto traces = directory.files_ending_with(".dprof");
  ASSERT_EQ(traces.size(), 1u);
  auto analysis = analyze_symbolized(traces.front());
  ASSERT_TRUE(analysis.end.has_value());
  std::string notes;
  for (const auto& diagnostic : analysis.diagnostics) notes += diagnostic.text + "\n";
  EXPECT_NE(notes.find("DAMON_PROF_FLUSH_INTERVAL=9?]0;x?: expected milliseconds"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("DAMON_PROF_BACKEND=turbo: expected auto, uffd-wp, mprotect or none"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("DAMON_PROF_TYPO is not a damon-prof variable"), std::string::npos) << notes;
  EXPECT_EQ(notes.find('\x1b'), std::string::npos);
}
