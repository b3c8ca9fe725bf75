// Memory read sampling must leave alone for good (pinned), calls during which nothing may be
// protected (paused), and calls after which read sampling stops.
//  - The program's own mprotect() on its memory: its protection is its own from then on.
//  - A signal stack, a makecontext() stack: the kernel writes signal frames there at any time.
//  - posix_spawn(), system(), popen(): the child runs on the parent's memory with every signal
//    blocked, where a sampled page would kill it.
//  - POSIX AIO: the C library's helper threads read and write the buffers at any time.
#include <aio.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "kernel_handoff.h"

using dprof::KernelHandoff;

namespace {

void pin(const void* data, size_t length) {
  if (!dprof::page_guard::enabled() || data == nullptr || length == 0) return;
  uint64_t start = reinterpret_cast<uint64_t>(data);
  dprof::page_guard::pin(start, start + length);
}

void stop_read_sampling_for_aio() {
  if (!dprof::page_guard::enabled()) return;
  dprof::page_guard::set_disabled_reason(
      "read sampling stopped: the program uses asynchronous I/O (io_uring or AIO)");
  dprof::page_guard::disable();
}

}  // namespace

DPROF_EXPORT int mprotect(void* address, size_t length, int protection) {
  if (dprof::thread_state().in_runtime == 0) pin(address, length);
  auto next = DPROF_NEXT(mprotect);
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return next(address, length, protection);
}

DPROF_EXPORT int pkey_mprotect(void* address, size_t length, int protection, int key) {
  if (dprof::thread_state().in_runtime == 0) pin(address, length);
  auto next = DPROF_NEXT(pkey_mprotect);
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return next(address, length, protection, key);
}

DPROF_EXPORT int sigaltstack(const stack_t* stack, stack_t* previous) {
  KernelHandoff handoff;
  handoff.object(stack);
  handoff.object(previous);
  if (stack != nullptr && (stack->ss_flags & SS_DISABLE) == 0) pin(stack->ss_sp, stack->ss_size);
  auto next = DPROF_NEXT(sigaltstack);
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return next(stack, previous);
}

DPROF_EXPORT void makecontext(ucontext_t* context, void (*function)(), int count, ...) {
  // Up to six integer arguments are what makecontext passes on x86-64 in registers; programs
  // rarely use more, and the C library reads only `count` of them.
  va_list arguments;
  va_start(arguments, count);
  long values[6] = {};
  for (int i = 0; i < count && i < 6; ++i) values[i] = va_arg(arguments, long);
  va_end(arguments);
  if (context != nullptr) pin(context->uc_stack.ss_sp, context->uc_stack.ss_size);
  auto next = DPROF_NEXT(makecontext);
  if (next == nullptr) return;
  next(context, function, count, values[0], values[1], values[2], values[3], values[4], values[5]);
}

DPROF_EXPORT int posix_spawn(pid_t* pid, const char* path,
                             const posix_spawn_file_actions_t* actions,
                             const posix_spawnattr_t* attributes, char* const argv[],
                             char* const envp[]) {
  KernelHandoff handoff;
  handoff.pause();
  auto next = DPROF_NEXT(posix_spawn);
  if (next == nullptr) return ENOSYS;
  return next(pid, path, actions, attributes, argv, envp);
}

DPROF_EXPORT int posix_spawnp(pid_t* pid, const char* file,
                              const posix_spawn_file_actions_t* actions,
                              const posix_spawnattr_t* attributes, char* const argv[],
                              char* const envp[]) {
  KernelHandoff handoff;
  handoff.pause();
  auto next = DPROF_NEXT(posix_spawnp);
  if (next == nullptr) return ENOSYS;
  return next(pid, file, actions, attributes, argv, envp);
}

DPROF_EXPORT int system(const char* command) {
  KernelHandoff handoff;
  handoff.pause();
  auto next = DPROF_NEXT(system);
  if (next == nullptr) return -1;
  return next(command);
}

DPROF_EXPORT FILE* popen(const char* command, const char* mode) {
  KernelHandoff handoff;
  handoff.pause();
  auto next = DPROF_NEXT(popen);
  if (next == nullptr) return nullptr;
  return next(command, mode);
}

DPROF_EXPORT int aio_read(struct aiocb* request) {
  stop_read_sampling_for_aio();
  auto next = DPROF_NEXT(aio_read);
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return next(request);
}

DPROF_EXPORT int aio_write(struct aiocb* request) {
  stop_read_sampling_for_aio();
  auto next = DPROF_NEXT(aio_write);
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return next(request);
}

DPROF_EXPORT int lio_listio(int mode, struct aiocb* const list[], int count,
                            struct sigevent* event) {
  stop_read_sampling_for_aio();
  auto next = DPROF_NEXT(lio_listio);
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return next(mode, list, count, event);
}
