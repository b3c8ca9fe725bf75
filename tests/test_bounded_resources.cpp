// The runtime's own memory is in the trace and stays within its documented bound
// (docs/design-notes.md, "The runtime's own memory"), and no event is lost: under an allocation
// storm of 64 threads the writer holds producers back instead of dropping anything.
#include <gtest/gtest.h>

#include "damon_prof/trace_format.h"
#include "integration_support.h"

using namespace dprof::testing;

namespace {

// The documented bound: fixed, per thread alive at once, per distinct call stack. A thread's
// share is its 256 KiB ring as far as it was written, libunwind's 256 KiB trace cache once the
// thread unwound a stack (not with --unwind fp), and bookkeeping.
constexpr uint64_t kFixedBytes = uint64_t{6} << 20;
constexpr uint64_t kPerThreadBytes = uint64_t{576} << 10;
constexpr uint64_t kPerStackBytes = uint64_t{1} << 10;
constexpr uint64_t kKiB = 1024;

}  // namespace

TEST(BoundedResources, SixtyFourThreadStormDropsNothingAndStaysWithinTheBound) {
  constexpr int kThreads = 64;
  constexpr int kRounds = 20000;
  TempDir directory;
  std::string trace = directory.file("storm.dprof");
  // Niced: the storm takes every CPU for seconds, and the timing-sensitive tests that ctest runs
  // beside it should not starve.
  CommandResult result = run_command({"nice", "-n", "15", damon_prof_binary(), "-q", "-o", trace,
                                      test_program("thread_storm"), std::to_string(kThreads),
                                      std::to_string(kRounds)});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto analysis = analyze_symbolized(trace);
  ASSERT_TRUE(analysis.end.has_value());
  EXPECT_EQ(analysis.end->dropped_events, 0u);
  EXPECT_FALSE(analysis.decode.truncated);
  // Every allocation of every thread is there, exactly.
  EXPECT_EQ(totals_for(analysis, "storm_allocations").alloc_count,
            static_cast<uint64_t>(kThreads) * kRounds);
  EXPECT_EQ(analysis.totals.unmatched_frees, 0u);
  EXPECT_EQ(analysis.thread_count, static_cast<uint64_t>(kThreads) + 1);
  // The runtime's memory was sampled, is part of the RSS, and within the bound.
  ASSERT_GT(analysis.peak_runtime_bytes, 0u);
  EXPECT_LT(analysis.peak_runtime_bytes, analysis.peak_rss_bytes);
  uint64_t bound =
      kFixedBytes + (kThreads + 1) * kPerThreadBytes + analysis.sites.size() * 4 * kPerStackBytes;
  EXPECT_LE(analysis.peak_runtime_bytes, bound)
      << "damon-prof used " << analysis.peak_runtime_bytes << " bytes, the bound is " << bound;
  CommandResult report = run_command({damon_prof_binary(), "report", trace});
  EXPECT_NE(report.out.find("of the RSS at most was damon-prof's own"), std::string::npos)
      << report.out;
}

// One thread: the fixed part alone.
TEST(BoundedResources, ASingleThreadCostsLittleMemory) {
  TempDir directory;
  std::string trace = directory.file("one.dprof");
  CommandResult result = run_command(
      {damon_prof_binary(), "-q", "-o", trace, test_program("thread_storm"), "1", "20000"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto analysis = dprof::analyzer::analyze_trace(trace);
  ASSERT_TRUE(analysis.end.has_value());
  EXPECT_EQ(analysis.end->dropped_events, 0u);
  EXPECT_GT(analysis.peak_runtime_bytes, 0u);
  EXPECT_LE(analysis.peak_runtime_bytes, kFixedBytes + 2 * kPerThreadBytes);
}

// What a thread costs is what it touched: 64 threads with ten allocations each, alive at once for
// 400 ms (four memory samples). Their rings are counted as far as they were written, not whole
// (64 x 256 KiB would be 16 MiB); with DWARF unwinding libunwind's per-thread trace cache, which
// the RSS holds though the runtime did not map it, is counted too.
TEST(BoundedResources, IdleThreadsCountWhatTheyTouched) {
  constexpr uint64_t kThreads = 64;
  TempDir directory;
  uint64_t runtime_bytes[2] = {0, 0};
  const char* unwinders[2] = {"fp", "dwarf"};
  for (int i = 0; i < 2; ++i) {
    std::string trace = directory.file(std::string(unwinders[i]) + ".dprof");
    CommandResult result =
        run_command({damon_prof_binary(), "-q", "--backend", "none", "--unwind", unwinders[i], "-o",
                     trace, test_program("thread_storm"), std::to_string(kThreads), "10", "400"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    auto analysis = dprof::analyzer::analyze_trace(trace);
    ASSERT_TRUE(analysis.end.has_value());
    runtime_bytes[i] = analysis.peak_runtime_bytes;
    EXPECT_LT(analysis.peak_runtime_bytes, analysis.peak_rss_bytes) << unwinders[i];
  }
  EXPECT_LT(runtime_bytes[0], kFixedBytes + kThreads * 64 * kKiB);
  EXPECT_GT(runtime_bytes[1], runtime_bytes[0] + kThreads * 200 * kKiB);
  EXPECT_LE(runtime_bytes[1], kFixedBytes + (kThreads + 1) * kPerThreadBytes);
}
