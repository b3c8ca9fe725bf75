// Turns one hooked call into ring items: the stack (once per distinct stack) and the event.
// Time stamps follow one rule that keeps a single consistent order across threads: a release is
// stamped *before* the real release happens, an acquisition *after* the real acquisition returned,
// so a block freed by one thread and reused by another is always seen freed first.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ring_items.h"
#include "thread_ring.h"
#include "thread_state.h"

namespace dprof::recorder {

// Nanoseconds since the process's trace started.
uint64_t now_ns();
void set_time_origin(uint64_t monotonic_ns);

// The calling thread's ring, claimed on first use (nullptr when none can be had).
Ring* ring_for_this_thread();
// Captures and interns the caller's stack, defining it in `ring` when new; returns its id.
// `caller` is the hooked function's return address (stack_capture.h).
uint64_t capture_stack_id(Ring* ring, const void* caller);
// Appends an already encoded record to the calling thread's ring.
bool push_raw_record(Ring* ring, const uint8_t* bytes, size_t length);

void record_alloc(uint16_t function, const void* address, size_t size, const void* caller);
void record_mmap(const void* address, size_t length, int prot, int flags, const void* caller);

// The calling thread's ring for counting, claiming one the first time (out of line).
Ring* counting_ring_slow();
inline Ring* counting_ring() {
  Ring* ring = thread_state().ring;
  return ring != nullptr ? ring : counting_ring_slow();
}
// The malloc family's exact totals (thread_ring.h), for calls recorded or not. Inline: every
// malloc-family call counts.
inline void count_allocation(size_t size) {
  if (Ring* ring = counting_ring()) ring->count_allocation(size);
}
inline void count_release() {
  if (Ring* ring = counting_ring()) ring->count_release();
}

// An event that releases memory and whose real call runs inside it (see the rule above).
class ReleaseEvent {
 public:
  // Stamps the time; `capture_stack` also captures the caller's stack for a paired acquisition
  // (`caller`: the hooked function's return address).
  explicit ReleaseEvent(bool capture_stack, const void* caller = nullptr);
  ~ReleaseEvent();
  ReleaseEvent(const ReleaseEvent&) = delete;
  ReleaseEvent& operator=(const ReleaseEvent&) = delete;

  void free_done(uint16_t function, const void* address);
  void munmap_done(uint16_t function, const void* address, size_t length);
  // For realloc/mremap: the acquisition half, stamped now.
  void alloc_done(uint16_t function, const void* address, size_t size);
  void mmap_done(uint16_t function, const void* address, size_t length, int prot, int flags);

 private:
  Ring* ring_ = nullptr;
  uint64_t time_ns_ = 0;
  uint64_t stack_id_ = 0;
};

}  // namespace dprof::recorder
