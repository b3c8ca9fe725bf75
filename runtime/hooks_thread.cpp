// pthread_create: each new program thread first records its stack (thread_stacks.h), then runs
// the program's start routine. The runtime's own threads are created inside the runtime and pass
// straight through.
#include <pthread.h>

#include "internal_alloc.h"
#include "real_functions.h"
#include "thread_stacks.h"
#include "thread_state.h"

namespace {

struct ThreadStart {
  void* (*routine)(void*);
  void* argument;
};

void* start_thread(void* context) {
  ThreadStart start = *static_cast<ThreadStart*>(context);
  {
    dprof::RuntimeScope scope;
    dprof::internal_alloc::release(context);
  }
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
  *start = ThreadStart{routine, argument};
  int result = real_create(thread, attributes, start_thread, start);
  if (result != 0) {
    dprof::RuntimeScope scope;
    dprof::internal_alloc::release(start);
  }
  return result;
}
