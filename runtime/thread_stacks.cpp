#include "thread_stacks.h"

#include <errno.h>
#include <pthread.h>

#include <atomic>

#include "sys.h"
#include "thread_state.h"

namespace dprof::thread_stacks {
namespace {

constexpr size_t kSlots = 8192;
constexpr pid_t kClaiming = -1;

struct Slot {
  std::atomic<pid_t> tid{0};  // 0 free, -1 being filled, else the owning thread
  uint64_t start = 0;
  uint64_t end = 0;
};

Slot g_slots[kSlots];

bool alive(pid_t tid) {
  return syscall(SYS_tgkill, sys::current_pid(), tid, 0) == 0 || errno != ESRCH;
}

}  // namespace

void record_current_thread() {
  RuntimeScope scope;  // pthread_getattr_np allocates (its CPU set)
  pthread_attr_t attributes;
  if (pthread_getattr_np(pthread_self(), &attributes) != 0) return;
  void* base = nullptr;
  size_t size = 0;
  int got = pthread_attr_getstack(&attributes, &base, &size);
  pthread_attr_destroy(&attributes);
  if (got != 0 || size == 0) return;
  pid_t tid = sys::current_tid();
  for (Slot& slot : g_slots) {
    pid_t expected = 0;
    if (!slot.tid.compare_exchange_strong(expected, kClaiming, std::memory_order_acq_rel)) continue;
    slot.start = reinterpret_cast<uint64_t>(base);
    slot.end = slot.start + size;
    slot.tid.store(tid, std::memory_order_release);
    return;
  }
}

size_t live_ranges(uint64_t (*out)[2], size_t capacity) {
  size_t count = 0;
  for (Slot& slot : g_slots) {
    pid_t tid = slot.tid.load(std::memory_order_acquire);
    if (tid <= 0) continue;
    if (!alive(tid)) {
      // The thread is gone: free the slot (a tid reused meanwhile re-records itself anyway).
      slot.tid.compare_exchange_strong(tid, 0, std::memory_order_acq_rel);
      continue;
    }
    if (count < capacity) {
      out[count][0] = slot.start;
      out[count][1] = slot.end;
      ++count;
    }
  }
  return count;
}

void reset_after_fork() {
  for (Slot& slot : g_slots) slot.tid.store(0, std::memory_order_relaxed);
}

}  // namespace dprof::thread_stacks
