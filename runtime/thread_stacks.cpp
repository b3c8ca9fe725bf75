#include "thread_stacks.h"

#include <dlfcn.h>
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
  // The thread's static TLS and control block: the C library (errno, cancellation state) and the
  // runtime itself touch them all the time, also where no SIGSEGV handler of ours may be in place.
  uint64_t tls_start = 0;
  uint64_t tls_end = 0;
};

Slot g_slots[kSlots];
// Slots at and above this index were never claimed: the monitor's scans (every refresh of its
// targets) stop here instead of reading all 320 KiB of slots, and faulting them in, each time.
std::atomic<size_t> g_slots_used{0};

// The static TLS blocks lie below the thread pointer, the control block (struct pthread, about
// 2.3 KiB) above it (x86-64). ld.so reports the static TLS size; 64 KiB when it cannot be asked.
void tls_range_of_current_thread(uint64_t* start, uint64_t* end) {
  static size_t static_size = 0;
  if (static_size == 0) {
    using Query = void (*)(size_t*, size_t*);
    auto query = reinterpret_cast<Query>(dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info"));
    size_t size = 0;
    size_t align = 0;
    if (query != nullptr) query(&size, &align);
    static_size = size != 0 && size < (16u << 20) ? size : 65536;
  }
  constexpr uint64_t kPage = 4096;
  constexpr uint64_t kControlBlock = 4096;
  auto pointer = reinterpret_cast<uint64_t>(pthread_self());
  *start = (pointer - static_size) & ~(kPage - 1);
  *end = (pointer + kControlBlock + kPage - 1) & ~(kPage - 1);
}

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
  for (size_t index = 0; index < kSlots; ++index) {
    Slot& slot = g_slots[index];
    pid_t expected = 0;
    if (!slot.tid.compare_exchange_strong(expected, kClaiming, std::memory_order_acq_rel)) continue;
    size_t used = g_slots_used.load(std::memory_order_relaxed);
    while (used <= index &&
           !g_slots_used.compare_exchange_weak(used, index + 1, std::memory_order_acq_rel)) {
    }
    slot.start = reinterpret_cast<uint64_t>(base);
    slot.end = slot.start + size;
    tls_range_of_current_thread(&slot.tls_start, &slot.tls_end);
    slot.tid.store(tid, std::memory_order_release);
    return;
  }
}

int create_runtime_thread(pthread_t* thread, void* (*routine)(void*)) {
  // Its own stack, mapped like all the runtime's memory (sys::map_anonymous: left out of core
  // dumps) before the thread exists, so that a crash at any moment dumps none of it. The C
  // library puts the thread's TLS and control block at its top. A guard page below.
  constexpr size_t kStackBytes = size_t{2} << 20;
  constexpr size_t kGuardBytes = 4096;
  auto* memory = static_cast<char*>(sys::map_anonymous(kStackBytes + kGuardBytes, MAP_NORESERVE));
  if (memory == nullptr) return EAGAIN;
  sys::raw_syscall(SYS_mprotect, reinterpret_cast<long>(memory), kGuardBytes, PROT_NONE);
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstack(&attributes, memory + kGuardBytes, kStackBytes);
  int created = pthread_create(thread, &attributes, routine, nullptr);
  pthread_attr_destroy(&attributes);
  if (created != 0) sys::unmap(memory, kStackBytes + kGuardBytes);
  return created;
}

size_t live_ranges(uint64_t (*out)[2], size_t capacity) {
  size_t count = 0;
  size_t used = g_slots_used.load(std::memory_order_acquire);
  for (size_t index = 0; index < used; ++index) {
    Slot& slot = g_slots[index];
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
    if (count < capacity && slot.tls_end > slot.tls_start) {
      out[count][0] = slot.tls_start;
      out[count][1] = slot.tls_end;
      ++count;
    }
  }
  return count;
}

void reset_after_fork() {
  size_t used = g_slots_used.load(std::memory_order_relaxed);
  for (size_t index = 0; index < used; ++index) {
    g_slots[index].tid.store(0, std::memory_order_relaxed);
  }
  g_slots_used.store(0, std::memory_order_relaxed);
}

}  // namespace dprof::thread_stacks
