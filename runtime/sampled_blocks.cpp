#include "sampled_blocks.h"

#include <stddef.h>

#include <atomic>

#include "sys.h"

namespace dprof::sampled_blocks {

namespace detail {
std::atomic<Table*> g_table{nullptr};
}  // namespace detail

namespace {

using detail::Bucket;
using detail::g_table;
using detail::home_of;
using detail::kBucketCount;
using detail::Table;

// How far an insertion looks past a full home bucket.
constexpr size_t kMaxProbe = 64;

std::atomic<uint64_t> g_lost{0};

Table* table_for_insert() {
  Table* table = g_table.load(std::memory_order_acquire);
  if (table != nullptr) return table;
  auto* fresh = static_cast<Table*>(sys::map_anonymous(sizeof(Table), MAP_NORESERVE));
  if (fresh == nullptr) return nullptr;
  if (!g_table.compare_exchange_strong(table, fresh, std::memory_order_acq_rel)) {
    sys::unmap(fresh, sizeof(Table));
    return table;
  }
  return fresh;
}

bool claim_slot(Bucket& bucket, uint64_t address) {
  for (auto& slot : bucket.slots) {
    uint64_t expected = 0;
    if (slot.load(std::memory_order_relaxed) == 0 &&
        slot.compare_exchange_strong(expected, address, std::memory_order_acq_rel)) {
      return true;
    }
  }
  return false;
}

bool release_slot(Bucket& bucket, uint64_t address) {
  for (auto& slot : bucket.slots) {
    uint64_t expected = address;
    if (slot.load(std::memory_order_acquire) == address &&
        slot.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) {
      return true;
    }
  }
  return false;
}

void filter_add(std::atomic<uint8_t>& counter) {
  uint8_t count = counter.load(std::memory_order_relaxed);
  while (count != 255 && !counter.compare_exchange_weak(count, static_cast<uint8_t>(count + 1),
                                                        std::memory_order_acq_rel)) {
  }
}

void filter_remove(std::atomic<uint8_t>& counter) {
  uint8_t count = counter.load(std::memory_order_relaxed);
  while (count != 255 && count != 0 &&
         !counter.compare_exchange_weak(count, static_cast<uint8_t>(count - 1),
                                        std::memory_order_acq_rel)) {
  }
}

}  // namespace

bool insert(uint64_t address) {
  Table* table = table_for_insert();
  if (table == nullptr || address == 0) {
    g_lost.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  size_t home = home_of(address);
  Bucket* buckets = table->buckets;
  // The filter first, so that it never reads 0 while the address is in the table.
  filter_add(table->filter[home]);
  if (claim_slot(buckets[home], address)) return true;
  buckets[home].overflowed.fetch_add(1, std::memory_order_acq_rel);
  for (size_t step = 1; step <= kMaxProbe; ++step) {
    if (claim_slot(buckets[(home + step) & (kBucketCount - 1)], address)) return true;
  }
  buckets[home].overflowed.fetch_sub(1, std::memory_order_acq_rel);
  filter_remove(table->filter[home]);
  g_lost.fetch_add(1, std::memory_order_relaxed);
  return false;
}

namespace detail {

// The filter said the address may be here.
bool remove_from(Table* table, size_t home, uint64_t address) {
  Bucket* buckets = table->buckets;
  if (release_slot(buckets[home], address)) {
    filter_remove(table->filter[home]);
    return true;
  }
  if (buckets[home].overflowed.load(std::memory_order_acquire) == 0) return false;
  for (size_t step = 1; step <= kMaxProbe; ++step) {
    if (release_slot(buckets[(home + step) & (kBucketCount - 1)], address)) {
      buckets[home].overflowed.fetch_sub(1, std::memory_order_acq_rel);
      filter_remove(table->filter[home]);
      return true;
    }
  }
  return false;
}

}  // namespace detail

uint64_t lost_blocks() {
  return g_lost.load(std::memory_order_relaxed);
}

void memory_range(uint64_t* start, uint64_t* end) {
  auto base = reinterpret_cast<uint64_t>(g_table.load(std::memory_order_acquire));
  *start = base;
  *end = base == 0 ? 0 : base + sizeof(Table);
}

}  // namespace dprof::sampled_blocks
