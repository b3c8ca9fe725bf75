#include "stack_table.h"

#include <sched.h>

#include <atomic>

#include "sys.h"

namespace dprof::stack_table {
namespace {

constexpr size_t kSlotCount = size_t{1} << 20;
constexpr size_t kMaxFill = kSlotCount / 4 * 3;

struct Slot {
  std::atomic<uint64_t> hash;
  std::atomic<uint64_t> id;  // 0 while the inserting thread is still assigning it
};

std::atomic<Slot*> g_slots{nullptr};
std::atomic<uint64_t> g_next_id{1};
std::atomic<size_t> g_filled{0};

Slot* slots() {
  Slot* table = g_slots.load(std::memory_order_acquire);
  if (table != nullptr) return table;
  auto* fresh = static_cast<Slot*>(sys::map_anonymous(sizeof(Slot) * kSlotCount, MAP_NORESERVE));
  if (fresh == nullptr) return nullptr;
  if (!g_slots.compare_exchange_strong(table, fresh, std::memory_order_acq_rel)) {
    sys::unmap(fresh, sizeof(Slot) * kSlotCount);
    return table;
  }
  return fresh;
}

uint64_t hash_frames(void* const* frames, int frame_count) {
  uint64_t hash = 0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(frame_count);
  for (int i = 0; i < frame_count; ++i) {
    hash ^= reinterpret_cast<uint64_t>(frames[i]);
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 32;
  }
  return hash == 0 ? 1 : hash;
}

}  // namespace

InternResult intern(void* const* frames, int frame_count) {
  Slot* table = slots();
  uint64_t hash = hash_frames(frames, frame_count);
  if (table == nullptr || g_filled.load(std::memory_order_relaxed) >= kMaxFill) {
    // Table full: name the stack anew each time rather than lose it.
    return {g_next_id.fetch_add(1, std::memory_order_relaxed), true};
  }
  for (size_t probe = hash & (kSlotCount - 1);; probe = (probe + 1) & (kSlotCount - 1)) {
    Slot& slot = table[probe];
    uint64_t seen = slot.hash.load(std::memory_order_acquire);
    if (seen == 0) {
      if (slot.hash.compare_exchange_strong(seen, hash, std::memory_order_acq_rel)) {
        uint64_t id = g_next_id.fetch_add(1, std::memory_order_relaxed);
        slot.id.store(id, std::memory_order_release);
        g_filled.fetch_add(1, std::memory_order_relaxed);
        return {id, true};
      }
    }
    if (seen == hash) {
      uint64_t id;
      while ((id = slot.id.load(std::memory_order_acquire)) == 0) sched_yield();
      return {id, false};
    }
  }
}

void memory_range(uint64_t* start, uint64_t* end) {
  auto base = reinterpret_cast<uint64_t>(g_slots.load(std::memory_order_acquire));
  *start = base;
  *end = base == 0 ? 0 : base + sizeof(Slot) * kSlotCount;
}

void reset() {
  Slot* table = g_slots.exchange(nullptr, std::memory_order_acq_rel);
  if (table != nullptr) sys::unmap(table, sizeof(Slot) * kSlotCount);
  g_filled.store(0, std::memory_order_relaxed);
  g_next_id.store(1, std::memory_order_relaxed);
}

}  // namespace dprof::stack_table
