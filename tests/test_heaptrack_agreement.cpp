// The same program under heaptrack and under damon-prof: the totals agree.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "integration_support.h"

using namespace dprof::testing;

namespace {

bool heaptrack_installed() {
  return run_command({"sh", "-c", "command -v heaptrack && command -v heaptrack_print"})
             .exit_code == 0;
}

// heaptrack_print writes sizes like "172.70K" (powers of 1000).
double heaptrack_bytes(const std::string& text) {
  std::smatch match;
  std::regex pattern("([0-9.]+)([KMGT]?)B?");
  if (!std::regex_match(text, match, pattern)) return -1;
  double value = std::stod(match[1]);
  std::string unit = match[2];
  double factor = unit == "K"   ? 1e3
                  : unit == "M" ? 1e6
                  : unit == "G" ? 1e9
                  : unit == "T" ? 1e12
                                : 1;
  return value * factor;
}

std::string field(const std::string& output, const std::string& label) {
  std::smatch match;
  std::regex pattern(label + ": ([^ \n]+)");
  return std::regex_search(output, match, pattern) ? match[1].str() : "";
}

}  // namespace

TEST(HeaptrackAgreement, TotalsMatchOnTheSameProgram) {
  if (!heaptrack_installed()) GTEST_SKIP() << "heaptrack is not installed";
  TempDir directory;
  std::string program = test_program("exact_allocations");
  CommandResult heaptrack =
      run_command({"heaptrack", "-o", directory.file("ht"), program, "single-thread"});
  ASSERT_EQ(heaptrack.exit_code, 0) << heaptrack.err;
  auto recorded = directory.files_ending_with(".zst");
  if (recorded.empty()) recorded = directory.files_ending_with(".gz");
  ASSERT_EQ(recorded.size(), 1u) << heaptrack.out;
  CommandResult printed = run_command({"heaptrack_print", recorded[0]});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;

  std::string trace = directory.file("dp.dprof");
  CommandResult ours =
      run_command({damon_prof_binary(), "-q", "-o", trace, program, "single-thread"});
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  auto analysis = dprof::analyzer::analyze_trace(trace);

  uint64_t heaptrack_calls = std::stoull(field(printed.out, "calls to allocation functions"));
  // heaptrack 1.4 does not interpose memalign and pvalloc, through which the program makes
  // 3 + 1 calls (tests/programs/exact_allocations.cpp, via_aligned_functions).
  constexpr uint64_t kCallsHeaptrackCannotSee = 4;
  EXPECT_EQ(analysis.totals.malloc_count, heaptrack_calls + kCallsHeaptrackCannotSee);
  // heaptrack does not count anonymous mmap; compare the malloc family alone. Its printed sizes
  // have 5 significant digits.
  double heaptrack_peak = heaptrack_bytes(field(printed.out, "peak heap memory consumption"));
  double heaptrack_leaked = heaptrack_bytes(field(printed.out, "total memory leaked"));
  uint64_t page = 4096;
  uint64_t our_leaked_malloc = analysis.totals.live_bytes - 2 * page;  // via_mmap leaves 2 pages
  EXPECT_NEAR(static_cast<double>(our_leaked_malloc), heaptrack_leaked,
              heaptrack_leaked * 0.001 + 10);
  // Our peak includes mappings live at the time; the malloc-family peak is bounded by it.
  EXPECT_GE(static_cast<double>(analysis.totals.peak_bytes), heaptrack_peak * 0.999);
  EXPECT_LE(static_cast<double>(analysis.totals.peak_bytes), heaptrack_peak * 1.001 + 8 * page);
}
