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

namespace {

struct Monitored : dprof::analyzer::TraceConsumer {
  std::string backend;
  std::string last_backend;
  std::string last_reason;
  std::string reasons;  // every record's, in order: a later retune may have its own
  int snapshots = 0;
  int access_samples = 0;
  void on_access_sample(const dprof::analyzer::AccessSample&) override { ++access_samples; }
  void on_monitor_settings(const dprof::analyzer::MonitorSettingsInfo& settings) override {
    if (backend.empty()) backend = settings.backend;
    last_backend = settings.backend;
    last_reason = settings.reason;
    reasons += settings.reason + "\n";
  }
  void on_region_snapshot(const dprof::analyzer::RegionSnapshot&) override { ++snapshots; }
};

}  // namespace

TEST(SafetyStress, TheProgramCannotTellItIsWatched) {
  const char* configured = std::getenv("STRESS_SECONDS");
  std::string seconds = configured != nullptr ? configured : "6";
  std::string program = test_program("stress_safety");
  CommandResult native = run_command({program, seconds});
  ASSERT_EQ(native.exit_code, 0) << native.err;
  TempDir directory;
  std::string trace = directory.file("stress.dprof");
  CommandResult watched =
      run_command({damon_prof_binary(), "-q", "-o", trace, "--sampling", "1ms", "--aggregation",
                   "10ms", "--update", "100ms", "--overhead", "100%", "--min-regions", "50",
                   "--max-regions", "2000", program, seconds});
  EXPECT_EQ(watched.exit_code, 0) << watched.err;
  EXPECT_EQ(watched.signal, 0);
  EXPECT_EQ(watched.out, native.out);
  EXPECT_EQ(watched.err, native.err);
  Monitored monitored;
  dprof::analyzer::decode_trace(trace, monitored);
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
