// Process-level events: the program's start (to learn main's exit status), exit paths, exec (the
// new image writes its own trace; this one ends with an "exec" end record), and dlclose (modules
// are described before they disappear). fork's own bookkeeping is in pthread_atfork handlers
// (lifecycle.cpp); the fork hook only notes the child's pid in the parent's trace. exec carries
// the runtime on to the new image (child_processes.h).
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child_processes.h"
#include "damon_prof/trace_format.h"
#include "event_recorder.h"
#include "internal_alloc.h"
#include "kernel_handoff.h"
#include "module_map.h"
#include "monitor/page_guard.h"
#include "real_functions.h"
#include "runtime_state.h"
#include "sys.h"
#include "thread_ring.h"
#include "thread_state.h"

using dprof::real;

namespace {

int (*g_program_main)(int, char**, char**) = nullptr;

int main_wrapper(int argc, char** argv, char** envp) {
  int status = g_program_main(argc, argv, envp);
  dprof::note_exit_status(status);
  return status;
}

void push_to_own_ring(const uint8_t* bytes, size_t length) {
  dprof::Ring* ring = dprof::recorder::ring_for_this_thread();
  if (ring != nullptr) dprof::recorder::push_raw_record(ring, bytes, length);
}

// Collects the variadic arguments of execl/execlp/execle into an argv array (internal memory).
char** collect_arguments(const char* first, va_list* arguments, char*** envp_out) {
  va_list counting;
  va_copy(counting, *arguments);
  size_t count = 1;
  while (va_arg(counting, char*) != nullptr) ++count;
  va_end(counting);
  char** argv;
  {
    dprof::RuntimeScope scope;
    argv = static_cast<char**>(dprof::internal_alloc::allocate((count + 1) * sizeof(char*)));
  }
  if (argv == nullptr) return nullptr;
  argv[0] = const_cast<char*>(first);
  for (size_t i = 1; i <= count; ++i) argv[i] = va_arg(*arguments, char*);
  if (envp_out != nullptr) *envp_out = va_arg(*arguments, char**);
  return argv;
}

void release_arguments(char** argv) {
  dprof::RuntimeScope scope;
  dprof::internal_alloc::release(argv);
}

}  // namespace

namespace {

// The kernel reads the arguments and environment of exec: nothing may be protected meanwhile.
// A vfork child shares its parent's memory and cannot undo anything once exec succeeds, so it
// pins what exec reads instead of pausing (a pause would outlive it in the parent).
class ExecGuard {
 public:
  ExecGuard(char* const argv[], char* const envp[]) {
    if (!dprof::page_guard::enabled()) return;
    if (dprof::is_vfork_child()) {
      pin_strings(argv);
      pin_strings(envp);
      return;
    }
    dprof::page_guard::pause_begin();
    paused_ = true;
  }
  ~ExecGuard() {  // reached only when exec failed
    if (paused_) dprof::page_guard::pause_end();
  }
  ExecGuard(const ExecGuard&) = delete;
  ExecGuard& operator=(const ExecGuard&) = delete;

 private:
  static void pin_strings(char* const strings[]) {
    if (strings == nullptr) return;
    size_t count = 0;
    for (; strings[count] != nullptr; ++count) {
      auto start = reinterpret_cast<uint64_t>(strings[count]);
      dprof::page_guard::pin(start, start + strlen(strings[count]) + 1);
    }
    auto start = reinterpret_cast<uint64_t>(strings);
    dprof::page_guard::pin(start, start + (count + 1) * sizeof(char*));
  }
  bool paused_ = false;
};

// The environment for exec: the runtime carried on to the new image. A vfork child also notes
// itself in the parent's trace here, the only place it can be seen (vfork cannot be wrapped).
class ExecEnvironment {
 public:
  explicit ExecEnvironment(char* const envp[])
      : environment_(envp, dprof::child_processes::is_followed(dprof::sys::current_pid())) {
    if (dprof::is_vfork_child()) {
      dprof::child_processes::record_child(static_cast<uint64_t>(dprof::sys::current_pid()),
                                           DPROF_CHILD_VFORK_EXEC);
    }
  }
  char* const* get() const { return environment_.get(); }

 private:
  dprof::child_processes::ExecEnvironment environment_;
};

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int __libc_start_main(int (*main)(int, char**, char**),
                                                             int argc, char** argv, void (*init)(),
                                                             void (*fini)(), void (*rtld_fini)(),
                                                             void* stack_end) {
  g_program_main = main;
  return real().libc_start_main(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

__attribute__((visibility("default"))) void exit(int status) {
  dprof::note_exit_status(status);
  real().exit(status);
}

__attribute__((visibility("default"))) void _exit(int status) {
  dprof::note_exit_status(status);
  dprof::finish_trace(DPROF_END_EXIT, status);
  real().underscore_exit(status);
}

__attribute__((visibility("default"))) void _Exit(int status) {
  dprof::note_exit_status(status);
  dprof::finish_trace(DPROF_END_EXIT, status);
  real().underscore_Exit(status);
}

__attribute__((visibility("default"))) int dlclose(void* handle) {
  bool recording = dprof::thread_state().in_runtime == 0 && dprof::recording_active();
  // Describe what is loaded now, in case the writer has not seen this object yet.
  if (recording) dprof::module_map::rescan(push_to_own_ring);
  int result = real().dlclose(handle);
  if (recording) dprof::module_map::rescan(push_to_own_ring);
  return result;
}

__attribute__((visibility("default"))) pid_t fork() {
  auto next = DPROF_NEXT(fork);
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  pid_t child = next();
  if (child > 0) {
    int saved_errno = errno;
    dprof::child_processes::record_child(static_cast<uint64_t>(child), DPROF_CHILD_FORK);
    errno = saved_errno;
  }
  return child;
}

__attribute__((visibility("default"))) int execve(const char* path, char* const argv[],
                                                  char* const envp[]) {
  ExecEnvironment environment(envp);
  ExecGuard guard(argv, environment.get());
  dprof::prepare_for_exec();
  int result = real().execve(path, argv, environment.get());
  dprof::exec_failed();
  return result;
}

// execv and execvp are execve and execvpe with `environ`, which the program may have stripped.
__attribute__((visibility("default"))) int execv(const char* path, char* const argv[]) {
  return execve(path, argv, environ);
}

__attribute__((visibility("default"))) int execvp(const char* file, char* const argv[]) {
  return execvpe(file, argv, environ);
}

__attribute__((visibility("default"))) int execvpe(const char* file, char* const argv[],
                                                   char* const envp[]) {
  ExecEnvironment environment(envp);
  ExecGuard guard(argv, environment.get());
  dprof::prepare_for_exec();
  int result = real().execvpe(file, argv, environment.get());
  dprof::exec_failed();
  return result;
}

__attribute__((visibility("default"))) int fexecve(int fd, char* const argv[], char* const envp[]) {
  ExecEnvironment environment(envp);
  ExecGuard guard(argv, environment.get());
  dprof::prepare_for_exec();
  int result = real().fexecve(fd, argv, environment.get());
  dprof::exec_failed();
  return result;
}

__attribute__((visibility("default"))) int execl(const char* path, const char* arg, ...) {
  va_list arguments;
  va_start(arguments, arg);
  char** argv = collect_arguments(arg, &arguments, nullptr);
  va_end(arguments);
  if (argv == nullptr) return -1;
  int result = execv(path, argv);
  release_arguments(argv);
  return result;
}

__attribute__((visibility("default"))) int execlp(const char* file, const char* arg, ...) {
  va_list arguments;
  va_start(arguments, arg);
  char** argv = collect_arguments(arg, &arguments, nullptr);
  va_end(arguments);
  if (argv == nullptr) return -1;
  int result = execvp(file, argv);
  release_arguments(argv);
  return result;
}

__attribute__((visibility("default"))) int execle(const char* path, const char* arg, ...) {
  va_list arguments;
  va_start(arguments, arg);
  char** envp = nullptr;
  char** argv = collect_arguments(arg, &arguments, &envp);
  va_end(arguments);
  if (argv == nullptr) return -1;
  int result = execve(path, argv, envp);
  release_arguments(argv);
  return result;
}

}  // extern "C"
