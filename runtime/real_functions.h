// The next definitions (libc's, or another allocator's) of everything the runtime interposes,
// looked up once with dlsym(RTLD_NEXT). While dlsym itself allocates, the calling thread is inside
// the runtime, so those allocations come from the internal allocator: no bootstrap recursion.
#pragma once

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <sys/types.h>

#include <atomic>

namespace dprof {

struct RealFunctions {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  void* (*reallocarray)(void*, size_t, size_t);
  void* (*memalign)(size_t, size_t);
  int (*posix_memalign)(void**, size_t, size_t);
  void* (*aligned_alloc)(size_t, size_t);
  void* (*valloc)(size_t);
  void* (*pvalloc)(size_t);
  size_t (*malloc_usable_size)(void*);
  void* (*mmap)(void*, size_t, int, int, int, off_t);
  void* (*mmap64)(void*, size_t, int, int, int, off_t);
  int (*munmap)(void*, size_t);
  void* (*mremap)(void*, size_t, size_t, int, ...);
  void* (*dlopen)(const char*, int);
  void* (*dlmopen)(Lmid_t, const char*, int);
  int (*dlclose)(void*);
  int (*execve)(const char*, char* const[], char* const[]);
  int (*execv)(const char*, char* const[]);
  int (*execvp)(const char*, char* const[]);
  int (*execvpe)(const char*, char* const[], char* const[]);
  int (*fexecve)(int, char* const[], char* const[]);
  void (*exit)(int) __attribute__((noreturn));
  void (*underscore_exit)(int) __attribute__((noreturn));
  void (*underscore_Exit)(int) __attribute__((noreturn));
  int (*sigaction)(int, const struct sigaction*, struct sigaction*);
  sighandler_t (*signal)(int, sighandler_t);
  int (*sigprocmask)(int, const sigset_t*, sigset_t*);
  int (*pthread_sigmask)(int, const sigset_t*, sigset_t*);
  int (*sigsuspend)(const sigset_t*);
  int (*libc_start_main)(int (*)(int, char**, char**), int, char**, void (*)(), void (*)(),
                         void (*)(), void*);
  int (*pthread_create)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
};

void resolve_real_functions();

namespace detail {
extern RealFunctions g_real;
extern std::atomic<int> g_resolved;  // 0 no, 1 in progress, 2 done
}  // namespace detail

inline bool real_functions_ready() {
  return detail::g_resolved.load(std::memory_order_acquire) == 2;
}
// Resolved on first use by any hook; safe to call repeatedly. Inline: every hook calls it.
inline const RealFunctions& real() {
  if (__builtin_expect(!real_functions_ready(), 0)) resolve_real_functions();
  return detail::g_real;
}

}  // namespace dprof
