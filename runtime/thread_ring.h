// Per-thread single-producer/single-consumer byte rings. The owning thread appends fixed-layout
// items (runtime-internal, see ring_items.h); the writer thread drains them, encodes them into the
// trace format, and compresses. Nothing is shared between application threads on the
// allocation path except the stack table.
//
// Ordering contract with the writer (see trace_writer.cpp): a producer marks itself busy *before*
// it reads the clock for an event, stores the time it read in `event_time`, and clears the mark
// after publishing the item. A writer that read the clock at T and then saw a ring not busy knows
// every event of that ring with a time below T is already published; if the ring is busy, every
// event below its `event_time` is (that value is the in-flight event's time or an earlier one's).
// That is what lets the writer promise watermarks without any lock.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>

namespace dprof {

enum class RingState : uint32_t { kFree = 0, kOwned = 1, kExited = 2 };

struct alignas(64) Ring {
  // Producer's line.
  std::atomic<uint64_t> head{0};
  std::atomic<uint32_t> busy{0};
  uint32_t wake_sent = 0;
  std::atomic<uint64_t> event_time{0};
  // Every allocation and release of the malloc family this thread made, recorded or not (with
  // allocation sampling most are not): only the owner writes them, the writer sums them.
  std::atomic<uint64_t> allocations{0};
  std::atomic<uint64_t> allocated_bytes{0};
  std::atomic<uint64_t> releases{0};
  // Anonymous memory libraries mapped for the runtime on this thread (libunwind's trace cache,
  // 256 KiB on the thread's first unwind), which is the runtime's memory though not its own
  // mapping. Only the owner writes it; it goes with the thread.
  std::atomic<uint64_t> library_bytes{0};
  // Consumer's line.
  alignas(64) std::atomic<uint64_t> tail{0};
  uint64_t last_activity_ns = 0;  // writer's view: when it last found data here
  uint64_t touched_bytes = 0;     // writer's: the most of `data` any owner ever wrote
  // Shared, rarely written.
  alignas(64) std::atomic<uint32_t> state{static_cast<uint32_t>(RingState::kFree)};
  uint32_t thread_index = 0;
  pid_t tid = 0;
  char* data = nullptr;
  size_t capacity = 0;  // power of two

  void begin_event() { busy.store(1, std::memory_order_seq_cst); }
  void end_event() { busy.store(0, std::memory_order_release); }
  // Publishes the time of the event in flight; returns it.
  uint64_t stamp(uint64_t time_ns) {
    event_time.store(time_ns, std::memory_order_relaxed);
    return time_ns;
  }

  // Returns room for `bytes` (a multiple of 8) at the head, waiting for the writer when the ring is
  // full. Returns nullptr only if the writer is not running and the ring is full.
  void* reserve(size_t bytes);
  void commit(size_t bytes) {
    head.store(head.load(std::memory_order_relaxed) + bytes, std::memory_order_release);
  }
  // Owner only: plain increments, no locked instruction.
  void count_allocation(uint64_t bytes) {
    allocations.store(allocations.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    allocated_bytes.store(allocated_bytes.load(std::memory_order_relaxed) + bytes,
                          std::memory_order_relaxed);
  }
  void count_release() {
    releases.store(releases.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

// The malloc family's totals over every thread of the process, exact whatever is sampled.
struct AllocationTotals {
  uint64_t allocations = 0;
  uint64_t allocated_bytes = 0;
  uint64_t releases = 0;
};

namespace ring_registry {

constexpr size_t kMaxRings = 8192;
constexpr size_t kRingBytes = size_t{256} << 10;

// Claims a ring for the calling thread (a new thread index each time). nullptr when every slot is
// in use; the caller counts the event as dropped.
Ring* acquire(pid_t tid);
// The owning thread is gone: the writer drains the ring and then frees the slot.
void mark_exited(Ring* ring);
// Visits every slot in use, for the writer.
size_t slot_count();
Ring* slot(size_t index);
void release_slot(Ring* ring);
// After fork: the child owns no ring of the parent's threads; forget them all.
void reset_after_fork();
uint64_t dropped_events();
// Writes the address range of every ring's memory (start, end pairs) into `out`; returns how
// many (at most `capacity`). The access monitor leaves them out.
size_t memory_ranges(uint64_t (*out)[2], size_t capacity);
// Resident bytes of every ring (the part of its buffer ever written: a ring is only touched as it
// fills) and of what libraries mapped for the runtime on the threads alive. Writer thread only.
uint64_t resident_bytes();
void count_dropped_event();
// Sums every ring's counts and those of the rings already given back (writer thread only).
AllocationTotals allocation_totals();

}  // namespace ring_registry

// The writer's wake-up word: producers bump it and wake the writer when a ring is half full.
void wake_writer();
bool writer_running();

}  // namespace dprof
