// Call-stack capture for the allocation path: libunwind's fast path (unw_backtrace), which caches
// the unwind rules per instruction address and so costs tens of nanoseconds per frame once warm.
#pragma once

namespace dprof {

constexpr int kMaxStackFrames = 128;

// Fills `frames` with return addresses, innermost first (the runtime's own frames included; the
// analyzer strips them). Returns the number of frames.
int capture_stack(void** frames, int capacity);

}  // namespace dprof
