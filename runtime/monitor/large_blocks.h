// The program's large blocks (malloc blocks and anonymous mappings of kLargeBlockBytes or more),
// for the monitor's regions to follow (monitor_core.h, "boundaries"): the kernel's DAMON knows
// nothing of allocations and lumps neighbouring buffers together until its random splits happen
// to separate them; the runtime knows where every block begins and ends.
//
// A fixed table written by the hooks (lock-free, async-signal-safe, no allocation) and read by the
// monitor thread. It is a hint: a block the table has no room for, or one unmapped in part, only
// loses its preference, never the program anything.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace dprof::large_blocks {

constexpr uint64_t kLargeBlockBytes = uint64_t{1} << 20;
// Blocks at least this large each get a region of their own (the tuner keeps regions enough).
constexpr uint64_t kSeparatedBlockBytes = uint64_t{16} << 20;
constexpr size_t kCapacity = 4096;

// A block of `end - start` bytes went live at `start` (ignored below kLargeBlockBytes).
void add(uint64_t start, uint64_t end);
// The block at `start` went away.
void remove(uint64_t start);

// The monitor's view: the page-aligned edges of the live large blocks, sorted and without
// repeats, into `out` (at most `capacity`); `separated` gets how many blocks are at least
// kSeparatedBlockBytes. Returns how many edges.
size_t edges(uint64_t* out, size_t capacity, size_t* separated);

// For tests and fork children: forget every block.
void clear();

}  // namespace dprof::large_blocks
