#include "segv_dispatch.h"

#include <errno.h>
#include <string.h>
#include <ucontext.h>

#include <atomic>

#include "damon_prof/trace_format.h"
#include "monitor/page_guard.h"
#include "real_functions.h"
#include "runtime_state.h"
#include "sys.h"
#include "thread_state.h"

namespace dprof::segv_dispatch {
namespace {

std::atomic<bool> g_installed{false};
// The program's SIGSEGV action, behind a sequence lock: written by sigaction() (rarely), read by
// the handler, which can interrupt a writer and so must never wait for one.
struct sigaction g_program_action;
std::atomic<uint32_t> g_sequence{0};

void read_program_action(struct sigaction* out) {
  for (unsigned spins = 0;; ++spins) {
    uint32_t before = g_sequence.load(std::memory_order_acquire);
    // A writer that never finishes is this very thread, interrupted inside sigaction() by an
    // asynchronous SIGSEGV: after a while, take what is there rather than wait forever.
    if (spins > 100000) {
      memcpy(out, &g_program_action, sizeof(*out));
      return;
    }
    if ((before & 1) == 0) {
      memcpy(out, &g_program_action, sizeof(*out));
      std::atomic_thread_fence(std::memory_order_acquire);
      if (g_sequence.load(std::memory_order_relaxed) == before) return;
    }
    if (spins > 64) sys::yield_cpu();
  }
}

void write_program_action(const struct sigaction* action) {
  uint32_t sequence = g_sequence.load(std::memory_order_relaxed);
  for (unsigned spins = 0;; ++spins) {
    if ((sequence & 1) == 0 &&
        g_sequence.compare_exchange_weak(sequence, sequence + 1, std::memory_order_acquire)) {
      break;
    }
    sequence = g_sequence.load(std::memory_order_relaxed);
    if (spins > 64) sys::yield_cpu();
  }
  memcpy(&g_program_action, action, sizeof(*action));
  g_sequence.store(sequence + 2, std::memory_order_release);
}

void set_mask_raw(int how, const sigset_t* set, sigset_t* old) {
  sys::raw_syscall(SYS_rt_sigprocmask, how, reinterpret_cast<long>(set),
                   reinterpret_cast<long>(old), 8);
}

// What the kernel would have done with the default action: the trace is finished, the default
// restored, and the fault re-executed (or the signal re-sent), so that the process dies exactly
// as it would have, core dump included.
void take_default_action(const siginfo_t* info) {
  finish_trace(DPROF_END_SIGNAL, SIGSEGV);
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_DFL;
  real().sigaction(SIGSEGV, &action, nullptr);
  bool synchronous = info != nullptr && info->si_code > 0;
  if (!synchronous) sys::raw_syscall(SYS_tgkill, sys::current_pid(), sys::current_tid(), SIGSEGV);
}

void deliver_to_program(int signal_number, siginfo_t* info, void* context) {
  bool synchronous = info != nullptr && info->si_code > 0;
  ThreadState& thread = thread_state();
  if (thread.program_blocks_segv != 0) {
    if (synchronous) {
      take_default_action(info);  // the kernel forces the default on a blocked fault
    } else if (info != nullptr) {
      thread.pending_segv_info = *info;  // held until the program unblocks SIGSEGV
      thread.segv_pending = 1;
    }
    return;
  }
  struct sigaction action;
  read_program_action(&action);
  bool has_handler = (action.sa_flags & SA_SIGINFO) != 0 ||
                     (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN);
  if (!has_handler) {
    // A fault cannot be ignored: the kernel kills the process whatever the action says.
    if (action.sa_handler == SIG_DFL || synchronous) take_default_action(info);
    return;
  }
  if ((action.sa_flags & SA_RESETHAND) != 0) {
    struct sigaction reset;
    memset(&reset, 0, sizeof(reset));
    reset.sa_handler = SIG_DFL;
    write_program_action(&reset);
  }
  // The handler runs with its own mask, as the kernel would run it (SIGSEGV excepted).
  sigset_t mask = action.sa_mask;
  sigdelset(&mask, SIGSEGV);
  sigset_t previous;
  set_mask_raw(SIG_BLOCK, &mask, &previous);
  if ((action.sa_flags & SA_SIGINFO) != 0) {
    action.sa_sigaction(signal_number, info, context);
  } else {
    action.sa_handler(signal_number);
  }
  set_mask_raw(SIG_SETMASK, &previous, nullptr);
}

void on_segv(int signal_number, siginfo_t* info, void* context) {
  int saved_errno = errno;
  if (info != nullptr && info->si_code == SEGV_ACCERR && context != nullptr) {
    auto* user_context = static_cast<ucontext_t*>(context);
    uint64_t address = reinterpret_cast<uint64_t>(info->si_addr);
#if defined(__x86_64__)
    bool is_write = (user_context->uc_mcontext.gregs[REG_ERR] & 2) != 0;
    uint64_t pc = static_cast<uint64_t>(user_context->uc_mcontext.gregs[REG_RIP]);
#else
    bool is_write = false;
    uint64_t pc = static_cast<uint64_t>(user_context->uc_mcontext.pc);
#endif
    if (page_guard::handle_fault(address, is_write, pc)) {
      errno = saved_errno;
      return;
    }
  }
  deliver_to_program(signal_number, info, context);
  errno = saved_errno;
}

}  // namespace

bool install() {
  if (g_installed.load()) return true;
  struct sigaction current;
  if (real().sigaction(SIGSEGV, nullptr, &current) != 0) return false;
  if (is_runtime_signal_handler_installed(SIGSEGV)) {
    // The runtime's own end-of-trace handler: the program's view is the default action.
    memset(&current, 0, sizeof(current));
    current.sa_handler = SIG_DFL;
  }
  write_program_action(&current);
  struct sigaction ours;
  memset(&ours, 0, sizeof(ours));
  ours.sa_sigaction = on_segv;
  // SA_NODEFER: a sampled page touched inside the program's own SIGSEGV handler must fault again.
  ours.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;
  sigemptyset(&ours.sa_mask);
  if (real().sigaction(SIGSEGV, &ours, nullptr) != 0) return false;
  forget_runtime_signal_handler(SIGSEGV);
  g_installed.store(true);
  return true;
}

bool installed() {
  return g_installed.load(std::memory_order_relaxed);
}

bool still_ours() {
  struct sigaction current;
  if (real().sigaction(SIGSEGV, nullptr, &current) != 0) return false;
  return (current.sa_flags & SA_SIGINFO) != 0 && current.sa_sigaction == on_segv;
}

int program_sigaction(const struct sigaction* action, struct sigaction* previous) {
  struct sigaction old;
  read_program_action(&old);
  if (action != nullptr) write_program_action(action);
  if (previous != nullptr) *previous = old;
  return 0;
}

const sigset_t* without_segv(const sigset_t* mask, sigset_t* copy) {
  if (!installed() || mask == nullptr || sigismember(mask, SIGSEGV) != 1) return mask;
  *copy = *mask;
  sigdelset(copy, SIGSEGV);
  return copy;
}

void note_mask_change(int how, const sigset_t* set) {
  if (!installed() || set == nullptr) return;
  ThreadState& thread = thread_state();
  bool member = sigismember(set, SIGSEGV) == 1;
  if (how == SIG_BLOCK && member) thread.program_blocks_segv = 1;
  if (how == SIG_UNBLOCK && member) thread.program_blocks_segv = 0;
  if (how == SIG_SETMASK) thread.program_blocks_segv = member ? 1 : 0;
  if (thread.program_blocks_segv == 0 && thread.segv_pending != 0) {
    thread.segv_pending = 0;
    siginfo_t info = thread.pending_segv_info;
    sys::raw_syscall(SYS_rt_tgsigqueueinfo, sys::current_pid(), sys::current_tid(), SIGSEGV,
                     reinterpret_cast<long>(&info));
  }
}

void report_mask(sigset_t* reported) {
  if (installed() && reported != nullptr && thread_state().program_blocks_segv != 0) {
    sigaddset(reported, SIGSEGV);
  }
}

}  // namespace dprof::segv_dispatch

using dprof::real;
namespace segv_dispatch = dprof::segv_dispatch;

namespace {

int change_mask(int (*change)(int, const sigset_t*, sigset_t*), int how, const sigset_t* set,
                sigset_t* old) {
  if (!segv_dispatch::installed()) return change(how, set, old);
  bool believed_blocked = dprof::thread_state().program_blocks_segv != 0;
  sigset_t copy;
  int result = change(how, segv_dispatch::without_segv(set, &copy), old);
  if (result == 0) {
    if (old != nullptr && believed_blocked) sigaddset(old, SIGSEGV);
    segv_dispatch::note_mask_change(how, set);
  }
  return result;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int sigprocmask(int how, const sigset_t* set,
                                                       sigset_t* old) {
  return change_mask(real().sigprocmask, how, set, old);
}

__attribute__((visibility("default"))) int pthread_sigmask(int how, const sigset_t* set,
                                                           sigset_t* old) {
  return change_mask(real().pthread_sigmask, how, set, old);
}

__attribute__((visibility("default"))) int sigsuspend(const sigset_t* mask) {
  sigset_t copy;
  return real().sigsuspend(segv_dispatch::without_segv(mask, &copy));
}

}  // extern "C"
