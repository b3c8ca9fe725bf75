// The runtime's own allocator. Everything the runtime (and the libraries it calls: libunwind, zstd,
// the dynamic linker on its behalf) allocates comes from here, never from the program's malloc, so
// that profiling does not change the program's heap and cannot recurse into the hooks.
//
// All of its memory lies in one reserved address range, so `owns()` tells in two comparisons
// whether a pointer handed to free()/realloc() is ours.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <atomic>

namespace dprof::internal_alloc {

void* allocate(size_t size, size_t alignment = 16);
void* allocate_zeroed(size_t count, size_t size);
void* reallocate(void* block, size_t size);
void release(void* block);
size_t usable_size(const void* block);

namespace detail {
extern std::atomic<char*> g_base;  // the reserved range's start, once reserved
}  // namespace detail
constexpr size_t kReservedBytes = size_t{16} << 30;
// Inline: every free asks.
inline bool owns(const void* block) {
  const char* base = detail::g_base.load(std::memory_order_relaxed);
  const char* pointer = static_cast<const char*>(block);
  return base != nullptr && pointer >= base && pointer < base + kReservedBytes;
}
// The reserved range all internal memory lies in (both 0 before first use).
void reserved_range(uint64_t* start, uint64_t* end);
// The part of it ever handed out (pages beyond it were never touched).
void used_range(uint64_t* start, uint64_t* end);
// Bytes currently handed out (for the trace's account of the runtime's own memory).
size_t bytes_in_use();

// Fork handling: hold every lock across fork() so the child never inherits one held.
void lock_all_for_fork();
void unlock_all_after_fork(bool in_child);

}  // namespace dprof::internal_alloc
