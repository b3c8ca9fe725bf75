// Call-stack capture for the allocation path. Two ways:
//  - dwarf (the default): libunwind's fast path (unw_backtrace), which caches the unwind rules per
//    instruction address and so costs tens of nanoseconds per frame once warm; right for any code;
//  - fp (DAMON_PROF_UNWIND=fp): follows the chain of frame pointers, a few nanoseconds per frame,
//    right only for code built with frame pointers (-fno-omit-frame-pointer). A function without
//    them in the chain hides its caller. It falls back to dwarf where the chain cannot be trusted
//    at all: off the thread's own stack (a signal stack, a coroutine's), and when the C library
//    (built without frame pointers) made the allocation.
#pragma once

namespace dprof {

constexpr int kMaxStackFrames = 128;

void configure_stack_capture_from_environment();
bool frame_pointer_unwinding();

// Fills `frames` with return addresses, innermost first (the runtime's own frames included; the
// analyzer strips them). `caller` is the hooked function's return address. Returns the number of
// frames.
int capture_stack(void** frames, int capacity, const void* caller);

}  // namespace dprof
