// fork children and exec'd images write their own traces; exit statuses and fatal signals pass
// through damon-prof unchanged and are recorded in the end record.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "damon_prof/trace_format.h"
#include "integration_support.h"

using namespace dprof::testing;

TEST(Processes, ForkChildAndExecImageEachWriteTheirOwnTrace) {
  TempDir directory;
  std::string parent_trace = directory.file("parent.dprof");
  CommandResult result =
      run_command({damon_prof_binary(), "-o", parent_trace, test_program("fork_exec")});
  EXPECT_EQ(result.exit_code, 4) << result.err;  // the exec'd image's status
  // The summary follows the exec to the program that finally ran.
  std::string exec_trace = directory.file("parent.exec1.dprof");
  EXPECT_NE(result.err.find("trace written to " + exec_trace), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("earlier images: " + parent_trace), std::string::npos) << result.err;
  auto traces = directory.files_ending_with(".dprof");
  ASSERT_EQ(traces.size(), 3u) << result.err;
  int parents = 0, children = 0, exec_images = 0;
  for (const std::string& trace : traces) {
    auto analysis = analyze_symbolized(trace);
    ASSERT_TRUE(analysis.end.has_value()) << trace;
    ASSERT_TRUE(analysis.process.has_value());
    if (totals_for(analysis, "parent_allocations").alloc_count != 0) {
      ++parents;
      EXPECT_EQ(trace, parent_trace);
      EXPECT_EQ(totals_for(analysis, "parent_allocations").alloc_bytes, 2u * 211);
      EXPECT_EQ(analysis.end->how, static_cast<uint32_t>(DPROF_END_EXEC));
      EXPECT_EQ(totals_for(analysis, "child_allocations").alloc_count, 0u);
    } else if (totals_for(analysis, "child_allocations").alloc_count != 0) {
      ++children;
      EXPECT_NE(analysis.process->flags & DPROF_PROCESS_FORKED, 0u);
      EXPECT_EQ(totals_for(analysis, "child_allocations").alloc_bytes, 5u * 555);
      EXPECT_EQ(totals_for(analysis, "child_allocations").leaked_count, 5u);
      EXPECT_EQ(analysis.end->how, static_cast<uint32_t>(DPROF_END_EXIT));
    } else {
      ++exec_images;
      EXPECT_EQ(trace, exec_trace);
      EXPECT_NE(analysis.process->flags & DPROF_PROCESS_EXECED, 0u);
      EXPECT_EQ(totals_for(analysis, "exec_stage_allocations").alloc_bytes, 7u * 777);
      EXPECT_EQ(analysis.end->how, static_cast<uint32_t>(DPROF_END_EXIT));
      EXPECT_EQ(analysis.end->code, 4);
    }
  }
  EXPECT_EQ(parents, 1);
  EXPECT_EQ(children, 1);
  EXPECT_EQ(exec_images, 1);
}

TEST(Processes, ExitStatusPassesThrough) {
  TempDir directory;
  std::string trace = directory.file("t.dprof");
  CommandResult result =
      run_command({damon_prof_binary(), "-q", "-o", trace, test_program("crasher"), "exit", "7"});
  EXPECT_EQ(result.exit_code, 7);
  auto analysis = analyze_symbolized(trace);
  ASSERT_TRUE(analysis.end.has_value());
  EXPECT_EQ(analysis.end->how, static_cast<uint32_t>(DPROF_END_EXIT));
  EXPECT_EQ(analysis.end->code, 7);
  EXPECT_EQ(totals_for(analysis, "before_the_end").alloc_count, 9u);
}

TEST(Processes, FatalSignalsAreRecordedAndPassedOn) {
  for (auto [mode, signal_number] : {std::pair{"abort", SIGABRT}, std::pair{"segv", SIGSEGV}}) {
    TempDir directory;
    std::string trace = directory.file("t.dprof");
    CommandResult result =
        run_command({damon_prof_binary(), "-q", "-o", trace, test_program("crasher"), mode});
    EXPECT_EQ(result.signal, signal_number) << mode << ": " << result.err;
    auto analysis = analyze_symbolized(trace);
    ASSERT_TRUE(analysis.end.has_value()) << mode;
    EXPECT_EQ(analysis.end->how, static_cast<uint32_t>(DPROF_END_SIGNAL));
    EXPECT_EQ(analysis.end->code, signal_number);
    EXPECT_EQ(totals_for(analysis, "before_the_end").leaked_count, 9u);
  }
}

TEST(Processes, TheProgramsOwnSignalHandlerStillWorks) {
  TempDir directory;
  CommandResult result = run_command({damon_prof_binary(), "-q", "-o", directory.file("t.dprof"),
                                      test_program("crasher"), "handler"});
  EXPECT_EQ(result.exit_code, 42);  // 3 would mean the runtime's handler was visible
}

TEST(Processes, KillNineLeavesAReadableTrace) {
  TempDir directory;
  std::string trace = directory.file("t.dprof");
  int out_pipe[2];
  ASSERT_EQ(pipe(out_pipe), 0);
  pid_t launcher = fork();
  if (launcher == 0) {
    dup2(out_pipe[1], 1);
    close(out_pipe[0]);
    std::string binary = damon_prof_binary();
    std::string program = test_program("crasher");
    execl(binary.c_str(), binary.c_str(), "-q", "--flush-interval", "100", "-o", trace.c_str(),
          program.c_str(), "wait", nullptr);
    _exit(127);
  }
  close(out_pipe[1]);
  FILE* out = fdopen(out_pipe[0], "r");
  int program_pid = 0;
  ASSERT_EQ(std::fscanf(out, "ready %d", &program_pid), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // several flush intervals
  kill(program_pid, SIGKILL);
  int status = 0;
  waitpid(launcher, &status, 0);
  std::fclose(out);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  auto analysis = analyze_symbolized(trace);
  EXPECT_FALSE(analysis.end.has_value());
  // Everything up to the last flush is there: the allocations before "ready" at least.
  EXPECT_EQ(totals_for(analysis, "before_the_end").alloc_count, 9u);
  EXPECT_GE(analysis.totals.alloc_count, 10u);
  CommandResult report = run_command({damon_prof_binary(), "report", trace});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.err.find("incomplete"), std::string::npos) << report.err;
  EXPECT_NE(report.out.find("before_the_end"), std::string::npos);
}
