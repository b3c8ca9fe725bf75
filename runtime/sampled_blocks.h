// The addresses of the live blocks that allocation sampling recorded, so that their frees are
// recorded too and every other free costs next to nothing. Lock-free: any thread inserts and
// removes; an address is only ever removed by the free of the block, which cannot race with the
// insertion of the same block (the program got the block after it was inserted).
//
// A one-byte counter per hash bucket in a small array answers "certainly not sampled" for nearly
// every free without touching the table itself.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <atomic>

namespace dprof::sampled_blocks {

namespace detail {
// 32768 buckets of 7 addresses and an overflow count: 256 Ki addresses in 2 MiB, mapped on first
// use. At the default rate that is room for terabytes of live sampled heap.
constexpr size_t kBucketCount = size_t{1} << 15;
constexpr int kSlotsPerBucket = 7;

struct alignas(64) Bucket {
  std::atomic<uint64_t> slots[kSlotsPerBucket];
  // Entries whose home is this bucket but that live in a later one: while it is 0 a lookup stops
  // here.
  std::atomic<uint64_t> overflowed;
};

// After the buckets, in the same mapping: per bucket, how many addresses with that home are
// remembered (saturating at 255: then never decremented, which only sends lookups of that bucket
// on to the table).
struct Table {
  Bucket buckets[kBucketCount];
  std::atomic<uint8_t> filter[kBucketCount];
};

extern std::atomic<Table*> g_table;

inline size_t home_of(uint64_t address) {
  uint64_t hash = (address >> 4) * 0x9e3779b97f4a7c15ull;
  return static_cast<size_t>(hash >> 49);  // 15 bits
}

bool remove_from(Table* table, size_t home, uint64_t address);
}  // namespace detail

// Remembers a sampled block. False when the table is full: the block is then recorded without its
// free (the trace counts such blocks; see lost_blocks()).
bool insert(uint64_t address);
// Forgets the block if it was sampled; true if it was. The filter's answer is inline: it is all
// that most frees in sampled mode ask.
inline bool remove(uint64_t address) {
  detail::Table* table = detail::g_table.load(std::memory_order_acquire);
  if (table == nullptr) return false;
  size_t home = detail::home_of(address);
  if (table->filter[home].load(std::memory_order_acquire) == 0) return false;
  return detail::remove_from(table, home, address);
}
// Sampled blocks that could not be remembered.
uint64_t lost_blocks();
// The table's memory, which the access monitor must not watch (both 0 before first use).
void memory_range(uint64_t* start, uint64_t* end);

}  // namespace dprof::sampled_blocks
