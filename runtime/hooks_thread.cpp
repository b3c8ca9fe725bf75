// pthread_create: each new program thread first records its stack (thread_stacks.h), then runs
// the program's start routine. The runtime's own threads are created inside the runtime and pass
// straight through.
#include <pthread.h>

#include "internal_alloc.h"
#include "kernel_handoff.h"
#include "monitor/page_guard.h"
#include "real_functions.h"
#include "thread_stacks.h"
#include "thread_state.h"

namespace {

struct ThreadStart {
  void* (*routine)(void*);
  void* argument;
  int program_blocks_segv;  // a new thread inherits its creator's signal mask
};

// A stack the program provides (pthread_attr_setstack) is often a heap block; the kernel writes
// there at any time (signal frames, the thread's rseq and robust-list areas): never sampled.
void pin_program_stack(const pthread_attr_t* attributes) {
  if (attributes == nullptr || !dprof::page_guard::enabled()) return;
  void* base = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(attributes, &base, &size) != 0) return;
  // No stack given (base + size wraps to 0, or no size): the C library maps one.
  if (reinterpret_cast<uint64_t>(base) + size == 0 || size == 0) return;
  dprof::pin_for_good(base, size);
}

void* start_thread(void* context) {
  ThreadStart start = *static_cast<ThreadStart*>(context);
  {
    dprof::RuntimeScope scope;
    dprof::internal_alloc::release(context);
  }
  dprof::thread_state().program_blocks_segv = start.program_blocks_segv;
  dprof::thread_stacks::record_current_thread();
  return start.routine(start.argument);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int pthread_create(
    pthread_t* thread, const pthread_attr_t* attributes, void* (*routine)(void*), void* argument) {
  auto real_create = dprof::real().pthread_create;
  if (dprof::thread_state().in_runtime != 0)
    return real_create(thread, attributes, routine, argument);
  ThreadStart* start;
  {
    dprof::RuntimeScope scope;
    start = static_cast<ThreadStart*>(dprof::internal_alloc::allocate(sizeof(ThreadStart)));
  }
  if (start == nullptr) return real_create(thread, attributes, routine, argument);
  *start = ThreadStart{routine, argument, dprof::thread_state().program_blocks_segv};
  pin_program_stack(attributes);
  dprof::KernelHandoff handoff;  // the attributes are read with every signal blocked
  handoff.object(attributes);
  int result = real_create(thread, attributes, start_thread, start);
  if (result != 0) {
    dprof::RuntimeScope scope;
    dprof::internal_alloc::release(start);
  }
  return result;
}
