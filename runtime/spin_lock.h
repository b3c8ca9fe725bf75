// A tiny spin lock for the runtime's own short critical sections. It never allocates and never
// blocks in the kernel. Fork safety: every lock of this kind is taken by the pre-fork handler and
// released in parent and child (see lifecycle.cpp), so a fork cannot leave one held.
#pragma once

#include <sched.h>

#include <atomic>

namespace dprof {

class SpinLock {
 public:
  void lock() {
    for (unsigned spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) sched_yield();
      }
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }
  // After fork only the calling thread exists, so whatever the parent held is released.
  void reset_after_fork() { locked_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> locked_{false};
};

class SpinGuard {
 public:
  explicit SpinGuard(SpinLock& lock) : lock_(lock) { lock_.lock(); }
  ~SpinGuard() { lock_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace dprof
