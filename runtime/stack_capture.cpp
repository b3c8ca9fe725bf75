#include "stack_capture.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "c_library_code.h"
#include "thread_state.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

namespace dprof {
namespace {

bool g_frame_pointers = false;

// The calling thread's stack, asked once per thread (pthread_getattr_np allocates, which goes to
// the internal allocator: capture runs inside the runtime). An empty range when it cannot be had,
// which sends every capture to libunwind.
void stack_bounds(ThreadState& state, uint64_t* low, uint64_t* high) {
  if (state.stack_high == 0) {
    pthread_attr_t attributes;
    void* base = nullptr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attributes) == 0) {
      if (pthread_attr_getstack(&attributes, &base, &size) != 0) size = 0;
      pthread_attr_destroy(&attributes);
    }
    state.stack_low = size == 0 ? 1 : reinterpret_cast<uint64_t>(base);
    state.stack_high = size == 0 ? 1 : reinterpret_cast<uint64_t>(base) + size;
  }
  *low = state.stack_low;
  *high = state.stack_high;
}

// x86-64 and AArch64 frame records alike: [fp] = the caller's fp, [fp + 8] = the return address.
// Every fp is checked to lie inside the thread's stack and to grow towards its base, so a register
// that holds something else ends the walk instead of faulting or looping.
__attribute__((noinline)) int walk_frame_pointers(void** frames, int capacity, uint64_t low,
                                                  uint64_t high) {
  auto fp = reinterpret_cast<uint64_t>(__builtin_frame_address(0));
  int count = 0;
  while (count < capacity) {
    if (fp < low || fp > high - 16 || (fp & 7) != 0) break;
    const auto* record = reinterpret_cast<const uint64_t*>(fp);
    uint64_t next = record[0];
    uint64_t return_address = record[1];
    if (return_address == 0) break;
    frames[count++] = reinterpret_cast<void*>(return_address);
    if (next <= fp) break;
    fp = next;
  }
  return count;
}

}  // namespace

void configure_stack_capture_from_environment() {
  const char* mode = getenv("DAMON_PROF_UNWIND");
  g_frame_pointers = mode != nullptr && strcmp(mode, "fp") == 0;
  if (g_frame_pointers) c_library_code::locate();
  // libunwind's default cache of unwind rules is one for the process behind a mutex: threads
  // unwinding at once queue on it, and one preempted while holding it stalls the others for a
  // whole time slice (measured: a quarter of the unwinds of an 8-thread program waited in
  // futex). A cache per thread takes no lock.
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

bool frame_pointer_unwinding() {
  return g_frame_pointers;
}

int capture_stack(void** frames, int capacity, const void* caller) {
  if (g_frame_pointers && !c_library_code::contains(caller)) {
    uint64_t low = 0;
    uint64_t high = 0;
    stack_bounds(thread_state(), &low, &high);
    auto here = reinterpret_cast<uint64_t>(__builtin_frame_address(0));
    if (here >= low && here < high) return walk_frame_pointers(frames, capacity, low, high);
  }
  int count = unw_backtrace(frames, capacity);
  return count < 0 ? 0 : count;
}

}  // namespace dprof
