// Interns call stacks: each distinct stack gets a small id and is written to the trace once.
// Lock-free open addressing keyed by a 64-bit hash of the frames (collisions at that width are
// negligible for the stack counts real programs have).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace dprof::stack_table {

struct InternResult {
  uint64_t id;
  bool is_new;  // the caller must write the stack's definition to the trace
};

InternResult intern(void* const* frames, int frame_count);
// The table's memory (both 0 before first use), which the access monitor must not watch.
void memory_range(uint64_t* start, uint64_t* end);
// Drops every entry (after fork: the child's trace must define its stacks again).
void reset();

}  // namespace dprof::stack_table
