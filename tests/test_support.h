// Helpers for tests that run real programs: run a command and capture its output and status,
// temporary directories, and the paths of the built binaries.
#pragma once

#include <string>
#include <vector>

namespace dprof::testing {

struct CommandResult {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal killed it
  std::string out;
  std::string err;
};

// Runs argv (argv[0] searched in PATH) with extra environment variables ("NAME=value"), in
// `directory` when not empty.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& environment = {},
                          const std::string& directory = "");

// A fresh empty directory, removed with its contents when the object goes.
// Commands run with core dumps off (RLIMIT_CORE 0) unless a test that looks at them allows them.
void allow_core_dumps(bool allowed);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Files in the directory whose names end with `suffix`, sorted.
  std::vector<std::string> files_ending_with(const std::string& suffix) const;

 private:
  std::string path_;
};

std::string damon_prof_binary();
std::string test_program(const std::string& name);
bool file_exists(const std::string& path);
std::string read_file(const std::string& path);

}  // namespace dprof::testing
