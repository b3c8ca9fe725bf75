// Units of the runtime that work outside a preloaded process: the internal allocator, the stack
// table, and the per-thread rings.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "internal_alloc.h"
#include "ring_items.h"
#include "stack_table.h"
#include "thread_ring.h"

namespace dprof {
// The rings wake the writer thread; here the test plays the writer.
std::atomic<bool> g_test_writer_running{true};
void wake_writer() {}
bool writer_running() {
  return g_test_writer_running.load();
}
}  // namespace dprof

using namespace dprof;

TEST(InternalAlloc, AllocatesAlignedOwnedMemoryAndReusesIt) {
  void* block = internal_alloc::allocate(100);
  ASSERT_NE(block, nullptr);
  EXPECT_TRUE(internal_alloc::owns(block));
  EXPECT_GE(internal_alloc::usable_size(block), 100u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % 16, 0u);
  std::memset(block, 0xab, 100);
  internal_alloc::release(block);
  void* again = internal_alloc::allocate(100);
  EXPECT_EQ(again, block);  // same size class, taken back from the free list
  internal_alloc::release(again);
  for (size_t alignment : {32u, 64u, 4096u}) {
    void* aligned = internal_alloc::allocate(10, alignment);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned) % alignment, 0u);
    internal_alloc::release(aligned);
  }
  int on_stack = 0;
  EXPECT_FALSE(internal_alloc::owns(&on_stack));
  EXPECT_EQ(internal_alloc::allocate(10, 48), nullptr);  // not a power of two
}

TEST(InternalAlloc, ReallocateKeepsContentsAndZeroedIsZero) {
  auto* bytes = static_cast<char*>(internal_alloc::allocate(10));
  std::memcpy(bytes, "abcdefghi", 10);
  bytes = static_cast<char*>(internal_alloc::reallocate(bytes, 100000));
  ASSERT_NE(bytes, nullptr);
  EXPECT_STREQ(bytes, "abcdefghi");
  internal_alloc::release(bytes);
  auto* zeroed = static_cast<unsigned char*>(internal_alloc::allocate_zeroed(64, 8));
  for (int i = 0; i < 512; ++i) ASSERT_EQ(zeroed[i], 0);
  internal_alloc::release(zeroed);
  EXPECT_EQ(internal_alloc::allocate_zeroed(SIZE_MAX / 2, 4), nullptr);
}

TEST(InternalAlloc, ConcurrentUseGivesDistinctBlocks) {
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::vector<std::vector<void*>> blocks(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &blocks] {
      for (int i = 0; i < 2000; ++i) blocks[t].push_back(internal_alloc::allocate(24 + i % 200));
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<void*> unique;
  for (auto& list : blocks) unique.insert(list.begin(), list.end());
  EXPECT_EQ(unique.size(), 16000u);
  for (auto& list : blocks) {
    for (void* block : list) internal_alloc::release(block);
  }
}

TEST(StackTable, SameStackSameIdAndDefinedOnce) {
  stack_table::reset();
  void* first[] = {reinterpret_cast<void*>(0x1000), reinterpret_cast<void*>(0x2000)};
  void* second[] = {reinterpret_cast<void*>(0x1000), reinterpret_cast<void*>(0x3000)};
  auto a = stack_table::intern(first, 2);
  auto b = stack_table::intern(second, 2);
  auto c = stack_table::intern(first, 2);
  auto d = stack_table::intern(first, 1);
  EXPECT_TRUE(a.is_new);
  EXPECT_TRUE(b.is_new);
  EXPECT_FALSE(c.is_new);
  EXPECT_TRUE(d.is_new);
  EXPECT_EQ(a.id, c.id);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.id, d.id);
}

TEST(StackTable, ConcurrentInternsAgreeOnIds) {
  stack_table::reset();
  std::atomic<int> new_count{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<std::vector<uint64_t>> ids(4, std::vector<uint64_t>(500));
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        void* frames[] = {reinterpret_cast<void*>(0x400000 + i), reinterpret_cast<void*>(0x500000)};
        auto result = stack_table::intern(frames, 2);
        ids[t][i] = result.id;
        if (result.is_new) ++new_count;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(new_count.load(), 500);
  for (int t = 1; t < 4; ++t) EXPECT_EQ(ids[t], ids[0]);
}

TEST(ThreadRing, ItemsComeOutInOrderAcrossWrapAround) {
  Ring* ring = ring_registry::acquire(1234);
  ASSERT_NE(ring, nullptr);
  uint64_t next_expected = 0;
  uint64_t written = 0;
  auto drain = [&] {
    uint64_t tail = ring->tail.load();
    uint64_t head = ring->head.load();
    while (tail < head) {
      const char* at = ring->data + (tail & (ring->capacity - 1));
      const auto* header = reinterpret_cast<const ItemHeader*>(at);
      if (header->type == ItemType::kAlloc) {
        EXPECT_EQ(reinterpret_cast<const AllocItem*>(at)->time_ns, next_expected);
        ++next_expected;
      } else {
        EXPECT_EQ(header->type, ItemType::kPad);
      }
      tail += header->size;
    }
    ring->tail.store(tail);
  };
  // Several times the ring's capacity, drained in between, so it wraps with padding.
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 1000; ++i) {
      auto* item = static_cast<AllocItem*>(ring->reserve(sizeof(AllocItem)));
      ASSERT_NE(item, nullptr);
      item->header = ItemHeader{ItemType::kAlloc, 0, sizeof(AllocItem)};
      item->time_ns = written++;
      ring->commit(sizeof(AllocItem));
    }
    drain();
  }
  EXPECT_EQ(next_expected, written);
  ring_registry::mark_exited(ring);
  ring_registry::release_slot(ring);
}

TEST(ThreadRing, FullRingWithoutAWriterRefusesInsteadOfBlocking) {
  Ring* ring = ring_registry::acquire(99);
  ASSERT_NE(ring, nullptr);
  g_test_writer_running = false;
  size_t accepted = 0;
  while (ring->reserve(sizeof(AllocItem)) != nullptr) {
    ring->commit(sizeof(AllocItem));
    ++accepted;
  }
  g_test_writer_running = true;
  EXPECT_EQ(accepted, ring_registry::kRingBytes / sizeof(AllocItem));
  ring->tail.store(ring->head.load());
  ring_registry::release_slot(ring);
}

TEST(ThreadRing, SlotsAreReusedWithFreshThreadIndices) {
  Ring* first = ring_registry::acquire(1);
  uint32_t first_index = first->thread_index;
  ring_registry::release_slot(first);
  Ring* second = ring_registry::acquire(2);
  EXPECT_EQ(second, first);
  EXPECT_NE(second->thread_index, first_index);
  ring_registry::release_slot(second);
}
