#include "thread_ring.h"

#include <sched.h>
#include <string.h>

#include <new>

#include "sys.h"
#include "trace_writer.h"

namespace dprof {
namespace {

std::atomic<Ring*> g_slots[ring_registry::kMaxRings];
std::atomic<size_t> g_slot_high_water{0};
std::atomic<uint32_t> g_next_thread_index{0};
std::atomic<uint64_t> g_dropped{0};
// The counts of the threads whose rings were given back (only the writer touches this).
AllocationTotals g_retired_totals;

// Writer only. A ring's pages stay resident once written, whoever owned it then: the high-water
// mark of its head (which starts over with each owner), capped at the buffer.
void note_touched(Ring* ring) {
  uint64_t written = ring->head.load(std::memory_order_acquire);
  if (written > ring->capacity) written = ring->capacity;
  if (written > ring->touched_bytes) ring->touched_bytes = written;
}

}  // namespace

void* Ring::reserve(size_t bytes) {
  uint64_t current_head = head.load(std::memory_order_relaxed);
  size_t offset = current_head & (capacity - 1);
  size_t needed = bytes;
  // Items never wrap: pad to the end of the buffer when the item does not fit before it.
  size_t pad = (offset + bytes > capacity) ? capacity - offset : 0;
  needed += pad;
  for (unsigned attempt = 0;; ++attempt) {
    uint64_t used = current_head - tail.load(std::memory_order_acquire);
    if (used + needed <= capacity) break;
    if (!writer_running()) return nullptr;
    wake_writer();
    if (attempt < 16) {
      sched_yield();
    } else {
      sys::sleep_ns(200000);
    }
  }
  if (pad != 0) {
    // A pad item: type 0, size = pad bytes (pad is a multiple of 8 because items are).
    auto* pad_header = reinterpret_cast<uint32_t*>(data + offset);
    pad_header[0] = 0;
    pad_header[1] = static_cast<uint32_t>(pad);
    current_head += pad;
    head.store(current_head, std::memory_order_release);
    offset = 0;
  }
  uint64_t used_after = current_head + bytes - tail.load(std::memory_order_relaxed);
  if (used_after > capacity / 2) {
    if (!wake_sent) {
      wake_sent = 1;
      wake_writer();
    }
  } else {
    wake_sent = 0;
  }
  return data + offset;
}

namespace ring_registry {

Ring* acquire(pid_t tid) {
  size_t high = g_slot_high_water.load(std::memory_order_acquire);
  // Reuse a slot the writer has freed, else take a new one.
  for (size_t index = 0; index < kMaxRings; ++index) {
    Ring* ring = g_slots[index].load(std::memory_order_acquire);
    if (ring == nullptr) {
      if (index < high) continue;  // being created by another thread
      auto* fresh = static_cast<Ring*>(sys::map_anonymous(sizeof(Ring) + kRingBytes));
      if (fresh == nullptr) break;
      new (fresh) Ring();
      fresh->data = reinterpret_cast<char*>(fresh) + sizeof(Ring);
      fresh->capacity = kRingBytes;
      fresh->state.store(static_cast<uint32_t>(RingState::kOwned), std::memory_order_relaxed);
      Ring* expected = nullptr;
      if (!g_slots[index].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
        sys::unmap(fresh, sizeof(Ring) + kRingBytes);
        continue;
      }
      size_t want = index + 1;
      size_t seen = g_slot_high_water.load(std::memory_order_relaxed);
      while (seen < want &&
             !g_slot_high_water.compare_exchange_weak(seen, want, std::memory_order_acq_rel)) {
      }
      ring = fresh;
    } else {
      uint32_t expected = static_cast<uint32_t>(RingState::kFree);
      if (!ring->state.compare_exchange_strong(expected, static_cast<uint32_t>(RingState::kOwned),
                                               std::memory_order_acq_rel)) {
        continue;
      }
    }
    ring->tid = tid;
    ring->wake_sent = 0;
    ring->library_bytes.store(0, std::memory_order_relaxed);
    ring->thread_index = g_next_thread_index.fetch_add(1, std::memory_order_relaxed);
    return ring;
  }
  return nullptr;
}

void mark_exited(Ring* ring) {
  ring->state.store(static_cast<uint32_t>(RingState::kExited), std::memory_order_release);
}

size_t slot_count() {
  return g_slot_high_water.load(std::memory_order_acquire);
}

Ring* slot(size_t index) {
  return g_slots[index].load(std::memory_order_acquire);
}

void release_slot(Ring* ring) {
  // Only the writer calls this, after draining: head == tail, so the ring can start over.
  note_touched(ring);
  g_retired_totals.allocations += ring->allocations.exchange(0, std::memory_order_relaxed);
  g_retired_totals.allocated_bytes += ring->allocated_bytes.exchange(0, std::memory_order_relaxed);
  g_retired_totals.releases += ring->releases.exchange(0, std::memory_order_relaxed);
  ring->head.store(0, std::memory_order_relaxed);
  ring->tail.store(0, std::memory_order_relaxed);
  ring->busy.store(0, std::memory_order_relaxed);
  ring->event_time.store(0, std::memory_order_relaxed);
  ring->state.store(static_cast<uint32_t>(RingState::kFree), std::memory_order_release);
}

void reset_after_fork() {
  // The parent's rings hold the parent's events, already owned by the parent's trace; the child
  // starts empty. Their memory is reused rather than unmapped.
  size_t high = slot_count();
  for (size_t index = 0; index < high; ++index) {
    Ring* ring = g_slots[index].load(std::memory_order_relaxed);
    if (ring != nullptr) release_slot(ring);
  }
  g_next_thread_index.store(0, std::memory_order_relaxed);
  g_dropped.store(0, std::memory_order_relaxed);
  g_retired_totals = AllocationTotals{};
}

uint64_t resident_bytes() {
  constexpr uint64_t kPage = 4096;
  uint64_t total = 0;
  size_t high = slot_count();
  for (size_t index = 0; index < high; ++index) {
    Ring* ring = g_slots[index].load(std::memory_order_acquire);
    if (ring == nullptr) continue;
    note_touched(ring);
    total += sizeof(Ring) + (ring->touched_bytes + kPage - 1) / kPage * kPage;
    if (ring->state.load(std::memory_order_acquire) == static_cast<uint32_t>(RingState::kOwned))
      total += ring->library_bytes.load(std::memory_order_relaxed);
  }
  return total;
}

size_t memory_ranges(uint64_t (*out)[2], size_t capacity) {
  size_t count = 0;
  size_t high = slot_count();
  for (size_t index = 0; index < high && count < capacity; ++index) {
    Ring* ring = g_slots[index].load(std::memory_order_acquire);
    if (ring == nullptr) continue;
    out[count][0] = reinterpret_cast<uint64_t>(ring);
    out[count][1] = reinterpret_cast<uint64_t>(ring) + sizeof(Ring) + kRingBytes;
    ++count;
  }
  return count;
}

uint64_t dropped_events() {
  return g_dropped.load(std::memory_order_relaxed);
}
void count_dropped_event() {
  g_dropped.fetch_add(1, std::memory_order_relaxed);
}

AllocationTotals allocation_totals() {
  AllocationTotals totals = g_retired_totals;
  size_t high = slot_count();
  for (size_t index = 0; index < high; ++index) {
    Ring* ring = g_slots[index].load(std::memory_order_acquire);
    if (ring == nullptr) continue;
    totals.allocations += ring->allocations.load(std::memory_order_relaxed);
    totals.allocated_bytes += ring->allocated_bytes.load(std::memory_order_relaxed);
    totals.releases += ring->releases.load(std::memory_order_relaxed);
  }
  return totals;
}

}  // namespace ring_registry
}  // namespace dprof
