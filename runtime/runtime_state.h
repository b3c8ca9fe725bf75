// The runtime's lifecycle: one process-wide state, initialised lazily by the first hooked call
// (which may come before any constructor runs) and finished exactly once at exit, _exit, exec or a
// fatal signal.
#pragma once

#include <pthread.h>
#include <stdint.h>

#include <atomic>

namespace dprof {

enum class RuntimeStatus : int {
  kUninitialized = 0,
  kInitializing = 1,
  kActive = 2,       // recording
  kFinished = 3,     // the trace is closed; hooks only forward
  kDisabled = 4,     // no trace could be opened; hooks only forward
  kForkPending = 5,  // a fork child that has not recorded anything yet
};

namespace detail {
extern std::atomic<int> g_status;
}  // namespace detail

// recording_active() once the runtime is not simply recording: starts it on first use.
bool recording_active_slow();
// True when this call should be recorded. Initialises the runtime on first use. Inline: every
// hook asks.
inline bool recording_active() {
  if (detail::g_status.load(std::memory_order_acquire) ==
      static_cast<int>(RuntimeStatus::kActive)) {
    return true;
  }
  return recording_active_slow();
}
// True while recording, without starting it.
inline bool recording_started() {
  return detail::g_status.load(std::memory_order_acquire) ==
         static_cast<int>(RuntimeStatus::kActive);
}
pthread_key_t runtime_thread_key();

// Exit-status bookkeeping for the end record.
void note_exit_status(int status);
// Finishes the trace (end record, last frame). `how` is a dprof_end_how.
void finish_trace(uint32_t how, int64_t code);
// Before exec: put everything on disk and mark the end; after a failed exec, carry on.
void prepare_for_exec();
// A vfork child: it shares the parent's memory and must not change the parent's state.
bool is_vfork_child();
void exec_failed();

// Fatal-signal handling (signal_handlers.cpp).
void install_fatal_signal_handlers();
bool is_runtime_signal_handler_installed(int signal_number);
void forget_runtime_signal_handler(int signal_number);

}  // namespace dprof
