// Anonymous mappings made by the program are allocations too. The runtime's own mappings (made
// while inside the runtime) and file mappings pass through unrecorded; munmap is recorded whatever
// it unmaps, and the analyzer keeps only the parts that overlapped a recorded mapping.
#include <stdarg.h>
#include <sys/mman.h>

#include <atomic>

#include "damon_prof/trace_format.h"
#include "event_recorder.h"
#include "monitor/large_blocks.h"
#include "monitor/monitor_thread.h"
#include "monitor/page_guard.h"
#include "real_functions.h"
#include "runtime_state.h"
#include "thread_ring.h"
#include "thread_state.h"

using dprof::real;
namespace recorder = dprof::recorder;

namespace {

bool pass_through() {
  return !dprof::real_functions_ready() || dprof::thread_state().in_runtime != 0 ||
         dprof::thread_state().in_real_call != 0 || !dprof::recording_active();
}

void* raw_mmap(void* address, size_t length, int prot, int flags, int fd, off_t offset) {
  long result = syscall(SYS_mmap, address, length, prot, flags, fd, offset);
  return result == -1 ? MAP_FAILED : reinterpret_cast<void*>(result);
}

// Anonymous memory a library maps or unmaps while working for the runtime (libunwind's per-thread
// trace cache, 256 KiB on a thread's first unwind) is the runtime's memory: it is counted on the
// thread's ring for the memory samples (runtime_memory.h). Not the program's own calls that the
// runtime makes for it (in_real_call), nor the runtime's threads, which record nothing.
void count_library_memory(size_t length, bool mapped) {
  dprof::ThreadState& state = dprof::thread_state();
  if (state.in_runtime == 0 || state.in_real_call != 0 || state.ring == nullptr) return;
  std::atomic<uint64_t>& bytes = state.ring->library_bytes;
  uint64_t now = bytes.load(std::memory_order_relaxed);
  uint64_t next = mapped ? now + length : (now > length ? now - length : 0);
  bytes.store(next, std::memory_order_relaxed);
}

// Read sampling (monitor/page_guard.h): the program's private read-write anonymous mappings are
// candidates for sampling until they go away.
void uncover(const void* address, size_t length) {
  if (!dprof::page_guard::enabled()) return;
  auto start = reinterpret_cast<uint64_t>(address);
  dprof::page_guard::remove_block(start, start + length);
  if (length >= dprof::large_blocks::kLargeBlockBytes) dprof::large_blocks::remove(start);
}

void* mmap_and_record(void* (*real_mmap)(void*, size_t, int, int, int, off_t), void* address,
                      size_t length, int prot, int flags, int fd, off_t offset,
                      const void* caller) {
  if (real_mmap == nullptr) return raw_mmap(address, length, prot, flags, fd, offset);
  // Whatever is mapped over may have been a candidate.
  if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0 && dprof::thread_state().in_runtime == 0) {
    uncover(address, length);
  }
  if ((flags & MAP_ANONYMOUS) == 0 || pass_through()) {
    void* mapped = real_mmap(address, length, prot, flags, fd, offset);
    if (mapped != MAP_FAILED && (flags & MAP_ANONYMOUS) != 0) count_library_memory(length, true);
    return mapped;
  }
  void* mapped;
  {
    dprof::RealCallScope real_call;
    mapped = real_mmap(address, length, prot, flags, fd, offset);
  }
  if (mapped != MAP_FAILED) {
    recorder::record_mmap(mapped, length, prot, flags, caller);
    dprof::monitor::note_mappings_changed();
    bool plain_memory = prot == (PROT_READ | PROT_WRITE) && (flags & MAP_PRIVATE) != 0 &&
                        (flags & (MAP_GROWSDOWN | MAP_STACK)) == 0;
    if (plain_memory && dprof::page_guard::enabled() && dprof::thread_state().in_kernel_call == 0) {
      auto start = reinterpret_cast<uint64_t>(mapped);
      dprof::page_guard::add_block(start, start + length, /*shared=*/false);
      dprof::large_blocks::add(start, start + length);  // the monitor's regions follow it
    }
  }
  return mapped;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* mmap(void* address, size_t length, int prot, int flags,
                                                  int fd, off_t offset) {
  if (!dprof::real_functions_ready()) return raw_mmap(address, length, prot, flags, fd, offset);
  return mmap_and_record(real().mmap, address, length, prot, flags, fd, offset,
                         __builtin_return_address(0));
}

__attribute__((visibility("default"))) void* mmap64(void* address, size_t length, int prot,
                                                    int flags, int fd, off_t offset) {
  if (!dprof::real_functions_ready()) return raw_mmap(address, length, prot, flags, fd, offset);
  return mmap_and_record(real().mmap64, address, length, prot, flags, fd, offset,
                         __builtin_return_address(0));
}

__attribute__((visibility("default"))) int munmap(void* address, size_t length) {
  if (!dprof::real_functions_ready()) return static_cast<int>(syscall(SYS_munmap, address, length));
  if (dprof::thread_state().in_runtime == 0) uncover(address, length);
  if (pass_through()) {
    int result = real().munmap(address, length);
    if (result == 0) count_library_memory(length, false);
    return result;
  }
  recorder::ReleaseEvent event(/*capture_stack=*/false);
  int result;
  {
    dprof::RealCallScope real_call;
    result = real().munmap(address, length);
  }
  if (result == 0) {
    event.munmap_done(DPROF_FN_MUNMAP, address, length);
    dprof::monitor::note_mappings_changed();
  }
  return result;
}

__attribute__((visibility("default"))) void* mremap(void* old_address, size_t old_length,
                                                    size_t new_length, int flags, ...) {
  void* new_address = nullptr;
  if ((flags & MREMAP_FIXED) != 0) {
    va_list arguments;
    va_start(arguments, flags);
    new_address = va_arg(arguments, void*);
    va_end(arguments);
  }
  // The new place is not covered again (its protection is not known here): safe, not sampled.
  if (dprof::thread_state().in_runtime == 0) {
    uncover(old_address, old_length);
    if ((flags & MREMAP_FIXED) != 0) uncover(new_address, new_length);
  }
  if (pass_through()) return real().mremap(old_address, old_length, new_length, flags, new_address);
  recorder::ReleaseEvent event(/*capture_stack=*/true, __builtin_return_address(0));
  void* moved;
  {
    dprof::RealCallScope real_call;
    moved = real().mremap(old_address, old_length, new_length, flags, new_address);
  }
  if (moved != MAP_FAILED) {
    event.munmap_done(DPROF_FN_MREMAP, old_address, old_length);
    // prot/flags unknown here: the analyzer keeps the new range only if the old one was tracked.
    event.mmap_done(DPROF_FN_MREMAP, moved, new_length, -1, -1);
    dprof::monitor::note_mappings_changed();
  }
  return moved;
}

}  // extern "C"
