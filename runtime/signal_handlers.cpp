// Records the end of a process killed by a signal. For each terminating signal still at its default
// action when the runtime starts, a handler finishes the trace, restores the default and lets the
// signal take its course, so exit status and core dumps are exactly what they would have been.
// The program never sees these handlers: sigaction()/signal() report SIG_DFL for them, and a
// handler the program installs simply replaces ours.
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <atomic>

#include "damon_prof/trace_format.h"
#include "real_functions.h"
#include "runtime_state.h"
#include "segv_dispatch.h"
#include "sys.h"

namespace dprof {

constexpr int kSignalLimitForMasks = 65;

namespace {

constexpr int kWatchedSignals[] = {SIGSEGV, SIGBUS,  SIGFPE,  SIGILL,  SIGABRT, SIGTRAP,
                                   SIGSYS,  SIGTERM, SIGINT,  SIGHUP,  SIGQUIT, SIGPIPE,
                                   SIGXCPU, SIGXFSZ, SIGALRM, SIGUSR1, SIGUSR2};
constexpr int kSignalLimit = 65;
std::atomic<bool> g_ours[kSignalLimit];

bool is_fault_signal(int signal_number) {
  return signal_number == SIGSEGV || signal_number == SIGBUS || signal_number == SIGFPE ||
         signal_number == SIGILL || signal_number == SIGTRAP || signal_number == SIGSYS;
}

void restore_default(int signal_number) {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_DFL;
  real().sigaction(signal_number, &action, nullptr);
  g_ours[signal_number].store(false);
}

void on_terminating_signal(int signal_number, siginfo_t* info, void*) {
  int saved_errno = errno;
  finish_trace(DPROF_END_SIGNAL, signal_number);
  restore_default(signal_number);
  // A fault raised by the kernel recurs when the instruction re-executes, now with the default
  // action (and the right core dump). Anything else is sent again; it stays pending while this
  // handler runs and takes effect as soon as it returns.
  if (!is_fault_signal(signal_number) || info == nullptr || info->si_code <= 0) {
    syscall(SYS_tgkill, sys::current_pid(), sys::current_tid(), signal_number);
  }
  errno = saved_errno;
}

}  // namespace

void install_fatal_signal_handlers() {
  for (int signal_number : kWatchedSignals) {
    struct sigaction current;
    if (real().sigaction(signal_number, nullptr, &current) != 0) continue;
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) continue;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = on_terminating_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (real().sigaction(signal_number, &action, nullptr) == 0) g_ours[signal_number].store(true);
  }
}

bool is_runtime_signal_handler_installed(int signal_number) {
  return signal_number > 0 && signal_number < kSignalLimit && g_ours[signal_number].load();
}

void forget_runtime_signal_handler(int signal_number) {
  if (signal_number > 0 && signal_number < kSignalLimit) g_ours[signal_number].store(false);
}

}  // namespace dprof

using dprof::is_runtime_signal_handler_installed;
using dprof::real;

namespace {

// While read sampling runs, SIGSEGV stays out of every handler's mask (segv_dispatch.h); the
// program still reads back the masks it asked for.
std::atomic<bool> g_mask_had_segv[dprof::kSignalLimitForMasks];

int install_program_action(int signal_number, const struct sigaction* action,
                           struct sigaction* previous) {
  if (!dprof::segv_dispatch::installed() || signal_number <= 0 ||
      signal_number >= dprof::kSignalLimitForMasks) {
    return real().sigaction(signal_number, action, previous);
  }
  struct sigaction copy;
  const struct sigaction* passed = action;
  bool had_segv = action != nullptr && sigismember(&action->sa_mask, SIGSEGV) == 1;
  if (had_segv) {
    copy = *action;
    sigdelset(&copy.sa_mask, SIGSEGV);
    passed = &copy;
  }
  int result = real().sigaction(signal_number, passed, previous);
  if (result == 0) {
    if (previous != nullptr && g_mask_had_segv[signal_number].load()) {
      sigaddset(&previous->sa_mask, SIGSEGV);
    }
    if (action != nullptr) g_mask_had_segv[signal_number].store(had_segv);
  }
  return result;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int sigaction(int signal_number,
                                                     const struct sigaction* action,
                                                     struct sigaction* previous) {
  if (signal_number == SIGSEGV && dprof::segv_dispatch::installed()) {
    return dprof::segv_dispatch::program_sigaction(action, previous);
  }
  if (!is_runtime_signal_handler_installed(signal_number)) {
    return install_program_action(signal_number, action, previous);
  }
  bool keeps_default =
      action != nullptr && (action->sa_flags & SA_SIGINFO) == 0 && action->sa_handler == SIG_DFL;
  if (action == nullptr || keeps_default) {
    // The program asks for (or about) the default action: ours stays, and looks like it.
    if (previous != nullptr) {
      memset(previous, 0, sizeof(*previous));
      previous->sa_handler = SIG_DFL;
    }
    return 0;
  }
  int result = install_program_action(signal_number, action, previous);
  if (result == 0) {
    dprof::forget_runtime_signal_handler(signal_number);
    if (previous != nullptr) {
      memset(previous, 0, sizeof(*previous));
      previous->sa_handler = SIG_DFL;
    }
  }
  return result;
}

__attribute__((visibility("default"))) sighandler_t signal(int signal_number,
                                                           sighandler_t handler) {
  if (signal_number == SIGSEGV && dprof::segv_dispatch::installed()) {
    // glibc's signal(): BSD semantics, the signal itself blocked in its handler.
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaddset(&action.sa_mask, signal_number);
    struct sigaction previous;
    dprof::segv_dispatch::program_sigaction(&action, &previous);
    return previous.sa_handler;
  }
  if (!is_runtime_signal_handler_installed(signal_number)) {
    return real().signal(signal_number, handler);
  }
  if (handler == SIG_DFL) return SIG_DFL;
  sighandler_t previous = real().signal(signal_number, handler);
  if (previous == SIG_ERR) return SIG_ERR;
  dprof::forget_runtime_signal_handler(signal_number);
  return SIG_DFL;
}

}  // extern "C"
