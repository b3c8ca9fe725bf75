// Poisson sampling of allocations by bytes (as tcmalloc and heapprofd do): the bytes the program
// allocates form one stream per thread, sample points fall on it at exponentially distributed
// distances of mean `rate` bytes, and an allocation is sampled when at least one point falls inside
// it, that is with probability 1 - exp(-size / rate), independently of every other allocation.
// The analyzer weighs each sampled allocation by the inverse of that probability, which makes the
// per-stack estimates unbiased (analyzer/heap_model.cpp). The rate 0 means exact: every allocation.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "thread_state.h"

namespace dprof::allocation_sampler {

extern uint64_t g_rate_bytes;

// Reads DAMON_PROF_SAMPLE_RATE once, at start-up.
void configure_from_environment();
inline uint64_t rate_bytes() {
  return g_rate_bytes;
}
inline bool sampling() {
  return g_rate_bytes != 0;
}

bool take_slow(ThreadState& state, size_t size);

// Whether the allocation of `size` bytes the calling thread just made is sampled. One compare and
// one subtraction for the allocations that are not.
inline bool take(size_t size) {
  if (g_rate_bytes == 0) return true;
  ThreadState& state = thread_state();
  if (state.bytes_until_sample > size) {
    state.bytes_until_sample -= size;
    return false;
  }
  return take_slow(state, size);
}

}  // namespace dprof::allocation_sampler
