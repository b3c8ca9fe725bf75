// C++ operator new, every form, forwarded to the C++ library's own (which allocates through the
// malloc hooks, so nothing is recorded here). Why forward at all: libstdc++ is built without frame
// pointers, so in frame-pointer unwinding mode (stack_capture.h) the chain from malloc would skip
// the function that called `new` — the one that matters. This file is built without sibling calls,
// so each wrapper keeps a frame record whose return address is that function. The analyzer drops
// the runtime's frames, so the wrappers never show in a report, whatever the unwinding mode.
//
// A program that defines its own operator new keeps it: the executable comes before the preloaded
// runtime in symbol lookup.
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

#include <atomic>

#include "thread_state.h"

namespace {

// Every `new` pays for these wrappers: what they do besides keeping a frame is one load and an
// indirect call (the helpers below are inlined into each wrapper; only dlsym is out of line).
#define DPROF_INLINE inline __attribute__((always_inline))

// Resolves the next definition of `name` after the runtime's, once: the C++ library's. Out of
// line, as it runs once per form.
__attribute__((noinline, cold)) void* resolve_next_definition(std::atomic<void*>& slot,
                                                              const char* name) {
  void* function = nullptr;
  {
    dprof::RuntimeScope scope;  // dlsym may allocate
    function = dlsym(RTLD_NEXT, name);
  }
  slot.store(function, std::memory_order_release);
  return function;
}

// The next definition of `name` after the runtime's: the C++ library's, resolved on first use (a
// program may load the C++ library only later, with dlopen).
DPROF_INLINE void* next_definition(std::atomic<void*>& slot, const char* name) {
  void* function = slot.load(std::memory_order_acquire);
  if (__builtin_expect(function != nullptr, 1)) return function;
  return resolve_next_definition(slot, name);
}

using NewFunction = void* (*)(size_t);
using NothrowNewFunction = void* (*)(size_t, const void*);
using AlignedNewFunction = void* (*)(size_t, size_t);
using AlignedNothrowNewFunction = void* (*)(size_t, size_t, const void*);

std::atomic<void*> g_new{nullptr};
std::atomic<void*> g_new_array{nullptr};
std::atomic<void*> g_new_nothrow{nullptr};
std::atomic<void*> g_new_array_nothrow{nullptr};
std::atomic<void*> g_new_aligned{nullptr};
std::atomic<void*> g_new_array_aligned{nullptr};
std::atomic<void*> g_new_aligned_nothrow{nullptr};
std::atomic<void*> g_new_array_aligned_nothrow{nullptr};

// Only reachable if the program calls operator new without any C++ library loaded, which cannot
// link: allocate through the malloc hook rather than crash.
DPROF_INLINE void* forward(std::atomic<void*>& slot, const char* name, size_t size) {
  auto function = reinterpret_cast<NewFunction>(next_definition(slot, name));
  return function != nullptr ? function(size) : malloc(size);
}

DPROF_INLINE void* forward_nothrow(std::atomic<void*>& slot, const char* name, size_t size,
                                   const void* nothrow) {
  auto function = reinterpret_cast<NothrowNewFunction>(next_definition(slot, name));
  return function != nullptr ? function(size, nothrow) : malloc(size);
}

DPROF_INLINE void* forward_aligned(std::atomic<void*>& slot, const char* name, size_t size,
                                   size_t alignment) {
  auto function = reinterpret_cast<AlignedNewFunction>(next_definition(slot, name));
  return function != nullptr ? function(size, alignment) : aligned_alloc(alignment, size);
}

DPROF_INLINE void* forward_aligned_nothrow(std::atomic<void*>& slot, const char* name, size_t size,
                                           size_t alignment, const void* nothrow) {
  auto function = reinterpret_cast<AlignedNothrowNewFunction>(next_definition(slot, name));
  return function != nullptr ? function(size, alignment, nothrow) : aligned_alloc(alignment, size);
}

}  // namespace

// The Itanium C++ ABI names: new(size_t), new[](size_t), the nothrow_t forms, the align_val_t
// forms (align_val_t is a size_t) and both.
#define DPROF_EXPORT extern "C" __attribute__((visibility("default"), noinline))

DPROF_EXPORT void* dprof_new(size_t) __asm__("_Znwm");
DPROF_EXPORT void* dprof_new_array(size_t) __asm__("_Znam");
DPROF_EXPORT void* dprof_new_nothrow(size_t, const void*) __asm__("_ZnwmRKSt9nothrow_t");
DPROF_EXPORT void* dprof_new_array_nothrow(size_t, const void*) __asm__("_ZnamRKSt9nothrow_t");
DPROF_EXPORT void* dprof_new_aligned(size_t, size_t) __asm__("_ZnwmSt11align_val_t");
DPROF_EXPORT void* dprof_new_array_aligned(size_t, size_t) __asm__("_ZnamSt11align_val_t");
DPROF_EXPORT void* dprof_new_aligned_nothrow(size_t, size_t, const void*) __asm__(
    "_ZnwmSt11align_val_tRKSt9nothrow_t");
DPROF_EXPORT void* dprof_new_array_aligned_nothrow(size_t, size_t, const void*) __asm__(
    "_ZnamSt11align_val_tRKSt9nothrow_t");

void* dprof_new(size_t size) {
  return forward(g_new, "_Znwm", size);
}
void* dprof_new_array(size_t size) {
  return forward(g_new_array, "_Znam", size);
}
void* dprof_new_nothrow(size_t size, const void* nothrow) {
  return forward_nothrow(g_new_nothrow, "_ZnwmRKSt9nothrow_t", size, nothrow);
}
void* dprof_new_array_nothrow(size_t size, const void* nothrow) {
  return forward_nothrow(g_new_array_nothrow, "_ZnamRKSt9nothrow_t", size, nothrow);
}
void* dprof_new_aligned(size_t size, size_t alignment) {
  return forward_aligned(g_new_aligned, "_ZnwmSt11align_val_t", size, alignment);
}
void* dprof_new_array_aligned(size_t size, size_t alignment) {
  return forward_aligned(g_new_array_aligned, "_ZnamSt11align_val_t", size, alignment);
}
void* dprof_new_aligned_nothrow(size_t size, size_t alignment, const void* nothrow) {
  return forward_aligned_nothrow(g_new_aligned_nothrow, "_ZnwmSt11align_val_tRKSt9nothrow_t", size,
                                 alignment, nothrow);
}
void* dprof_new_array_aligned_nothrow(size_t size, size_t alignment, const void* nothrow) {
  return forward_aligned_nothrow(g_new_array_aligned_nothrow, "_ZnamSt11align_val_tRKSt9nothrow_t",
                                 size, alignment, nothrow);
}
