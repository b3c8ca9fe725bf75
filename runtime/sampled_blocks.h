// The addresses of the live blocks that allocation sampling recorded, so that their frees are
// recorded too and every other free costs next to nothing. Lock-free: any thread inserts and
// removes; an address is only ever removed by the free of the block, which cannot race with the
// insertion of the same block (the program got the block after it was inserted).
//
// A one-byte counter per hash bucket in a small array answers "certainly not sampled" for nearly
// every free without touching the table itself.
#pragma once

#include <stdint.h>

namespace dprof::sampled_blocks {

// Remembers a sampled block. False when the table is full: the block is then recorded without its
// free (the trace counts such blocks; see lost_blocks()).
bool insert(uint64_t address);
// Forgets the block if it was sampled; true if it was.
bool remove(uint64_t address);
// Sampled blocks that could not be remembered.
uint64_t lost_blocks();
// The table's memory, which the access monitor must not watch (both 0 before first use).
void memory_range(uint64_t* start, uint64_t* end);

}  // namespace dprof::sampled_blocks
