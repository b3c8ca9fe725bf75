#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cmath>

#include "damon_prof/trace_format.h"
#include "heap_model.h"

using dprof::analyzer::Event;
using dprof::analyzer::EventKind;
using dprof::analyzer::HeapModel;

namespace {

constexpr uint64_t kPage = 4096;

Event alloc(uint64_t time, uint64_t address, uint64_t size, uint64_t stack, uint32_t thread = 0,
            uint8_t function = DPROF_FN_MALLOC) {
  Event event;
  event.kind = EventKind::kAlloc;
  event.time_ns = time;
  event.address = address;
  event.size = size;
  event.stack_id = stack;
  event.thread_index = thread;
  event.function = function;
  return event;
}

Event release(uint64_t time, uint64_t address, uint32_t thread = 0,
              uint8_t function = DPROF_FN_FREE) {
  Event event;
  event.kind = EventKind::kFree;
  event.time_ns = time;
  event.address = address;
  event.thread_index = thread;
  event.function = function;
  return event;
}

Event map(uint64_t time, uint64_t address, uint64_t length, uint64_t stack,
          uint32_t prot = PROT_READ | PROT_WRITE, uint8_t function = DPROF_FN_MMAP) {
  Event event;
  event.kind = EventKind::kMmap;
  event.time_ns = time;
  event.address = address;
  event.size = length;
  event.stack_id = stack;
  event.prot = prot;
  event.function = function;
  return event;
}

Event unmap(uint64_t time, uint64_t address, uint64_t length, uint8_t function = DPROF_FN_MUNMAP) {
  Event event;
  event.kind = EventKind::kMunmap;
  event.time_ns = time;
  event.address = address;
  event.size = length;
  event.function = function;
  return event;
}

}  // namespace

TEST(HeapModel, TotalsPeakAndLeaks) {
  HeapModel heap;
  heap.apply(alloc(1, 0x1000, 100, 1));
  heap.apply(alloc(2, 0x2000, 300, 2));
  heap.apply(release(3, 0x1000));
  heap.apply(alloc(4, 0x3000, 50, 1));
  const auto& totals = heap.totals();
  EXPECT_EQ(totals.alloc_count, 3u);
  EXPECT_EQ(totals.alloc_bytes, 450u);
  EXPECT_EQ(totals.peak_bytes, 400u);
  EXPECT_EQ(totals.peak_time_ns, 2u);
  EXPECT_EQ(totals.live_bytes, 350u);
  EXPECT_EQ(totals.live_count, 2u);
  EXPECT_EQ(totals.free_count, 1u);
}

// Stack ids come from the trace: any value, the ones the model's cache of recent stacks uses for
// its empty entries (and their neighbours modulo its size) included. A fuzzed trace crashed here.
TEST(HeapModel, EveryStackIdIsAStackEvenTheExtremes) {
  HeapModel heap;
  heap.apply(alloc(1, 0x1000, 100, UINT64_MAX));
  heap.apply(alloc(2, 0x2000, 200, 0));
  heap.apply(alloc(3, 0x3000, 300, 255));
  heap.apply(release(4, 0x1000));
  ASSERT_EQ(heap.stacks().count(UINT64_MAX), 1u);
  EXPECT_EQ(heap.stacks().at(UINT64_MAX).alloc_bytes, 100u);
  EXPECT_EQ(heap.stacks().at(UINT64_MAX).live_bytes, 0u);
  EXPECT_EQ(heap.stacks().at(0).live_bytes, 200u);
  EXPECT_EQ(heap.stacks().at(255).live_bytes, 300u);
}

TEST(HeapModel, PerStackBytesAtTheGlobalPeakSumToThePeak) {
  HeapModel heap;
  heap.apply(alloc(1, 0x1000, 100, 1));
  heap.apply(alloc(2, 0x2000, 200, 2));  // peak 300: stack 1 = 100, stack 2 = 200
  heap.apply(release(3, 0x2000));
  heap.apply(alloc(4, 0x3000, 150, 1));  // 250, below the peak
  heap.apply(release(5, 0x1000));
  const auto& stacks = heap.stacks();
  EXPECT_EQ(heap.bytes_at_peak(stacks.at(1)), 100u);
  EXPECT_EQ(heap.bytes_at_peak(stacks.at(2)), 200u);
  EXPECT_EQ(heap.blocks_at_peak(stacks.at(1)), 1u);
  EXPECT_EQ(heap.blocks_at_peak(stacks.at(2)), 1u);
  heap.apply(alloc(6, 0x4000, 400, 2));  // new peak 550: stack 1 = 150, stack 2 = 400
  EXPECT_EQ(heap.totals().peak_bytes, 550u);
  EXPECT_EQ(heap.bytes_at_peak(stacks.at(1)), 150u);
  EXPECT_EQ(heap.bytes_at_peak(stacks.at(2)), 400u);
  EXPECT_EQ(heap.blocks_at_peak(stacks.at(1)), 1u);
  EXPECT_EQ(heap.blocks_at_peak(stacks.at(2)), 1u);
  heap.apply(release(7, 0x3000));
  EXPECT_EQ(heap.blocks_at_peak(stacks.at(1)), 1u);  // still one at the peak
  heap.apply(release(8, 0x4000));
  EXPECT_EQ(heap.bytes_at_peak(stacks.at(2)), 400u);
  EXPECT_EQ(stacks.at(2).max_live_bytes, 400u);
}

TEST(HeapModel, TemporaryMeansNoAllocationInBetweenOnThatThread) {
  HeapModel heap;
  heap.apply(alloc(1, 0x1000, 10, 1));
  heap.apply(release(2, 0x1000));  // temporary
  heap.apply(alloc(3, 0x2000, 10, 1));
  heap.apply(alloc(4, 0x3000, 10, 1));
  heap.apply(release(5, 0x2000));  // not: 0x3000 came in between
  heap.apply(release(6, 0x3000));  // temporary: only a free in between
  heap.apply(alloc(7, 0x4000, 10, 1, /*thread=*/0));
  heap.apply(alloc(8, 0x5000, 10, 1, /*thread=*/1));
  heap.apply(release(9, 0x4000, /*thread=*/0));  // temporary: the other thread does not count
  heap.apply(alloc(10, 0x6000, 10, 1, 0));
  heap.apply(release(11, 0x6000, /*thread=*/1));  // freed by another thread: not temporary
  EXPECT_EQ(heap.totals().temporary_count, 3u);
  EXPECT_EQ(heap.stacks().at(1).temporary_count, 3u);
}

TEST(HeapModel, TemporariesAreFollowedOnEveryThreadIndexEvenLargeOnes) {
  // Small indices and a crafted trace's huge ones are kept apart; each thread keeps its own.
  for (uint32_t thread : {0u, 4095u, 4096u, 100000u, UINT32_MAX}) {
    uint32_t other = thread ^ 1u;
    HeapModel heap;
    heap.apply(alloc(1, 0x1000, 10, 1, thread));
    heap.apply(alloc(2, 0x2000, 10, 1, other));
    heap.apply(release(3, 0x1000, thread));  // temporary: the other thread's block is not its
    heap.apply(alloc(4, 0x1000, 10, 1, other));
    heap.apply(release(5, 0x1000, thread));  // not: the other thread's block at the same address
    heap.apply(release(6, 0x1000, thread));  // freed again: unmatched
    heap.apply(alloc(7, 0x3000, 10, 1, thread));
    heap.apply(alloc(8, 0x4000, 10, 1, thread));
    heap.apply(release(9, 0x3000, thread));  // not: 0x4000 came in between
    EXPECT_EQ(heap.totals().temporary_count, 1u) << "thread " << thread;
    EXPECT_EQ(heap.totals().unmatched_frees, 1u) << "thread " << thread;
  }
}

TEST(HeapModel, ReallocMovesAreNotTemporaryAndKeepTheirStack) {
  HeapModel heap;
  heap.apply(alloc(1, 0x1000, 10, 1, 0, DPROF_FN_REALLOC));
  heap.apply(release(2, 0x1000, 0, DPROF_FN_REALLOC));
  heap.apply(alloc(3, 0x2000, 20, 1, 0, DPROF_FN_REALLOC));
  EXPECT_EQ(heap.totals().temporary_count, 0u);
  EXPECT_EQ(heap.totals().alloc_count, 2u);
  EXPECT_EQ(heap.totals().live_bytes, 20u);
  EXPECT_EQ(heap.totals().peak_bytes, 20u);
}

TEST(HeapModel, UnknownFreesAndReusedAddressesAreCountedNotFatal) {
  HeapModel heap;
  heap.apply(release(1, 0x9000));
  heap.apply(alloc(2, 0x1000, 10, 1));
  heap.apply(alloc(3, 0x1000, 30, 2));
  EXPECT_EQ(heap.totals().unmatched_frees, 1u);
  EXPECT_EQ(heap.totals().replaced_blocks, 1u);
  EXPECT_EQ(heap.totals().live_bytes, 30u);
  EXPECT_EQ(heap.stacks().at(1).live_bytes, 0u);
}

TEST(HeapModel, MappingsAreSplitByPartialUnmapAndCarriedByMremap) {
  HeapModel heap;
  heap.apply(map(1, 0x100000, 10 * kPage, 7));
  EXPECT_EQ(heap.totals().live_bytes, 10 * kPage);
  heap.apply(unmap(2, 0x100000 + 2 * kPage, 3 * kPage));  // a hole in the middle
  EXPECT_EQ(heap.totals().live_bytes, 7 * kPage);
  EXPECT_EQ(heap.totals().live_count, 2u);    // two pieces remain
  heap.apply(unmap(3, 0x100000, 2 * kPage));  // the head piece entirely
  EXPECT_EQ(heap.totals().live_count, 1u);
  // mremap of the tail piece to a new place, grown: the stack that mapped it keeps it.
  heap.apply(unmap(4, 0x100000 + 5 * kPage, 5 * kPage, DPROF_FN_MREMAP));
  heap.apply(map(4, 0x900000, 8 * kPage, 0, 0xffffffffu, DPROF_FN_MREMAP));
  EXPECT_EQ(heap.totals().live_bytes, 8 * kPage);
  EXPECT_EQ(heap.stacks().at(7).live_bytes, 8 * kPage);
  EXPECT_EQ(heap.totals().mmap_count, 1u);
  // Read-only mappings and file-backed remaps are not allocations.
  heap.apply(map(5, 0x200000, 4096, 8, PROT_READ));
  heap.apply(unmap(6, 0x300000, 4096, DPROF_FN_MREMAP));
  heap.apply(map(6, 0x400000, 4096, 0, 0xffffffffu, DPROF_FN_MREMAP));
  EXPECT_EQ(heap.totals().live_bytes, 8 * kPage);
  // Lengths are rounded to whole pages.
  heap.apply(map(7, 0x500000, 100, 9));
  EXPECT_EQ(heap.stacks().at(9).alloc_bytes, 4096u);
  heap.apply(unmap(8, 0x900000, 8 * kPage));
  heap.apply(unmap(9, 0x500000, 4096));
  EXPECT_EQ(heap.totals().live_bytes, 0u);
  EXPECT_EQ(heap.totals().live_count, 0u);
}

TEST(HeapModel, MapFixedOverAnExistingMappingReplacesIt) {
  HeapModel heap;
  heap.apply(map(1, 0x100000, 4 * kPage, 1));
  heap.apply(map(2, 0x100000 + 4096, 4096, 2));
  EXPECT_EQ(heap.totals().live_bytes, 4 * kPage);
  EXPECT_EQ(heap.stacks().at(1).live_bytes, 3 * kPage);
  EXPECT_EQ(heap.stacks().at(2).live_bytes, 4096u);
}

// Custom allocator blocks take their bytes out of the block that holds them: totals do not move,
// the stacks' shares do; ending the container ends them.
TEST(HeapModel, CustomBlocksAreCarvedOutOfTheirContainer) {
  HeapModel heap;
  heap.apply(alloc(1, 0x100000, 16 * kPage, 1));  // the arena's chunk
  heap.apply(alloc(2, 0x100000, 1000, 2, 0, DPROF_FN_CUSTOM));
  heap.apply(alloc(3, 0x100400, 3000, 3, 0, DPROF_FN_CUSTOM));
  EXPECT_EQ(heap.totals().live_bytes, 16 * kPage);
  EXPECT_EQ(heap.totals().peak_bytes, 16 * kPage);
  EXPECT_EQ(heap.totals().alloc_count, 1u);  // the custom blocks are inside it
  EXPECT_EQ(heap.totals().custom_count, 2u);
  EXPECT_EQ(heap.totals().custom_bytes, 4000u);
  EXPECT_EQ(heap.stacks().at(1).live_bytes, 16 * kPage - 4000);
  EXPECT_EQ(heap.stacks().at(2).live_bytes, 1000u);
  EXPECT_EQ(heap.stacks().at(3).alloc_count, 1u);

  // Listed without overlaps: chunk pieces around the custom blocks.
  std::vector<dprof::analyzer::BlockView> blocks;
  heap.live_blocks(blocks);
  ASSERT_EQ(blocks.size(), 4u);
  EXPECT_EQ(blocks[0].stack_id, 2u);
  EXPECT_EQ(blocks[1].start, 0x100000u + 1000);
  EXPECT_EQ(blocks[1].end, 0x100400u);
  EXPECT_EQ(blocks[1].stack_id, 1u);
  EXPECT_EQ(blocks[2].stack_id, 3u);
  EXPECT_EQ(blocks[3].start, 0x100400u + 3000);
  EXPECT_EQ(blocks[3].end, 0x100000u + 16 * kPage);

  heap.apply(release(4, 0x100000, 0, DPROF_FN_CUSTOM));
  EXPECT_EQ(heap.stacks().at(2).live_bytes, 0u);
  EXPECT_EQ(heap.stacks().at(1).live_bytes, 16 * kPage - 3000);
  EXPECT_EQ(heap.totals().live_bytes, 16 * kPage);
  // Freeing the chunk ends the block still inside it.
  heap.apply(release(5, 0x100000));
  EXPECT_EQ(heap.totals().live_bytes, 0u);
  EXPECT_EQ(heap.totals().live_count, 0u);
  EXPECT_EQ(heap.stacks().at(3).live_bytes, 0u);
  EXPECT_EQ(heap.stacks().at(1).live_bytes, 0u);

  // Outside anything tracked, a custom block counts on its own.
  heap.apply(alloc(6, 0x900000, 500, 4, 0, DPROF_FN_CUSTOM));
  EXPECT_EQ(heap.totals().live_bytes, 500u);
  EXPECT_EQ(heap.totals().alloc_count, 2u);
  heap.apply(release(7, 0x900000, 0, DPROF_FN_CUSTOM));
  EXPECT_EQ(heap.totals().live_bytes, 0u);

  // Inside a mapping too; a partial munmap ends the blocks in the unmapped part.
  heap.apply(map(8, 0x200000, 4 * kPage, 5));
  heap.apply(alloc(9, 0x200000 + 3 * kPage, 100, 6, 0, DPROF_FN_CUSTOM));
  EXPECT_EQ(heap.stacks().at(6).live_bytes, 100u);
  heap.apply(unmap(10, 0x200000 + 2 * kPage, 2 * kPage));
  EXPECT_EQ(heap.stacks().at(6).live_bytes, 0u);
  EXPECT_EQ(heap.stacks().at(5).live_bytes, 2 * kPage);
  EXPECT_EQ(heap.totals().live_bytes, 2 * kPage);
}

TEST(HeapModel, SampledBlocksStandForTheBlocksTheyRepresent) {
  HeapModel model;
  model.set_sample_rate(1000);
  // p(1000 bytes) = 1 - e^-1: the block stands for 1000 / p bytes and 1 / p = 1.58 blocks.
  model.apply(alloc(1, 0x1000, 1000, 7));
  double weight = 1.0 / -std::expm1(-1.0);
  EXPECT_EQ(model.totals().live_bytes, static_cast<uint64_t>(std::llround(1000 * weight)));
  EXPECT_EQ(model.totals().alloc_count, 1u);  // 1.58 blocks: one counted, 0.58 carried
  model.apply(alloc(2, 0x2000, 1000, 7));
  EXPECT_EQ(model.totals().alloc_count, 3u);  // 3.16 blocks
  EXPECT_EQ(model.stacks().at(7).alloc_count, 3u);
  // A free takes back exactly what its block added.
  model.apply(release(3, 0x1000));
  model.apply(release(4, 0x2000));
  EXPECT_EQ(model.totals().live_bytes, 0u);
  EXPECT_EQ(model.totals().live_count, 0u);
  EXPECT_EQ(model.stacks().at(7).live_bytes, 0u);
  // Blocks far above the rate are sampled for certain and count as themselves; mappings are never
  // sampled.
  model.apply(alloc(5, 0x100000, 1 << 20, 8));
  EXPECT_EQ(model.stacks().at(8).alloc_bytes, uint64_t{1} << 20);
  EXPECT_EQ(model.stacks().at(8).alloc_count, 1u);
  model.apply(map(6, 0x40000000, 10 * kPage, 9));
  EXPECT_EQ(model.stacks().at(9).alloc_bytes, 10 * kPage);
}

TEST(HeapModel, ABlocksMonitorFlagsAndAllocationTimeShareAWordWithoutDisturbingEachOther) {
  HeapModel heap;
  std::vector<dprof::analyzer::EndedBlock> ended;
  heap.set_ended_block_listener(
      [&ended](const dprof::analyzer::EndedBlock& block) { ended.push_back(block); });
  constexpr uint64_t kLatestTime = (uint64_t{1} << 56) - 1;
  heap.apply(alloc(kLatestTime - 5, 0x1000, 32, 1));
  heap.apply(alloc(UINT64_MAX, 0x2000, 32, 2));  // a crafted trace's time: saturates
  std::vector<dprof::analyzer::BlockView> blocks;
  heap.live_blocks(blocks);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].alloc_time_ns, kLatestTime - 5);
  EXPECT_EQ(blocks[1].alloc_time_ns, kLatestTime);
  EXPECT_EQ(*blocks[0].seen, 0);
  *blocks[0].seen |= dprof::analyzer::kBlockObserved | dprof::analyzer::kBlockTouched;
  *blocks[1].seen |= dprof::analyzer::kBlockObserved;
  heap.live_blocks(blocks);
  EXPECT_EQ(blocks[0].alloc_time_ns, kLatestTime - 5);
  EXPECT_EQ(blocks[1].alloc_time_ns, kLatestTime);
  EXPECT_EQ(*blocks[0].seen, dprof::analyzer::kBlockObserved | dprof::analyzer::kBlockTouched);
  heap.apply(release(UINT64_MAX, 0x1000));
  heap.apply(release(UINT64_MAX, 0x2000));
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[0].seen, dprof::analyzer::kBlockObserved | dprof::analyzer::kBlockTouched);
  EXPECT_EQ(ended[0].stack_id, 1u);
  EXPECT_EQ(ended[1].seen, dprof::analyzer::kBlockObserved);
  EXPECT_EQ(heap.totals().live_bytes, 0u);
}

// The block an access touched: found among small blocks sharing a page, and found quickly
// whatever page size a damaged trace claims (a fuzzed one claimed 2^62 bytes, and the scan below
// an address that no block holds ran for good).
TEST(HeapModel, TheBlockAtAnAddressIsFoundQuicklyWhateverThePageSize) {
  for (uint64_t page_size : {uint64_t{4096}, uint64_t{1} << 62}) {
    HeapModel heap;
    heap.set_page_size(page_size);
    heap.apply(alloc(1, 0x7f0000001000, 48, 1));
    heap.apply(alloc(2, 0x7f0000001040, 48, 2));
    auto inside = heap.block_at(0x7f0000001050);
    ASSERT_TRUE(inside.has_value());
    EXPECT_EQ(inside->stack_id, 2u);
    EXPECT_FALSE(heap.block_at(0x7f0000001035).has_value());  // between the two blocks
    EXPECT_FALSE(heap.block_at(0x7f0000900000).has_value());  // far from any block
  }
}
