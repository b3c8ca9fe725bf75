// The launcher: checks the program, runs it with the runtime preloaded, passes its exit status
// (or its fatal signal) on, and summarizes the trace it wrote.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "commands.h"
#include "environment_check.h"
#include "program_check.h"
#include "record_options.h"

namespace dprof::tools {
namespace {

// The program, while it runs: a signal handler reads it.
volatile sig_atomic_t g_child = 0;

void forward_signal(int signal_number) {
  if (g_child > 0) kill(g_child, signal_number);
}

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string absolute_directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string directory = slash == std::string::npos ? "." : path.substr(0, slash);
  if (directory.empty()) directory = "/";
  char resolved[PATH_MAX];
  if (realpath(directory.c_str(), resolved) == nullptr) return directory;
  return resolved;
}

// Runs the program in this process with the runtime preloaded; returns errno if it cannot.
int exec_program(const ProgramCheck& program, const std::vector<std::string>& argv,
                 const std::string& runtime, const std::string& output,
                 const std::string& output_dir, const RecordOptions& options) {
  std::string preload = runtime;
  if (const char* existing = std::getenv("LD_PRELOAD"); existing != nullptr && *existing) {
    preload += std::string(":") + existing;
  }
  setenv("LD_PRELOAD", preload.c_str(), 1);
  std::string path = output.empty() ? output_dir + "/" + basename_of(argv[0]) + "." +
                                          std::to_string(getpid()) + ".dprof"
                                    : output;
  setenv("DAMON_PROF_OUTPUT", path.c_str(), 1);
  setenv("DAMON_PROF_OUTPUT_PID", std::to_string(getpid()).c_str(), 1);
  setenv("DAMON_PROF_OUTPUT_DIR", output_dir.c_str(), 1);
  for (const auto& [name, value] : options.runtime_environment) {
    setenv(name.c_str(), value.c_str(), 1);
  }
  std::vector<char*> raw;
  raw.reserve(argv.size() + 1);
  for (const std::string& argument : argv) raw.push_back(const_cast<char*>(argument.c_str()));
  raw.push_back(nullptr);
  execv(program.path.c_str(), raw.data());
  return errno;
}

// The summary is the analyzer's (a separate program, so that the launcher itself loads quickly:
// see analyzer_main.cpp): run it on the trace and wait for it. It writes to stderr.
void summarize(const std::string& root_trace, bool follow_children) {
  std::string error;
  std::string analyzer = locate_analyzer(&error);
  if (analyzer.empty()) {
    std::cerr << "damon-prof: no summary: " << error << "\n";
    return;
  }
  std::vector<std::string> argv{"damon-prof-analyze", "record-summary", root_trace,
                                follow_children ? "--follow" : "--no-follow"};
  std::vector<char*> raw;
  raw.reserve(argv.size() + 1);
  for (std::string& argument : argv) raw.push_back(argument.data());
  raw.push_back(nullptr);
  pid_t summary = fork();
  if (summary < 0) {
    std::cerr << "damon-prof: no summary: cannot start the analyzer: " << std::strerror(errno)
              << "\n";
    return;
  }
  if (summary == 0) {
    execv(analyzer.c_str(), raw.data());
    std::cerr << "damon-prof: no summary: " << analyzer << ": " << std::strerror(errno) << "\n";
    _exit(127);
  }
  int status = 0;
  while (waitpid(summary, &status, 0) < 0 && errno == EINTR) {
  }
}

[[noreturn]] void die_like(int signal_number) {
  // The program died of this signal: so does damon-prof, for whoever waits on us, without a
  // second core dump.
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(signal_number, SIG_DFL);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, signal_number);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
  raise(signal_number);
  _exit(128 + signal_number);
}

// The DAMON_PROF_* variables damon-prof inherits reach the runtime unless an option or the
// launcher itself sets them: a bad value is refused here (the runtime would only fall back to the
// default and note it in the trace), an unknown name is pointed out.
bool check_inherited_environment(const RecordOptions& options) {
  static const char* const kSetByTheLauncher[] = {"DAMON_PROF_OUTPUT", "DAMON_PROF_OUTPUT_PID",
                                                  "DAMON_PROF_OUTPUT_DIR"};
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string text = *entry;
    std::string name = text.substr(0, text.find('='));
    bool overridden = false;
    for (const char* own : kSetByTheLauncher) overridden = overridden || name == own;
    for (const auto& [option_name, value] : options.runtime_environment) {
      overridden = overridden || name == option_name;
    }
    if (overridden) continue;
    char problem[200];
    auto verdict = environment_check::check_entry(*entry, problem, sizeof(problem));
    if (verdict == environment_check::Verdict::kInvalidValue) {
      fail(std::string(problem) + " (in the environment)");
      return false;
    }
    if (verdict == environment_check::Verdict::kUnknownName) {
      std::cerr << "damon-prof: warning: " << problem << "\n";
    }
  }
  return true;
}

}  // namespace

int record_command(const std::vector<std::string>& arguments) {
  RecordOptions options;
  std::string problem;
  if (!parse_record_options(arguments, &options, &problem)) return fail(problem);
  if (!check_inherited_environment(options)) return 2;
  std::string output = options.output;
  bool quiet = options.quiet;  // then no summary, and nothing left to do after the program
  const std::vector<std::string>& program_argv = options.program;
  ProgramCheck program = check_program(program_argv[0]);
  if (!program.error.empty()) return fail(program.error);
  std::string runtime_error;
  std::string runtime = locate_runtime(&runtime_error);
  if (runtime.empty()) return fail(runtime_error);
  if (!output.empty()) {
    struct stat status;
    if (lstat(output.c_str(), &status) == 0) {
      return fail(output +
                  ": already exists (damon-prof never overwrites a file; choose another -o)");
    }
    int probe = open(output.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (probe < 0) return fail(output + ": cannot create the trace: " + std::strerror(errno));
    close(probe);
    unlink(output.c_str());
  }
  std::string output_dir = absolute_directory_of(output.empty() ? "./x" : output);
  // Absolute, so that a program that changes directory before it first allocates still writes
  // where the user asked.
  if (!output.empty()) output = output_dir + "/" + basename_of(output);

  if (quiet) {
    // Nothing to do once the program ends: it becomes this process, so its exit status, its
    // signals and its process id are its own, and neither a fork nor a waiting launcher costs
    // it anything (a few milliseconds of a short program's run on a virtual machine).
    int error = exec_program(program, program_argv, runtime, output, output_dir, options);
    return fail(program_argv[0] + ": cannot execute: " + std::strerror(error));
  }
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) return fail(std::string("pipe: ") + std::strerror(errno));
  pid_t child = fork();
  if (child < 0) return fail(std::string("cannot start the program: ") + std::strerror(errno));
  if (child == 0) {
    close(error_pipe[0]);
    int error = exec_program(program, program_argv, runtime, output, output_dir, options);
    ssize_t ignored = write(error_pipe[1], &error, sizeof(error));
    (void)ignored;
    _exit(127);
  }
  g_child = child;
  close(error_pipe[1]);
  // Keyboard signals reach the program through the terminal; damon-prof stays to write the
  // summary. Signals sent to damon-prof alone are passed on.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  for (int forwarded : {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2}) signal(forwarded, forward_signal);
  int exec_error = 0;
  ssize_t got = read(error_pipe[0], &exec_error, sizeof(exec_error));
  close(error_pipe[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;  // reaped: its pid may be anyone's now, signals are no longer passed on
  if (got == static_cast<ssize_t>(sizeof(exec_error))) {
    return fail(program_argv[0] + ": cannot execute: " + std::strerror(exec_error));
  }
  std::string trace = output.empty() ? output_dir + "/" + basename_of(program_argv[0]) + "." +
                                           std::to_string(child) + ".dprof"
                                     : output;
  bool follow_children = true;
  for (const auto& [name, value] : options.runtime_environment) {
    if (name == "DAMON_PROF_NO_FOLLOW") follow_children = false;
  }
  summarize(trace, follow_children);
  if (WIFSIGNALED(status)) die_like(WTERMSIG(status));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace dprof::tools
