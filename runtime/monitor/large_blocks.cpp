#include "large_blocks.h"

#include <atomic>

namespace dprof::large_blocks {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kClaimed = 1;  // a slot being filled: start is not known yet

struct Slot {
  std::atomic<uint64_t> start{0};  // 0: free
  std::atomic<uint64_t> end{0};
};
Slot g_slots[kCapacity];

size_t home(uint64_t start) {
  return static_cast<size_t>((start >> 12) * 0x9e3779b97f4a7c15ull >> 52) % kCapacity;
}

// Sorts a small array in place (the monitor's, a few thousand at most; no allocation).
void sort(uint64_t* values, size_t count) {
  // Shell sort with Ciura's gaps: no recursion, no library.
  static constexpr size_t kGaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
  for (size_t gap : kGaps) {
    for (size_t i = gap; i < count; ++i) {
      uint64_t moved = values[i];
      size_t j = i;
      for (; j >= gap && values[j - gap] > moved; j -= gap) values[j] = values[j - gap];
      values[j] = moved;
    }
  }
}

}  // namespace

void add(uint64_t start, uint64_t end) {
  if (end <= start || end - start < kLargeBlockBytes || start <= kClaimed) return;
  size_t index = home(start);
  for (size_t probe = 0; probe < kCapacity; ++probe) {
    Slot& slot = g_slots[(index + probe) % kCapacity];
    uint64_t expected = 0;
    if (slot.start.load(std::memory_order_relaxed) == 0 &&
        slot.start.compare_exchange_strong(expected, kClaimed, std::memory_order_acq_rel)) {
      slot.end.store(end, std::memory_order_relaxed);
      slot.start.store(start, std::memory_order_release);  // publishes end with it
      return;
    }
  }
  // Full: this block gets no preference.
}

void remove(uint64_t start) {
  if (start <= kClaimed) return;
  // Removal leaves holes in probe chains, so every slot may have to be looked at: large blocks
  // come and go rarely (each is a system call of its own anyway).
  size_t index = home(start);
  for (size_t probe = 0; probe < kCapacity; ++probe) {
    Slot& slot = g_slots[(index + probe) % kCapacity];
    uint64_t expected = start;
    if (slot.start.load(std::memory_order_relaxed) == start &&
        slot.start.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) {
      return;
    }
  }
}

size_t edges(uint64_t* out, size_t capacity, size_t* separated) {
  size_t count = 0;
  size_t large = 0;
  for (Slot& slot : g_slots) {
    uint64_t start = slot.start.load(std::memory_order_acquire);
    if (start <= kClaimed) continue;
    uint64_t end = slot.end.load(std::memory_order_relaxed);
    if (end <= start) continue;
    if (end - start >= kSeparatedBlockBytes) ++large;
    // A malloc block begins after its chunk header: the page it begins in is the block's.
    if (count < capacity) out[count++] = start & ~(kPage - 1);
    if (count < capacity) out[count++] = (end + kPage - 1) & ~(kPage - 1);
  }
  sort(out, count);
  size_t unique = 0;
  for (size_t i = 0; i < count; ++i) {
    if (unique == 0 || out[unique - 1] != out[i]) out[unique++] = out[i];
  }
  if (separated != nullptr) *separated = large;
  return unique;
}

void clear() {
  for (Slot& slot : g_slots) slot.start.store(0, std::memory_order_relaxed);
}

}  // namespace dprof::large_blocks
