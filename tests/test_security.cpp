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
