// The table of large blocks the monitor's regions follow (runtime/monitor/large_blocks.h).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "monitor/large_blocks.h"

namespace large_blocks = dprof::large_blocks;

namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kBase = 0x7f0000000000ull;

std::vector<uint64_t> edges(size_t* separated = nullptr) {
  std::vector<uint64_t> out(2 * large_blocks::kCapacity);
  size_t ignored = 0;
  out.resize(large_blocks::edges(out.data(), out.size(), separated ? separated : &ignored));
  return out;
}

}  // namespace

TEST(LargeBlocks, EdgesAreThePagesWhereLargeBlocksBeginAndEnd) {
  large_blocks::clear();
  large_blocks::add(kBase + 16, kBase + 16 + 20 * kMiB);  // a malloc block after its header
  large_blocks::add(kBase + 20 * kMiB + 4096, kBase + 22 * kMiB);
  large_blocks::add(kBase + 64 * kMiB, kBase + 64 * kMiB + 1000);  // too small: no preference
  size_t separated = 0;
  EXPECT_EQ(edges(&separated),
            (std::vector<uint64_t>{kBase, kBase + 20 * kMiB + 4096, kBase + 22 * kMiB}));
  EXPECT_EQ(separated, 1u);  // only the first is 16 MiB or more
  large_blocks::remove(kBase + 16);
  EXPECT_EQ(edges(), (std::vector<uint64_t>{kBase + 20 * kMiB + 4096, kBase + 22 * kMiB}));
  large_blocks::remove(kBase + 20 * kMiB + 4096);
  EXPECT_TRUE(edges().empty());
}

TEST(LargeBlocks, AFullTableDropsPreferencesNotBlocks) {
  large_blocks::clear();
  for (uint64_t i = 0; i < large_blocks::kCapacity + 10; ++i) {
    large_blocks::add(kBase + i * 2 * kMiB, kBase + i * 2 * kMiB + kMiB);
  }
  EXPECT_EQ(edges().size(), 2 * large_blocks::kCapacity);
  // Removal finds each block wherever probing put it, holes notwithstanding.
  for (uint64_t i = 0; i < large_blocks::kCapacity + 10; ++i)
    large_blocks::remove(kBase + i * 2 * kMiB);
  EXPECT_TRUE(edges().empty());
}

TEST(LargeBlocks, ThreadsAddingAndRemovingLeaveAConsistentTable) {
  large_blocks::clear();
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int round = 0; round < 2000; ++round) {
        uint64_t start = kBase + (t * 64 + static_cast<uint64_t>(round % 64)) * 4 * kMiB;
        large_blocks::add(start, start + 2 * kMiB);
        large_blocks::remove(start);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(edges().empty());
}
