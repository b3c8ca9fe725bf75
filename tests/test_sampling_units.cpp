// Units of allocation sampling in the runtime: the sampler's probability of taking a block, and
// the table of sampled blocks that the free path consults.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "allocation_sampler.h"
#include "sampled_blocks.h"

namespace dprof {
__thread ThreadState tls_thread_state __attribute__((tls_model("initial-exec"))) = {};
}  // namespace dprof

using namespace dprof;

namespace {

void use_rate(const char* rate) {
  setenv("DAMON_PROF_SAMPLE_RATE", rate, 1);
  allocation_sampler::configure_from_environment();
  thread_state().sampler_seeded = 0;
  thread_state().bytes_until_sample = 0;
}

double sampled_share(size_t size, int trials) {
  int taken = 0;
  for (int i = 0; i < trials; ++i) taken += allocation_sampler::take(size) ? 1 : 0;
  return static_cast<double>(taken) / trials;
}

}  // namespace

TEST(AllocationSampler, ExactModeTakesEverything) {
  use_rate("0");
  EXPECT_FALSE(allocation_sampler::sampling());
  EXPECT_TRUE(allocation_sampler::take(0));
  EXPECT_TRUE(allocation_sampler::take(1));
}

TEST(AllocationSampler, TakesEachSizeWithThePoissonProbability) {
  use_rate("1000");
  ASSERT_EQ(allocation_sampler::rate_bytes(), 1000u);
  constexpr int kTrials = 200000;
  for (size_t size : {size_t{10}, size_t{100}, size_t{500}, size_t{1000}, size_t{3000}}) {
    double expected = -std::expm1(-static_cast<double>(size) / 1000.0);
    double spread = std::sqrt(expected * (1 - expected) / kTrials);
    EXPECT_NEAR(sampled_share(size, kTrials), expected, 5 * spread + 1e-3) << "size " << size;
  }
  EXPECT_EQ(sampled_share(0, 1000), 0.0);  // no bytes, no sample point
  EXPECT_EQ(sampled_share(100000, 1000), 1.0);
}

TEST(AllocationSampler, SampleBytesAverageTheRateOverMixedSizes) {
  use_rate("4096");
  // Over a long mixed stream, sample points fall once per 4096 bytes on average: the number of
  // sampled blocks of size far below the rate approaches bytes / rate.
  uint64_t taken = 0;
  uint64_t bytes = 0;
  for (int i = 0; i < 1000000; ++i) {
    size_t size = 8 + static_cast<size_t>(i % 7) * 8;
    bytes += size;
    taken += allocation_sampler::take(size) ? 1 : 0;
  }
  double expected = static_cast<double>(bytes) / 4096.0;
  EXPECT_NEAR(static_cast<double>(taken), expected, 5 * std::sqrt(expected));
}

TEST(SampledBlocks, RemembersExactlyTheInsertedAddresses) {
  for (uint64_t address = 0x10000; address < 0x10000 + 1000 * 48; address += 48) {
    ASSERT_TRUE(sampled_blocks::insert(address));
  }
  EXPECT_FALSE(sampled_blocks::remove(0x10000 + 24));  // never inserted
  for (uint64_t address = 0x10000; address < 0x10000 + 1000 * 48; address += 48) {
    ASSERT_TRUE(sampled_blocks::remove(address)) << address;
    ASSERT_FALSE(sampled_blocks::remove(address)) << address;  // forgotten once removed
  }
  EXPECT_EQ(sampled_blocks::lost_blocks(), 0u);
  uint64_t start = 0;
  uint64_t end = 0;
  sampled_blocks::memory_range(&start, &end);
  EXPECT_GT(end, start);
}

TEST(SampledBlocks, AddressesCollidingInOneBucketAllFitAndLeave) {
  // 40 addresses with one home bucket (found with the table's hash, as in sampled_blocks.cpp),
  // far more than a bucket holds: they spill into the next buckets and are all found again.
  auto home_of = [](uint64_t address) { return ((address >> 4) * 0x9e3779b97f4a7c15ull) >> 49; };
  std::vector<uint64_t> addresses;
  uint64_t wanted = home_of(0x7f0000000000);
  for (uint64_t address = 0x7f0000000000; addresses.size() < 40; address += 16) {
    if (home_of(address) == wanted) addresses.push_back(address);
  }
  for (uint64_t address : addresses) ASSERT_TRUE(sampled_blocks::insert(address));
  for (uint64_t address : addresses) EXPECT_TRUE(sampled_blocks::remove(address)) << address;
  for (uint64_t address : addresses) EXPECT_FALSE(sampled_blocks::remove(address)) << address;
}

TEST(SampledBlocks, ConcurrentInsertAndRemoveLoseNothing) {
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 50000;
  std::atomic<uint64_t> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &mismatches] {
      uint64_t base = (static_cast<uint64_t>(t) + 1) << 36;
      for (uint64_t round = 0; round < 4; ++round) {
        for (uint64_t i = 0; i < kPerThread; ++i) {
          if (!sampled_blocks::insert(base + i * 16)) mismatches.fetch_add(1);
        }
        for (uint64_t i = 0; i < kPerThread; ++i) {
          if (!sampled_blocks::remove(base + i * 16)) mismatches.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0u);
  EXPECT_EQ(sampled_blocks::lost_blocks(), 0u);
}
