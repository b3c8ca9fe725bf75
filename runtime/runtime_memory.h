// The runtime's own memory, as the program's RSS sees it: the resident pages of its allocator's
// used range, the per-thread rings, the stack table and the page-guard tables, and the memory
// libraries mapped for it on the threads alive (libunwind's per-thread trace cache). Written with
// every memory sample, so a trace shows what profiling cost in memory (docs/design-notes.md gives
// the bound). The two runtime threads' stacks (a few pages each) are not counted.
#pragma once

#include <stdint.h>

namespace dprof::runtime_memory {

// Resident bytes; a few mincore() calls per range (the writer thread calls it).
uint64_t resident_bytes();

}  // namespace dprof::runtime_memory
