// The program cannot tell it is being watched: tests/programs/stress_safety hands heap memory
// to the kernel in every common way (I/O, sockets, stat, poll, epoll, getrandom, locks, condition
// variables, semaphores, atomic waits, stdio, fork, its own SIGSEGV handler) while the monitor
// runs with aggressive settings. Zero anomalies, same output as the native run.
// CI runs it for a few seconds; STRESS_SECONDS=60 (tests/stress.sh) runs the long one.
#include <gtest/gtest.h>

#include <cstdlib>

#include "integration_support.h"
#include "trace_decoder.h"

using namespace dprof::testing;

namespace {}  // namespace

TEST(SafetyStress, TheProgramCannotTellItIsWatched) {
  StressedRun run = run_stressed(test_program("stress_safety"), "6");
  ASSERT_EQ(run.native.exit_code, 0) << run.native.err;
  EXPECT_EQ(run.watched.exit_code, 0) << run.watched.err;
  EXPECT_EQ(run.watched.signal, 0);
  EXPECT_EQ(run.watched.out, run.native.out);
  EXPECT_EQ(run.watched.err, run.native.err);
  const Monitored& monitored = run.monitored;
  if (monitored.backend == "none") GTEST_SKIP() << "no monitoring backend on this kernel";
  EXPECT_GT(monitored.snapshots, 10);
  // Read sampling ran and caught accesses: the run exercised protected pages, not just idle ones.
  if (monitored.backend.find("mprotect") != std::string::npos) {
    EXPECT_GT(monitored.access_samples, 0);
  }
}

// A program that sets up io_uring hands the kernel buffers it may touch at any time: read
// sampling stops for good, the trace says why, writes are still watched. The program's own
// SIGSEGV action reads back exactly as it set it.
TEST(SafetyStress, AsynchronousIoStopsReadSampling) {
  TempDir directory;
  std::string trace = directory.file("async.dprof");
  CommandResult result =
      run_command({damon_prof_binary(), "-q", "-o", trace, "--sampling", "2ms", "--aggregation",
                   "20ms", "--overhead", "100%", test_program("async_io"), "600"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("before default, after mine, mask kept yes"), std::string::npos)
      << result.out;
  Monitored monitored;
  dprof::analyzer::decode_trace(trace, monitored);
  if (monitored.backend.find("mprotect") == std::string::npos) {
    GTEST_SKIP() << "no read sampling on this kernel: " << monitored.backend;
  }
  EXPECT_EQ(monitored.last_backend.find("mprotect"), std::string::npos) << monitored.last_backend;
  EXPECT_NE(monitored.reasons.find("asynchronous I/O"), std::string::npos) << monitored.reasons;
}

// A SIGSEGV handler installed with the raw system call, where no hook sees it: the runtime notices
// that the handler is no longer its own, stops read sampling (restoring every page) before the
// program touches its heap again, and the trace says why. The program's handler never runs.
TEST(SafetyStress, SigsegvHandlerInstalledBehindTheRuntimesBackStopsReadSampling) {
  TempDir directory;
  std::string trace = directory.file("raw.dprof");
  CommandResult result =
      run_command({damon_prof_binary(), "-q", "-o", trace, "--sampling", "2ms", "--aggregation",
                   "20ms", "--overhead", "100%", test_program("signals"), "raw-handler", "600"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.out, "worked on the heap with its own handler in place\n");
  Monitored monitored;
  dprof::analyzer::decode_trace(trace, monitored);
  if (monitored.backend.find("mprotect") == std::string::npos) {
    GTEST_SKIP() << "no read sampling on this kernel: " << monitored.backend;
  }
  EXPECT_EQ(monitored.last_backend.find("mprotect"), std::string::npos) << monitored.last_backend;
  EXPECT_NE(monitored.reasons.find("SIGSEGV handler was replaced"), std::string::npos)
      << monitored.reasons;
  // The report says so too, whatever the tuner changed afterwards.
  CommandResult report = run_command({damon_prof_binary(), "report", trace});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("SIGSEGV handler was replaced"), std::string::npos) << report.out;
}
