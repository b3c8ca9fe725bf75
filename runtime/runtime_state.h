// The runtime's lifecycle: one process-wide state, initialised lazily by the first hooked call
// (which may come before any constructor runs) and finished exactly once at exit, _exit, exec or a
// fatal signal.
#pragma once

#include <pthread.h>
#include <stdint.h>

namespace dprof {

enum class RuntimeStatus : int {
  kUninitialized = 0,
  kInitializing = 1,
  kActive = 2,       // recording
  kFinished = 3,     // the trace is closed; hooks only forward
  kDisabled = 4,     // no trace could be opened; hooks only forward
  kForkPending = 5,  // a fork child that has not recorded anything yet
};

// True when this call should be recorded. Initialises the runtime on first use.
bool recording_active();
// True while recording, without starting it.
bool recording_started();
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
