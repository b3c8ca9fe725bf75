// Thin wrappers over raw system calls. The runtime uses these instead of the libc functions it
// interposes (mmap, munmap, ...) so that its own memory and I/O are never recorded as the
// program's, and so that they are usable inside signal handlers.
#pragma once

#include <errno.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace dprof::sys {

// A system call that goes through nothing interposable (the runtime interposes syscall() itself)
// and leaves errno alone: returns the kernel's result, -errno on failure. Safe in signal handlers.
inline long raw_syscall(long number, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0,
                        long a5 = 0, long a6 = 0) {
#if defined(__x86_64__)
  long result;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(result)
                   : "a"(number), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return result;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = number;
  register long x0 __asm__("x0") = a1;
  register long x1 __asm__("x1") = a2;
  register long x2 __asm__("x2") = a3;
  register long x3 __asm__("x3") = a4;
  register long x4 __asm__("x4") = a5;
  register long x5 __asm__("x5") = a6;
  __asm__ volatile("svc 0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
#else
#error "raw_syscall: unsupported architecture"
#endif
}

// mprotect without the interposed wrapper; 0 or -errno.
inline long protect_raw(uint64_t address, uint64_t length, int protection) {
  return raw_syscall(SYS_mprotect, static_cast<long>(address), static_cast<long>(length),
                     protection);
}

inline void yield_cpu() {
  raw_syscall(SYS_sched_yield);
}

// The runtime's own memory. It is left out of the program's core dumps: a crash dumps what it would
// without damon-prof, not also gigabytes of (mostly untouched) reservations.
inline void* map_anonymous(size_t length, int extra_flags = 0) {
  long result = raw_syscall(SYS_mmap, 0, static_cast<long>(length), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  if (result < 0 && result > -4096) return nullptr;
  raw_syscall(SYS_madvise, result, static_cast<long>(length), MADV_DONTDUMP);
  return reinterpret_cast<void*>(result);
}

inline void unmap(void* address, size_t length) {
  raw_syscall(SYS_munmap, reinterpret_cast<long>(address), static_cast<long>(length));
}

inline uint64_t monotonic_ns() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
}

inline uint64_t realtime_ns() {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
}

inline pid_t current_tid() {
  return static_cast<pid_t>(raw_syscall(SYS_gettid));
}
inline pid_t current_pid() {
  return static_cast<pid_t>(raw_syscall(SYS_getpid));
}

// Writes everything or gives up on a hard error; retries EINTR and short writes.
inline bool write_all(int fd, const void* data, size_t size) {
  const char* cursor = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t written = write(fd, cursor, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    cursor += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

inline void futex_wait(uint32_t* word, uint32_t expected, uint64_t timeout_ns) {
  timespec timeout{static_cast<time_t>(timeout_ns / 1000000000ull),
                   static_cast<long>(timeout_ns % 1000000000ull)};
  raw_syscall(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAIT_PRIVATE, expected,
              reinterpret_cast<long>(&timeout), 0, 0);
}

inline void futex_wake_all(uint32_t* word) {
  raw_syscall(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAKE_PRIVATE, 0x7fffffff, 0, 0, 0);
}

// Sleeps without touching errno as the program sees it.
inline void sleep_ns(uint64_t ns) {
  int saved = errno;
  timespec duration{static_cast<time_t>(ns / 1000000000ull), static_cast<long>(ns % 1000000000ull)};
  nanosleep(&duration, nullptr);
  errno = saved;
}

}  // namespace dprof::sys
