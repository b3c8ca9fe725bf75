// The program cannot tell it is being watched: tests/programs/stress_safety hands heap memory
// to the kernel in every common way (I/O, sockets, stat, poll, epoll, getrandom, locks, condition
// variables, semaphores, atomic waits, stdio, fork, its own SIGSEGV handler) while the monitor
// runs with aggressive settings. Zero anomalies, same output as the native run.
// CI runs it for a few seconds; DAMON_PROF_STRESS_SECONDS=60 (tests/stress.sh) runs the long one.
#include <gtest/gtest.h>

#include <cstdlib>

#include "integration_support.h"
#include "trace_decoder.h"

using namespace dprof::testing;

namespace {

struct Monitored : dprof::analyzer::TraceConsumer {
  std::string backend;
  int snapshots = 0;
  void on_monitor_settings(const dprof::analyzer::MonitorSettingsInfo& settings) override {
    if (backend.empty()) backend = settings.backend;
  }
  void on_region_snapshot(const dprof::analyzer::RegionSnapshot&) override { ++snapshots; }
};

}  // namespace

TEST(SafetyStress, TheProgramCannotTellItIsWatched) {
  const char* configured = std::getenv("DAMON_PROF_STRESS_SECONDS");
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
}
