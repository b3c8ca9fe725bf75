// The taint side of read sampling's safety contract (monitor/page_guard.h): a wrapped C library
// call names the memory it hands to the kernel, which stays accessible until the call returns.
// When the memory cannot be named (too many buffers, a format with positional arguments, an
// unknown system call), the call runs inside a global pause instead.
//
// Costs nothing but one load when read sampling is off, and a page-table load per buffer for
// memory that is not inside a large allocation.
#pragma once

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>

#include "monitor/page_guard.h"
#include "thread_state.h"

namespace dprof {

class KernelHandoff {
 public:
  KernelHandoff()
      : active_(page_guard::enabled() && tls_thread_state.in_runtime == 0 &&
                tls_thread_state.in_real_call == 0) {
    if (active_) ++tls_thread_state.in_kernel_call;
  }
  ~KernelHandoff() {
    if (!active_) return;
    int saved_errno = errno;
    for (size_t i = 0; i < count_; ++i) page_guard::taint_end(ranges_[i].start, ranges_[i].end);
    if (paused_) page_guard::pause_end();
    --tls_thread_state.in_kernel_call;
    errno = saved_errno;
  }
  KernelHandoff(const KernelHandoff&) = delete;
  KernelHandoff& operator=(const KernelHandoff&) = delete;

  bool active() const { return active_; }

  // Inline only this test: with read sampling off, a wrapped call costs one load and this.
  void buffer(const void* data, size_t length) {
    if (active_) named_buffer(data, length);
  }
  void string(const char* text) {
    if (active_ && text != nullptr) buffer(text, strlen(text) + 1);
  }
  template <typename T>
  void object(const T* pointer) {
    buffer(pointer, sizeof(T));
  }
  void iovecs(const struct iovec* vector, long count) {
    if (!active_ || vector == nullptr || count <= 0) return;
    buffer(vector, static_cast<size_t>(count) * sizeof(*vector));
    for (long i = 0; i < count && !paused_; ++i) buffer(vector[i].iov_base, vector[i].iov_len);
  }
  void message(const struct msghdr* header) {
    if (!active_ || header == nullptr) return;
    object(header);
    buffer(header->msg_name, header->msg_namelen);
    buffer(header->msg_control, header->msg_controllen);
    iovecs(header->msg_iov, static_cast<long>(header->msg_iovlen));
  }
  // A socket address whose length the kernel reads and writes through `length`.
  void address(const void* address, const socklen_t* length) {
    if (!active_) return;
    object(length);
    if (length != nullptr) buffer(address, *length);
  }
  // Nothing is protected until the call returns.
  void pause() {
    if (!active_ || paused_) return;
    page_guard::pause_begin();
    paused_ = true;
  }

 private:
  void named_buffer(const void* data, size_t length) {
    if (data == nullptr || length == 0 || paused_) return;
    uint64_t start = reinterpret_cast<uint64_t>(data);
    uint64_t end = start + length < start ? UINT64_MAX : start + length;
    // Many objects handed over (a timespec, a stack buffer) lie on no page with blocks: for one
    // of at most a page, which spans at most two, two inline lookups say so (sqlite's
    // pthread_mutex_lock calls spent 1.7% of its time in the out-of-line walk).
    constexpr uint64_t kPageMask = ~(page_guard::kPageSize - 1);
    if (end - start <= page_guard::kPageSize && !page_guard::has_blocks(start & kPageMask) &&
        !page_guard::has_blocks((end - 1) & kPageMask)) {
      return;
    }
    if (!page_guard::taint_begin(start, end)) return;
    if (count_ == kMaxRanges) {
      // Out of room: the rest of this call runs paused (the range just marked is ended now,
      // the pause covers it).
      page_guard::taint_end(start, end);
      pause();
      return;
    }
    ranges_[count_++] = {start, end};
  }

  static constexpr size_t kMaxRanges = 8;
  struct Range {
    uint64_t start;
    uint64_t end;
  };
  bool active_;
  bool paused_ = false;
  size_t count_ = 0;
  Range ranges_[kMaxRanges];
};

// Memory the kernel may touch at any time from now on (a stream's buffer, a signal stack): never
// sampled again.
inline void pin_for_good(const void* data, size_t length) {
  if (!page_guard::enabled() || data == nullptr || length == 0) return;
  uint64_t start = reinterpret_cast<uint64_t>(data);
  page_guard::pin(start, start + length);
}

// The next definition of a wrapped function, looked up once (dlsym may allocate: inside the
// runtime, that goes to the internal allocator).
void* lookup_next_function(const char* name);

template <typename Function>
Function next_function(std::atomic<void*>& slot, const char* name) {
  void* function = slot.load(std::memory_order_acquire);
  if (function == nullptr) {
    function = lookup_next_function(name);
    slot.store(function, std::memory_order_release);
  }
  return reinterpret_cast<Function>(function);
}

}  // namespace dprof

// The next `name`, typed as the C library declares it.
#define DPROF_NEXT(name)                                           \
  ([]() {                                                          \
    static std::atomic<void*> slot{nullptr};                       \
    return ::dprof::next_function<decltype(&::name)>(slot, #name); \
  }())

#define DPROF_EXPORT extern "C" __attribute__((visibility("default")))

// Returns what the next `name` returns; when the C library has none, sets errno to ENOSYS and
// returns `failure` (-1, EOF, nullptr, or ENOSYS itself for pthread functions).
#define DPROF_FORWARD(failure, name, ...) \
  do {                                    \
    auto next = DPROF_NEXT(name);         \
    if (next == nullptr) {                \
      errno = ENOSYS;                     \
      return failure;                     \
    }                                     \
    return next(__VA_ARGS__);             \
  } while (0)
