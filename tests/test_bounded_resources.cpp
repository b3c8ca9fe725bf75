// The runtime's own memory is in the trace and stays within its documented bound
// (docs/design-notes.md, "The runtime's own memory"), and no event is lost: under an allocation
// storm of 64 threads the writer holds producers back instead of dropping anything.
#include <gtest/gtest.h>

#include "damon_prof/trace_format.h"
#include "integration_support.h"

using namespace dprof::testing;

namespace {

// The documented bound: fixed, per thread alive at once, per distinct call stack.
constexpr uint64_t kFixedBytes = uint64_t{6} << 20;
constexpr uint64_t kPerThreadBytes = uint64_t{320} << 10;
constexpr uint64_t kPerStackBytes = uint64_t{1} << 10;

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
