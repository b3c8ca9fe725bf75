// SIGSEGV while read sampling runs. The runtime's handler owns SIGSEGV in the kernel: faults on
// sampled pages are resolved there, every other one goes to the action the program installed,
// which sigaction()/signal() keep in a virtual slot and report back exactly. SIGSEGV also stays
// unblocked in every thread (a synchronous SIGSEGV that is blocked kills the process), while
// sigprocmask()/pthread_sigmask() and the masks of other handlers report what the program asked.
#pragma once

#include <signal.h>

namespace dprof::segv_dispatch {

// Takes SIGSEGV over; false if the kernel refused.
bool install();
bool installed();
// The kernel's SIGSEGV action is still ours (something may replace it behind the runtime's back,
// with a raw system call or from another preloaded library).
bool still_ours();

// For the sigaction()/signal() hooks: the program's view of SIGSEGV while installed.
int program_sigaction(const struct sigaction* action, struct sigaction* previous);

// For hooks that pass a signal mask to the kernel: a copy without SIGSEGV when installed, and
// the program's belief about SIGSEGV in it.
const sigset_t* without_segv(const sigset_t* mask, sigset_t* copy);

// After the program changed this thread's mask through a hook: its new belief, and delivery of
// an asynchronous SIGSEGV held while it believed SIGSEGV blocked.
void note_mask_change(int how, const sigset_t* set);
// Adds SIGSEGV to a mask reported back to the program if it believes it blocked.
void report_mask(sigset_t* reported);

}  // namespace dprof::segv_dispatch
