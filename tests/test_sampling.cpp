// Allocation sampling (--sample-rate) against exact mode on tests/programs/sampled_sites: the
// per-site estimates must agree with the exact figures within a tolerance derived from the
// estimator's spread, the call totals must be exact, and far fewer events must be recorded.
// Frame-pointer unwinding (--unwind fp) must name the same sites as the default unwinder.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "integration_support.h"

using namespace dprof::testing;

namespace {

constexpr uint64_t kSampleRate = 16384;

class Sampling : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new TempDir();
    std::string exact = directory_->file("exact.dprof");
    std::string sampled = directory_->file("sampled.dprof");
    std::string frame_pointers = directory_->file("fp.dprof");
    exact_run_ = new CommandResult(run_command({damon_prof_binary(), "-q", "--backend", "none",
                                                "-o", exact, test_program("sampled_sites")}));
    sampled_run_ = new CommandResult(
        run_command({damon_prof_binary(), "-q", "--backend", "none", "--sample-rate",
                     std::to_string(kSampleRate), "-o", sampled, test_program("sampled_sites")}));
    fp_run_ =
        new CommandResult(run_command({damon_prof_binary(), "-q", "--backend", "none", "--unwind",
                                       "fp", "-o", frame_pointers, test_program("sampled_sites")}));
    exact_ = new dprof::analyzer::Analysis(analyze_symbolized(exact));
    sampled_ = new dprof::analyzer::Analysis(analyze_symbolized(sampled));
    fp_ = new dprof::analyzer::Analysis(analyze_symbolized(frame_pointers));
  }
  static void TearDownTestSuite() {
    delete exact_;
    delete sampled_;
    delete fp_;
    delete exact_run_;
    delete sampled_run_;
    delete fp_run_;
    delete directory_;
  }

  static TempDir* directory_;
  static CommandResult* exact_run_;
  static CommandResult* sampled_run_;
  static CommandResult* fp_run_;
  static dprof::analyzer::Analysis* exact_;
  static dprof::analyzer::Analysis* sampled_;
  static dprof::analyzer::Analysis* fp_;
};

TempDir* Sampling::directory_ = nullptr;
CommandResult* Sampling::exact_run_ = nullptr;
CommandResult* Sampling::sampled_run_ = nullptr;
CommandResult* Sampling::fp_run_ = nullptr;
dprof::analyzer::Analysis* Sampling::exact_ = nullptr;
dprof::analyzer::Analysis* Sampling::sampled_ = nullptr;
dprof::analyzer::Analysis* Sampling::fp_ = nullptr;

// The Horvitz-Thompson estimate of the bytes of n blocks of size s has the variance
// n s^2 (1 - p) / p, p = 1 - exp(-s / rate). Five standard deviations: a correct estimator fails
// this about once in two million runs per figure; a biased one (a weight off by 25%) fails always.
double tolerance(uint64_t block_count, double block_size) {
  double probability = -std::expm1(-block_size / static_cast<double>(kSampleRate));
  double variance =
      static_cast<double>(block_count) * block_size * block_size * (1 - probability) / probability;
  return 5 * std::sqrt(variance);
}

void expect_estimate(const char* what, uint64_t estimate, uint64_t exact, double allowed) {
  EXPECT_LE(std::fabs(static_cast<double>(estimate) - static_cast<double>(exact)), allowed)
      << what << ": estimated " << estimate << ", exactly " << exact << ", allowed +-" << allowed;
}

}  // namespace

TEST_F(Sampling, ProgramsRanNormally) {
  for (const CommandResult* run : {exact_run_, sampled_run_, fp_run_}) {
    EXPECT_EQ(run->exit_code, 0) << run->err;
    EXPECT_EQ(run->out, "sampled_sites done\n");
  }
  EXPECT_EQ(exact_->allocation_sample_rate, 0u);
  EXPECT_EQ(sampled_->allocation_sample_rate, kSampleRate);
}

TEST_F(Sampling, CallTotalsStayExact) {
  ASSERT_TRUE(sampled_->exact_totals.has_value());
  ASSERT_TRUE(exact_->exact_totals.has_value());
  // The exact trace's events and the runtime's own counts agree...
  EXPECT_EQ(exact_->exact_totals->allocations, exact_->totals.malloc_count);
  EXPECT_EQ(exact_->exact_totals->allocated_bytes, exact_->totals.malloc_bytes);
  // ... and the sampled run reports the same totals: the program is deterministic.
  EXPECT_EQ(sampled_->totals.malloc_count, exact_->totals.malloc_count);
  EXPECT_EQ(sampled_->totals.malloc_bytes, exact_->totals.malloc_bytes);
  EXPECT_EQ(sampled_->totals.free_count, exact_->totals.free_count);
  EXPECT_EQ(sampled_->exact_totals->lost_sampled_blocks, 0u);
}

TEST_F(Sampling, OnlySampledAllocationsAreEvents) {
  // About 180 MB allocated at one sample per 16 KiB: some 11,000 sampled blocks (and their
  // frees) of 1.2 million calls.
  EXPECT_GT(exact_->decode.events, 1000000u);
  EXPECT_LT(sampled_->decode.events, exact_->decode.events / 20);
  EXPECT_EQ(sampled_->totals.unmatched_frees, 0u);
  EXPECT_EQ(sampled_->totals.replaced_blocks, 0u);
}

TEST_F(Sampling, PerSiteEstimatesAreUnbiased) {
  struct Shape {
    const char* function;
    uint64_t blocks;
    double size;
  };
  const Shape shapes[] = {
      {"tiny_blocks", 400000, 40}, {"medium_blocks", 16000, 1000}, {"large_blocks", 400, 40000},
      {"huge_blocks", 4, 4 << 20}, {"new_blocks", 200000, 80},     {"leaky_blocks", 20000, 512},
  };
  for (const Shape& shape : shapes) {
    SCOPED_TRACE(shape.function);
    SiteTotals exact = totals_for(*exact_, shape.function);
    SiteTotals estimate = totals_for(*sampled_, shape.function);
    ASSERT_EQ(exact.alloc_count, shape.blocks);
    ASSERT_GT(estimate.sites, 0u);
    double allowed = tolerance(shape.blocks, shape.size);
    expect_estimate("bytes allocated", estimate.alloc_bytes, exact.alloc_bytes, allowed + 1);
    // Counts: the same spread divided by the block size, plus the whole-block rounding.
    expect_estimate("calls", estimate.alloc_count, exact.alloc_count, allowed / shape.size + 2);
    expect_estimate("bytes at peak", estimate.peak_bytes, exact.peak_bytes, allowed + 1);
    expect_estimate("bytes leaked", estimate.leaked_bytes, exact.leaked_bytes, allowed + 1);
  }
  // Realloc growth: 8 calls per chain, sizes 64 to 8192.
  SiteTotals exact = totals_for(*exact_, "growing_blocks");
  SiteTotals estimate = totals_for(*sampled_, "growing_blocks");
  EXPECT_EQ(exact.alloc_count, 2000u * 8);
  double variance = 0;
  for (double size = 64; size <= 8192; size *= 2) {
    double probability = -std::expm1(-size / static_cast<double>(kSampleRate));
    variance += 2000 * size * size * (1 - probability) / probability;
  }
  expect_estimate("realloc bytes", estimate.alloc_bytes, exact.alloc_bytes,
                  5 * std::sqrt(variance));
}

TEST_F(Sampling, FramePointerUnwindingNamesTheSameSites) {
  EXPECT_EQ(fp_->allocation_sample_rate, 0u);
  for (const char* function : {"tiny_blocks", "medium_blocks", "large_blocks", "huge_blocks",
                               "new_blocks", "growing_blocks", "leaky_blocks"}) {
    SCOPED_TRACE(function);
    SiteTotals exact = totals_for(*exact_, function);
    SiteTotals walked = totals_for(*fp_, function);
    EXPECT_EQ(walked.alloc_count, exact.alloc_count);
    EXPECT_EQ(walked.alloc_bytes, exact.alloc_bytes);
    EXPECT_EQ(walked.leaked_bytes, exact.leaked_bytes);
  }
  EXPECT_EQ(fp_->totals.malloc_count, exact_->totals.malloc_count);
}
