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

inline void* map_anonymous(size_t length, int extra_flags = 0) {
  long result = syscall(SYS_mmap, nullptr, length, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  if (result < 0 && result > -4096) return nullptr;
  return reinterpret_cast<void*>(result);
}

inline void unmap(void* address, size_t length) {
  syscall(SYS_munmap, address, length);
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
  return static_cast<pid_t>(syscall(SYS_gettid));
}
inline pid_t current_pid() {
  return static_cast<pid_t>(syscall(SYS_getpid));
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
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &timeout, nullptr, 0);
}

inline void futex_wake_all(uint32_t* word) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 0x7fffffff, nullptr, nullptr, 0);
}

// Sleeps without touching errno as the program sees it.
inline void sleep_ns(uint64_t ns) {
  int saved = errno;
  timespec duration{static_cast<time_t>(ns / 1000000000ull), static_cast<long>(ns % 1000000000ull)};
  nanosleep(&duration, nullptr);
  errno = saved;
}

}  // namespace dprof::sys
