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

#include "child_processes.h"
#include "damon_prof/trace_format.h"
#include "kernel_handoff.h"

using dprof::KernelHandoff;

namespace {

void stop_read_sampling_for_aio() {
  if (dprof::page_guard::enabled()) dprof::page_guard::disable(dprof::page_guard::kAsyncIoReason);
}

// posix_spawn's child is a new process: it gets the runtime through its environment, and the
// parent's trace notes it.
template <typename Spawn>
int spawn_child(Spawn next, pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                const posix_spawnattr_t* attributes, char* const argv[], char* const envp[]) {
  if (next == nullptr) return ENOSYS;
  dprof::child_processes::ExecEnvironment environment(envp, /*replaces_traced_image=*/false);
  pid_t child = 0;
  int result;
  {
    KernelHandoff handoff;
    handoff.pause();
    result = next(&child, path, actions, attributes, argv, environment.get());
  }
  if (result == 0) {
    if (pid != nullptr) *pid = child;
    int saved_errno = errno;
    dprof::child_processes::record_child(static_cast<uint64_t>(child), DPROF_CHILD_SPAWN);
    errno = saved_errno;
  }
  return result;
}

}  // namespace

DPROF_EXPORT int mprotect(void* address, size_t length, int protection) {
  if (dprof::thread_state().in_runtime == 0) dprof::pin_for_good(address, length);
  DPROF_FORWARD(-1, mprotect, address, length, protection);
}

DPROF_EXPORT int pkey_mprotect(void* address, size_t length, int protection, int key) {
  if (dprof::thread_state().in_runtime == 0) dprof::pin_for_good(address, length);
  DPROF_FORWARD(-1, pkey_mprotect, address, length, protection, key);
}

DPROF_EXPORT int sigaltstack(const stack_t* stack, stack_t* previous) {
  KernelHandoff handoff;
  handoff.object(stack);
  handoff.object(previous);
  if (stack != nullptr && (stack->ss_flags & SS_DISABLE) == 0)
    dprof::pin_for_good(stack->ss_sp, stack->ss_size);
  DPROF_FORWARD(-1, sigaltstack, stack, previous);
}

DPROF_EXPORT void makecontext(ucontext_t* context, void (*function)(), int count, ...) {
  // Up to six integer arguments are what makecontext passes on x86-64 in registers; programs
  // rarely use more, and the C library reads only `count` of them.
  va_list arguments;
  va_start(arguments, count);
  long values[6] = {};
  for (int i = 0; i < count && i < 6; ++i) values[i] = va_arg(arguments, long);
  va_end(arguments);
  if (context != nullptr) dprof::pin_for_good(context->uc_stack.ss_sp, context->uc_stack.ss_size);
  auto next = DPROF_NEXT(makecontext);
  if (next == nullptr) return;
  next(context, function, count, values[0], values[1], values[2], values[3], values[4], values[5]);
}

DPROF_EXPORT int posix_spawn(pid_t* pid, const char* path,
                             const posix_spawn_file_actions_t* actions,
                             const posix_spawnattr_t* attributes, char* const argv[],
                             char* const envp[]) {
  return spawn_child(DPROF_NEXT(posix_spawn), pid, path, actions, attributes, argv, envp);
}

DPROF_EXPORT int posix_spawnp(pid_t* pid, const char* file,
                              const posix_spawn_file_actions_t* actions,
                              const posix_spawnattr_t* attributes, char* const argv[],
                              char* const envp[]) {
  return spawn_child(DPROF_NEXT(posix_spawnp), pid, file, actions, attributes, argv, envp);
}

DPROF_EXPORT int system(const char* command) {
  // The shell's pid is not known; its trace names this process as its parent all the same.
  if (command != nullptr) dprof::child_processes::record_child(0, DPROF_CHILD_SHELL);
  KernelHandoff handoff;
  handoff.pause();
  DPROF_FORWARD(-1, system, command);
}

DPROF_EXPORT FILE* popen(const char* command, const char* mode) {
  auto next = DPROF_NEXT(popen);
  if (next == nullptr) {
    errno = ENOSYS;
    return nullptr;
  }
  FILE* stream;
  {
    KernelHandoff handoff;
    handoff.pause();
    stream = next(command, mode);
  }
  if (stream != nullptr) {
    int saved_errno = errno;
    dprof::child_processes::record_child(0, DPROF_CHILD_SHELL);
    errno = saved_errno;
  }
  return stream;
}

DPROF_EXPORT int aio_read(struct aiocb* request) {
  stop_read_sampling_for_aio();
  DPROF_FORWARD(-1, aio_read, request);
}

DPROF_EXPORT int aio_write(struct aiocb* request) {
  stop_read_sampling_for_aio();
  DPROF_FORWARD(-1, aio_write, request);
}

DPROF_EXPORT int lio_listio(int mode, struct aiocb* const list[], int count,
                            struct sigevent* event) {
  stop_read_sampling_for_aio();
  DPROF_FORWARD(-1, lio_listio, mode, list, count, event);
}
