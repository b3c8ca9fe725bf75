// fork children and exec'd images write their own traces; exit statuses and fatal signals pass
// through damon-prof unchanged and are recorded in the end record.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
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
  // With -q there is nothing to do after the program: it runs in the launcher's own process.
  EXPECT_EQ(program_pid, launcher);
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

// Every way of starting a child (fork, vfork+exec, posix_spawn with the program's environment and
// with an empty one, system(), popen()) leaves a trace for it; the parent's trace notes the
// children and its report lists their traces, grandchildren (the commands the shells ran) under
// their shells.
TEST(Processes, EveryKindOfChildWritesItsOwnTrace) {
  TempDir directory;
  std::string parent_trace = directory.file("parent.dprof");
  CommandResult result = run_command(
      {damon_prof_binary(), "-q", "-o", parent_trace, test_program("process_tree"), "tree"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto parent = analyze_symbolized(parent_trace);
  EXPECT_EQ(totals_for(parent, "parent_allocations").alloc_bytes, 3u * 333);
  std::map<uint32_t, int> started;
  for (const auto& start : parent.child_starts) ++started[start.how];
  EXPECT_EQ(started[DPROF_CHILD_FORK], 1);
  EXPECT_EQ(started[DPROF_CHILD_VFORK_EXEC], 1);
  EXPECT_EQ(started[DPROF_CHILD_SPAWN], 2);
  EXPECT_EQ(started[DPROF_CHILD_SHELL], 2);
  // Each leaf K (K x 1000 bytes) wrote exactly one trace, with a complete end.
  std::map<uint64_t, int> leaves;
  for (const std::string& trace : directory.files_ending_with(".dprof")) {
    if (trace == parent_trace) continue;
    auto analysis = analyze_symbolized(trace);
    ASSERT_TRUE(analysis.end.has_value()) << trace;
    uint64_t bytes = totals_for(analysis, "leaf_allocations").alloc_bytes;
    if (bytes != 0) ++leaves[bytes / 1000];
  }
  for (uint64_t leaf = 1; leaf <= 6; ++leaf) EXPECT_EQ(leaves[leaf], 1) << "leaf " << leaf;

  CommandResult report =
      run_command({damon_prof_binary(), "report", parent_trace, "--format", "json"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  for (const char* expected :
       {"\"children_started\": 6", "\"how\": \"fork\"", "\"how\": \"vfork+exec\"",
        "\"how\": \"posix_spawn\"", "\"how\": \"shell\"", "\"depth\": 2", "\"untraced\": []"}) {
    EXPECT_NE(report.out.find(expected), std::string::npos) << expected << "\n" << report.out;
  }
  CommandResult text = run_command({damon_prof_binary(), "report", parent_trace});
  EXPECT_NE(text.out.find("CHILD PROCESSES  (6 started: 1 fork, 1 vfork+exec, 2 posix_spawn, "
                          "2 shell)"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("damon-prof report " + directory.path() + "/sh."), std::string::npos)
      << text.out;
}

TEST(Processes, NoFollowTracesOnlyTheProgramItself) {
  TempDir directory;
  std::string parent_trace = directory.file("parent.dprof");
  CommandResult result = run_command({damon_prof_binary(), "-q", "--no-follow", "-o", parent_trace,
                                      test_program("process_tree"), "tree"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(directory.files_ending_with(".dprof"), std::vector<std::string>{parent_trace});
  auto parent = analyze_symbolized(parent_trace);
  EXPECT_EQ(parent.child_start_count, 6u);
  EXPECT_EQ(totals_for(parent, "parent_allocations").alloc_bytes, 3u * 333);
  CommandResult text = run_command({damon_prof_binary(), "report", parent_trace});
  EXPECT_NE(text.out.find("children were not traced (--no-follow)"), std::string::npos) << text.out;
}

// A process tree of hundreds of short processes: every one writes a complete trace, and the
// parent's report lists them all.
TEST(Processes, HundredsOfShortProcesses) {
  TempDir directory;
  std::string parent_trace = directory.file("parent.dprof");
  constexpr int kChildren = 250;
  CommandResult result =
      run_command({damon_prof_binary(), "-q", "-o", parent_trace, test_program("process_tree"),
                   "many", std::to_string(kChildren)});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto traces = directory.files_ending_with(".dprof");
  ASSERT_EQ(traces.size(), static_cast<size_t>(kChildren + 1));
  for (const std::string& trace : traces) {
    auto analysis = dprof::analyzer::analyze_trace(trace);
    ASSERT_TRUE(analysis.end.has_value()) << trace;
    EXPECT_FALSE(analysis.decode.truncated) << trace;
    if (trace != parent_trace) {
      EXPECT_EQ(analysis.end->code, 0) << trace;
      EXPECT_GE(analysis.totals.alloc_bytes, 1000u) << trace;
    }
  }
  CommandResult report =
      run_command({damon_prof_binary(), "report", parent_trace, "--format", "json"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  size_t listed = 0;
  for (size_t at = report.out.find("\"depth\": 1"); at != std::string::npos;
       at = report.out.find("\"depth\": 1", at + 1)) {
    ++listed;
  }
  EXPECT_EQ(listed, static_cast<size_t>(kChildren));
  EXPECT_NE(report.out.find("\"children_started\": " + std::to_string(kChildren)),
            std::string::npos);
}
