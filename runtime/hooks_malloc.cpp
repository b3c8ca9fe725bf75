// Interposition of the malloc family. Each hook has three paths:
//  - the runtime itself is running on this thread: serve it from the internal allocator;
//  - not recording (trace closed, or could not be opened): forward untouched;
//  - recording: forward, then record (releases are stamped before the real release; see
//    event_recorder.h). With allocation sampling (allocation_sampler.h) only sampled blocks
//    become events, and only their releases; every call still counts in the exact totals.
// C++ operator new/delete are not interposed: libstdc++ implements every form of them on top of
// malloc/aligned_alloc/free, so they arrive here with the operator in the stack.
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#include "allocation_sampler.h"
#include "c_library_code.h"
#include "damon_prof/trace_format.h"
#include "event_recorder.h"
#include "internal_alloc.h"
#include "monitor/large_blocks.h"
#include "monitor/page_guard.h"
#include "real_functions.h"
#include "runtime_state.h"
#include "sampled_blocks.h"
#include "thread_state.h"

using dprof::real;
using dprof::thread_state;
namespace internal_alloc = dprof::internal_alloc;
namespace recorder = dprof::recorder;
namespace allocation_sampler = dprof::allocation_sampler;
namespace sampled_blocks = dprof::sampled_blocks;

namespace {

inline bool inside_runtime() {
  return thread_state().in_runtime != 0;
}

// Forward without recording: the runtime is off, or this call is made by the real allocator
// inside a call already being recorded.
inline bool forward_only() {
  return thread_state().in_real_call != 0 || !dprof::recording_active();
}

// Read sampling (monitor/page_guard.h) counts every live block on each page it touches, small
// ones included: a page may be sampled while all its blocks are the program's. Blocks the C
// library or the dynamic linker allocate for their own use, or that are allocated while a
// wrapped call hands memory to the kernel, make their pages SHARED (never sampled).
// A block counts over its usable extent, which its release can ask for again (the size asked
// for cannot be known then).
__attribute__((noinline)) void count_block(const void* block, const void* caller) {
  bool shared = thread_state().in_kernel_call != 0 || dprof::c_library_code::contains(caller);
  auto start = reinterpret_cast<uint64_t>(block);
  uint64_t end = start + real().malloc_usable_size(const_cast<void*>(block));
  dprof::page_guard::add_block(start, end, shared);
  // The monitor's regions follow large blocks (monitor/large_blocks.h).
  if (end - start >= dprof::large_blocks::kLargeBlockBytes) dprof::large_blocks::add(start, end);
}
inline void count_block_if_sampling(const void* block, const void* caller) {
  if (dprof::page_guard::enabled()) count_block(block, caller);
}

// Out of line, like every call the common paths do not make: the hooks' common paths then need
// few registers, and their frames stay small (free's own instructions fell by 29%, callgrind).
__attribute__((noinline)) void uncount_block(void* block) {
  auto start = reinterpret_cast<uint64_t>(block);
  uint64_t end = start + real().malloc_usable_size(block);
  dprof::page_guard::remove_block(start, end);
  if (end - start >= dprof::large_blocks::kLargeBlockBytes) dprof::large_blocks::remove(start);
}

// A realloc failed: the block lives on and is counted again. Whether the C library made it is
// not known here, so its pages become SHARED: never sampled wrongly.
__attribute__((noinline)) void count_block_after_failed_resize(void* block) {
  if (!dprof::page_guard::enabled()) return;
  auto start = reinterpret_cast<uint64_t>(block);
  dprof::page_guard::add_block(start, start + real().malloc_usable_size(block), /*shared=*/true);
}

// Before the block goes back to the allocator: a page left with no block stops being a
// candidate (and one being sampled right now is made accessible again) before the allocator
// may trim it.
inline void uncount_block_if_sampling(void* block) {
  if (dprof::page_guard::enabled() && block != nullptr) uncount_block(block);
}

__attribute__((noinline)) void record_allocation(uint16_t function, void* block, size_t size,
                                                 const void* caller) {
  // Remembered before the program can see the block, so its free always finds it.
  if (allocation_sampler::sampling()) sampled_blocks::insert(reinterpret_cast<uint64_t>(block));
  recorder::record_alloc(function, block, size, caller);
}

// After the real allocator returned `block`: the exact totals always, the event (with its stack)
// when allocation sampling takes it (always in exact mode).
// Inline into every hook: for an allocation sampling does not take it is a few instructions.
__attribute__((always_inline)) inline void note_allocation(uint16_t function, void* block,
                                                           size_t size, const void* caller) {
  recorder::count_allocation(size);
  if (allocation_sampler::take(size)) record_allocation(function, block, size, caller);
  count_block_if_sampling(block, caller);
}

// Whether the release of `block` is an event: always in exact mode, else when it was sampled
// (which forgets it: call once, before the real release).
inline bool release_is_recorded(void* block) {
  return !allocation_sampler::sampling() ||
         sampled_blocks::remove(reinterpret_cast<uint64_t>(block));
}

template <typename Allocate>
void* allocate_and_record(uint16_t function, size_t size, const void* caller, Allocate&& allocate) {
  if (forward_only()) return allocate();
  void* block;
  {
    dprof::RealCallScope real_call;
    block = allocate();
  }
  if (block != nullptr) note_allocation(function, block, size, caller);
  return block;
}

// Shared by realloc and reallocarray: `resize` calls the real function. With allocation sampling
// the old block's release and the new block's allocation are each an event or not on their own.
template <typename Resize>
void* resize_and_record(uint16_t function, void* block, size_t size, const void* caller,
                        Resize&& resize) {
  if (forward_only()) return resize();
  if (block == nullptr) return allocate_and_record(function, size, caller, resize);
  // Uncounted before the real call, which may free it (a failure counts it again below).
  uncount_block_if_sampling(block);
  bool old_recorded = release_is_recorded(block);
  bool new_recorded = allocation_sampler::take(size);
  if (!old_recorded && !new_recorded) {
    void* resized;
    {
      dprof::RealCallScope real_call;
      resized = resize();
    }
    if (resized != nullptr || size == 0) recorder::count_release();
    if (resized != nullptr) {
      recorder::count_allocation(size);
      count_block_if_sampling(resized, caller);
    } else if (size != 0) {
      count_block_after_failed_resize(block);
    }
    return resized;
  }
  recorder::ReleaseEvent event(/*capture_stack=*/new_recorded, caller);
  void* resized;
  {
    dprof::RealCallScope real_call;
    resized = resize();
  }
  if (resized != nullptr) {
    recorder::count_release();
    recorder::count_allocation(size);
    if (old_recorded) event.free_done(function, block);
    if (new_recorded) {
      if (allocation_sampler::sampling()) {
        sampled_blocks::insert(reinterpret_cast<uint64_t>(resized));
      }
      event.alloc_done(function, resized, size);
    }
    count_block_if_sampling(resized, caller);
  } else if (size == 0) {
    recorder::count_release();
    if (old_recorded) event.free_done(function, block);  // glibc: realloc(p, 0) frees p
  } else {
    count_block_after_failed_resize(block);
    if (old_recorded && allocation_sampler::sampling()) {
      sampled_blocks::insert(reinterpret_cast<uint64_t>(block));
    }
  }
  return resized;
}

// free's event, out of line (see uncount_block).
__attribute__((noinline)) void free_and_record(void* block) {
  recorder::ReleaseEvent event(/*capture_stack=*/false);
  {
    dprof::RealCallScope real_call;
    real().free(block);
  }
  event.free_done(DPROF_FN_FREE, block);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* malloc(size_t size) {
  if (inside_runtime()) return internal_alloc::allocate(size);
  return allocate_and_record(DPROF_FN_MALLOC, size, __builtin_return_address(0),
                             [&] { return real().malloc(size); });
}

__attribute__((visibility("default"))) void free(void* block) {
  if (block == nullptr) return;
  if (internal_alloc::owns(block)) {
    internal_alloc::release(block);
    return;
  }
  if (inside_runtime()) {
    real().free(block);
    return;
  }
  uncount_block_if_sampling(block);
  if (forward_only()) {
    real().free(block);
    return;
  }
  recorder::count_release();
  if (!release_is_recorded(block)) {
    real().free(block);  // the cheap path: a block allocation sampling did not take
    return;
  }
  free_and_record(block);
}

__attribute__((visibility("default"))) void* calloc(size_t count, size_t size) {
  if (inside_runtime()) return internal_alloc::allocate_zeroed(count, size);
  size_t total = 0;
  if (__builtin_mul_overflow(count, size, &total)) total = SIZE_MAX;
  return allocate_and_record(DPROF_FN_CALLOC, total, __builtin_return_address(0),
                             [&] { return real().calloc(count, size); });
}

__attribute__((visibility("default"))) void* realloc(void* block, size_t size) {
  if (block != nullptr && internal_alloc::owns(block)) {
    return internal_alloc::reallocate(block, size);
  }
  if (inside_runtime()) {
    return block == nullptr ? internal_alloc::allocate(size) : real().realloc(block, size);
  }
  return resize_and_record(DPROF_FN_REALLOC, block, size, __builtin_return_address(0),
                           [&] { return real().realloc(block, size); });
}

__attribute__((visibility("default"))) void* reallocarray(void* block, size_t count, size_t size) {
  size_t total = 0;
  bool overflow = __builtin_mul_overflow(count, size, &total);
  if (block != nullptr && internal_alloc::owns(block)) {
    if (overflow) {
      errno = ENOMEM;
      return nullptr;
    }
    return internal_alloc::reallocate(block, total);
  }
  if (inside_runtime()) {
    if (block != nullptr) return real().reallocarray(block, count, size);
    if (overflow) {
      errno = ENOMEM;
      return nullptr;
    }
    return internal_alloc::allocate(total);
  }
  if (overflow) total = SIZE_MAX;
  return resize_and_record(DPROF_FN_REALLOCARRAY, block, total, __builtin_return_address(0),
                           [&] { return real().reallocarray(block, count, size); });
}

__attribute__((visibility("default"))) void* memalign(size_t alignment, size_t size) {
  if (inside_runtime()) return internal_alloc::allocate(size, alignment);
  return allocate_and_record(DPROF_FN_MEMALIGN, size, __builtin_return_address(0),
                             [&] { return real().memalign(alignment, size); });
}

__attribute__((visibility("default"))) void* aligned_alloc(size_t alignment, size_t size) {
  if (inside_runtime()) return internal_alloc::allocate(size, alignment);
  return allocate_and_record(DPROF_FN_ALIGNED_ALLOC, size, __builtin_return_address(0),
                             [&] { return real().aligned_alloc(alignment, size); });
}

__attribute__((visibility("default"))) int posix_memalign(void** out, size_t alignment,
                                                          size_t size) {
  if (inside_runtime()) {
    *out = internal_alloc::allocate(size, alignment);
    return *out == nullptr ? ENOMEM : 0;
  }
  if (forward_only()) return real().posix_memalign(out, alignment, size);
  int result;
  {
    dprof::RealCallScope real_call;
    result = real().posix_memalign(out, alignment, size);
  }
  if (result == 0 && *out != nullptr) {
    note_allocation(DPROF_FN_POSIX_MEMALIGN, *out, size, __builtin_return_address(0));
  }
  return result;
}

__attribute__((visibility("default"))) void* valloc(size_t size) {
  if (inside_runtime()) return internal_alloc::allocate(size, 4096);
  return allocate_and_record(DPROF_FN_VALLOC, size, __builtin_return_address(0),
                             [&] { return real().valloc(size); });
}

__attribute__((visibility("default"))) void* pvalloc(size_t size) {
  if (inside_runtime()) return internal_alloc::allocate(size, 4096);
  return allocate_and_record(DPROF_FN_PVALLOC, size, __builtin_return_address(0),
                             [&] { return real().pvalloc(size); });
}

__attribute__((visibility("default"))) size_t malloc_usable_size(void* block) {
  if (block != nullptr && internal_alloc::owns(block)) return internal_alloc::usable_size(block);
  return real().malloc_usable_size(block);
}

}  // extern "C"
