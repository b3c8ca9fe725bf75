// Per-thread runtime state, in initial-exec TLS so that reaching it never calls into the dynamic
// linker (which may allocate) and costs one instruction.
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdint.h>

namespace dprof {

struct Ring;

struct ThreadState {
  Ring* ring;
  // Non-zero while the runtime itself runs on this thread: any allocation made meanwhile (by
  // libunwind, the dynamic linker, zstd, ...) is the runtime's and goes to the internal allocator.
  int in_runtime;
  // Non-zero while a hook runs the real allocator: allocation calls that the allocator itself makes
  // (glibc's reallocarray calls realloc, other allocators call malloc from memalign, ...) are
  // part of the outer call and are forwarded unrecorded, so nothing is counted twice.
  int in_real_call;
  // Non-zero while a wrapped call hands buffers to the kernel (kernel_handoff.h): blocks the
  // C library allocates meanwhile are its own (stdio, DIR, NSS) and are never read-sampled.
  int in_kernel_call;
  // Read sampling keeps SIGSEGV unblocked in every thread (a blocked synchronous SIGSEGV kills
  // the process); this is whether the program believes this thread blocks it.
  int program_blocks_segv;
  // An asynchronous SIGSEGV that arrived while the program believed it blocked: delivered when
  // the program unblocks it.
  int segv_pending;
  siginfo_t pending_segv_info;
  // Rounds of pthread key destructors seen at thread exit (lifecycle.cpp).
  int exit_rounds;
  // Allocation sampling (allocation_sampler.h): bytes left before the next sample point, and this
  // thread's random generator.
  int sampler_seeded;
  uint64_t bytes_until_sample;
  uint64_t sampler_random;
  // Frame-pointer unwinding (stack_capture.cpp): this thread's stack, once known.
  uint64_t stack_low;
  uint64_t stack_high;
};

extern __thread ThreadState tls_thread_state __attribute__((tls_model("initial-exec")));

inline ThreadState& thread_state() {
  return tls_thread_state;
}

// Marks a stretch of runtime work on this thread and keeps the program's errno intact across it.
class RuntimeScope {
 public:
  RuntimeScope() : saved_errno_(errno) { ++tls_thread_state.in_runtime; }
  ~RuntimeScope() {
    --tls_thread_state.in_runtime;
    errno = saved_errno_;
  }
  RuntimeScope(const RuntimeScope&) = delete;
  RuntimeScope& operator=(const RuntimeScope&) = delete;

 private:
  int saved_errno_;
};

// Marks a call into the real allocator from a recording hook.
class RealCallScope {
 public:
  RealCallScope() { ++tls_thread_state.in_real_call; }
  ~RealCallScope() { --tls_thread_state.in_real_call; }
  RealCallScope(const RealCallScope&) = delete;
  RealCallScope& operator=(const RealCallScope&) = delete;
};

}  // namespace dprof
