// Which memory the monitor watches: the process's private anonymous writable mappings (heap,
// arenas, large malloc blocks, the program's own anonymous mmaps), without thread stacks and
// without the runtime's own memory.
#pragma once

#include <stddef.h>

#include "region.h"

namespace dprof::monitor {

// Parses /proc/<pid>/maps text. Writes the target ranges, sorted and with adjacent ranges joined,
// to `out` (at most `capacity`) and returns how many there are. `excluded` (sorted or not) is cut
// out of them. A writable anonymous mapping that sits right above a small inaccessible one is a
// thread stack with its guard page and is left out, as is the main stack.
// `sampled` (if given) tells whether an inaccessible anonymous mapping is read sampling's own
// protection of the program's memory: such a mapping is a target like its neighbours, and no
// guard page (sampled pages stay protected from one interval to the next, so they are in the
// maps the monitor reads).
using SampledPagesTest = bool (*)(uint64_t start, uint64_t end);
size_t parse_maps_targets(const char* text, size_t length, const AddressRange* excluded,
                          size_t excluded_count, AddressRange* out, size_t capacity,
                          SampledPagesTest sampled = nullptr);

// Reads /proc/self/maps (into internal memory) and applies parse_maps_targets. Returns the
// number of ranges, or 0 when nothing can be read. `async_io` (if given) tells whether the maps
// show io_uring or AIO rings: the kernel then touches buffers at any time.
size_t discover_targets(const AddressRange* excluded, size_t excluded_count, AddressRange* out,
                        size_t capacity, bool* async_io = nullptr,
                        SampledPagesTest sampled = nullptr);
bool maps_show_async_io(const char* text, size_t length);

// The largest guard below a thread stack that the heuristic accepts.
constexpr unsigned long kMaxThreadStackGuard = 64ul * 1024;

}  // namespace dprof::monitor
