// Read sampling of pages shared by small blocks (runtime/monitor/page_guard.h) and the
// block-precise attribution of its faults (analyzer/attribution.cpp), end to end:
// - the program cannot tell: tests/programs/stress_small_blocks aims at what the widening exposes
//   (kernel I/O into small buffers beside sampled blocks, FILE and DIR streams between them, lock
//   and atomic-wait words in small structs, fork);
// - ground truth at the default settings: two node containers or two sites of small structs, one
//   read at random for the whole run and one never touched again (tests/programs/node_containers).
// Margins: measured on a 2-core VM beside a CPU-bound loop (docs/design-notes.md, "Small blocks").
#include <gtest/gtest.h>

#include <cstdlib>

#include "integration_support.h"
#include "trace_decoder.h"

using namespace dprof::testing;
using dprof::analyzer::Analysis;
using dprof::analyzer::Site;

namespace {

// The access figures of every site whose stack holds `function`, added up.
dprof::analyzer::AccessMetrics access_of(const Analysis& analysis, const std::string& function,
                                         uint64_t* bytes) {
  dprof::analyzer::AccessMetrics total;
  *bytes = 0;
  for (const Site& site : analysis.sites) {
    bool ours = false;
    for (const auto& frame : site.frames)
      ours = ours || frame.function.find(function) != std::string::npos;
    if (!ours) continue;
    total.add(site.access);
    *bytes += site.alloc_bytes;
  }
  return total;
}

struct GroundTruth {
  double hot_ratio = 0;      // the read site's hot byte-seconds over the untouched one's
  double idle_fraction = 0;  // the untouched site's idle bytes (at their peak) over its bytes
  std::string what;
};

GroundTruth run_containers(const std::string& layout, const std::string& read_function,
                           const std::string& untouched_function) {
  TempDir directory;
  std::string trace = directory.file(layout + ".dprof");
  CommandResult result = run_command(
      {damon_prof_binary(), "-q", "-o", trace, test_program("node_containers"), "8", layout});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  Analysis analysis = analyze_symbolized(trace);
  uint64_t read_bytes = 0;
  uint64_t untouched_bytes = 0;
  auto read = access_of(analysis, read_function, &read_bytes);
  auto untouched = access_of(analysis, untouched_function, &untouched_bytes);
  GroundTruth truth;
  truth.hot_ratio = read.hot_byte_seconds / std::max(1.0, untouched.hot_byte_seconds);
  truth.idle_fraction = static_cast<double>(untouched.idle_bytes_peak) /
                        static_cast<double>(std::max<uint64_t>(1, untouched_bytes));
  truth.what = layout + ": read site hot " + std::to_string(read.hot_byte_seconds) + " B*s (" +
               std::to_string(read.read_samples) + " samples), untouched site hot " +
               std::to_string(untouched.hot_byte_seconds) + " B*s, idle peak " +
               std::to_string(untouched.idle_bytes_peak) + " of " + std::to_string(untouched_bytes);
  return truth;
}

bool reads_sampled_here() {
  TempDir directory;
  std::string trace = directory.file("probe.dprof");
  run_command({damon_prof_binary(), "-q", "-o", trace, test_program("node_containers"), "0.2",
               "sequential", "1000"});
  Monitored monitored;
  dprof::analyzer::decode_trace(trace, monitored);
  return monitored.backend.find("mprotect") != std::string::npos;
}

}  // namespace

TEST(SmallBlocks, TheStressedProgramCannotTell) {
  StressedRun run = run_stressed(test_program("stress_small_blocks"), "5");
  ASSERT_EQ(run.native.exit_code, 0) << run.native.err;
  EXPECT_EQ(run.watched.exit_code, 0) << run.watched.err;
  EXPECT_EQ(run.watched.signal, 0);
  EXPECT_EQ(run.watched.out, run.native.out);
  EXPECT_EQ(run.watched.err, run.native.err);
  const Monitored& monitored = run.monitored;
  if (monitored.backend.find("mprotect") == std::string::npos) {
    GTEST_SKIP() << "no read sampling on this kernel: " << monitored.backend;
  }
  // Pages of small blocks were protected and touched: the run exercised the new exposure.
  EXPECT_GT(monitored.access_samples, 0);
}

// Built one after the other: each map's nodes lie together.
TEST(SmallBlocks, ANodeContainerReadAtRandomIsHotAndTheUntouchedOneIdle) {
  if (!reads_sampled_here()) GTEST_SKIP() << "no read sampling on this kernel";
  GroundTruth truth = run_containers("sequential", "build_read_map", "build_untouched_map");
  EXPECT_GE(truth.hot_ratio, 10.0) << truth.what;
  EXPECT_GE(truth.idle_fraction, 0.8) << truth.what;
}

// Built node by node in turn: the two maps share every page, and only the faults' addresses tell
// them apart.
TEST(SmallBlocks, InterleavedNodesAreToldApartByTheBlockTouched) {
  if (!reads_sampled_here()) GTEST_SKIP() << "no read sampling on this kernel";
  GroundTruth truth = run_containers("interleaved", "insert_read", "insert_untouched");
  EXPECT_GE(truth.hot_ratio, 3.0) << truth.what;
  EXPECT_GE(truth.idle_fraction, 0.5) << truth.what;
}

TEST(SmallBlocks, SmallStructsOfTwoSitesOnePerSiteRead) {
  if (!reads_sampled_here()) GTEST_SKIP() << "no read sampling on this kernel";
  GroundTruth truth = run_containers("structs", "make_read_struct", "make_untouched_struct");
  EXPECT_GE(truth.hot_ratio, 3.0) << truth.what;
  EXPECT_GE(truth.idle_fraction, 0.5) << truth.what;
}
