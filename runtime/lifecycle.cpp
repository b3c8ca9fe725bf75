// Start-up, fork, exec and exit of the runtime. See runtime_state.h.
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

#include "allocation_sampler.h"
#include "byte_writer.h"
#include "child_processes.h"
#include "damon_prof/trace_format.h"
#include "environment_check.h"
#include "event_recorder.h"
#include "internal_alloc.h"
#include "module_map.h"
#include "monitor/monitor_thread.h"
#include "monitor/page_guard.h"
#include "output_file.h"
#include "real_functions.h"
#include "runtime_state.h"
#include "stack_capture.h"
#include "stack_table.h"
#include "sys.h"
#include "thread_ring.h"
#include "thread_stacks.h"
#include "thread_state.h"
#include "trace_writer.h"

#ifndef DAMON_PROF_VERSION
#define DAMON_PROF_VERSION "0.0.0"
#endif

namespace dprof {

__thread ThreadState tls_thread_state __attribute__((tls_model("initial-exec"))) = {};

namespace detail {
std::atomic<int> g_status{static_cast<int>(RuntimeStatus::kUninitialized)};
}  // namespace detail

namespace {

using detail::g_status;
pthread_key_t g_thread_key;
bool g_thread_key_created = false;
bool g_atfork_registered = false;
pid_t g_traced_pid = 0;
bool g_is_fork_child = false;
pid_t g_fork_parent_pid = 0;  // for a fork child: who forked it (getppid() may already be init)
std::atomic<bool> g_exit_status_known{false};
std::atomic<int> g_exit_status{0};
bool g_verbose = false;

void verbose(const char* message, const char* detail) {
  if (!g_verbose) return;
  char line[1024];
  int length = snprintf(line, sizeof(line), "damon-prof[%d]: %s%s\n", sys::current_pid(), message,
                        detail == nullptr ? "" : detail);
  if (length > 0)
    sys::write_all(2, line,
                   static_cast<size_t>(length) < sizeof(line) ? static_cast<size_t>(length)
                                                              : sizeof(line) - 1);
}

// A DAMON_PROF_* interval in milliseconds (environment_check.cpp gives the range), or the default.
uint64_t env_milliseconds(const char* name, uint64_t fallback) {
  uint64_t milliseconds = 0;
  if (!environment_check::number_from_environment(name, &milliseconds)) return fallback;
  return milliseconds * 1000000ull;
}

void on_thread_exit(void* ring) {
  if (ring == nullptr) return;
  // Other keys' destructors (and the C library after them) may still free memory on this thread:
  // stay registered until the last round, and keep the ring. The writer frees it once the thread
  // is gone, so nothing the thread does until then is lost or needs a second ring.
  if (++thread_state().exit_rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
    pthread_setspecific(g_thread_key, ring);
    return;
  }
  ring_registry::mark_exited(static_cast<Ring*>(ring));
}

// Reads a whole small /proc file into `buffer`; returns the byte count.
size_t read_proc_file(const char* path, char* buffer, size_t capacity) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t total = 0;
  while (total < capacity) {
    ssize_t length = read(fd, buffer + total, capacity - total);
    if (length <= 0) break;
    total += static_cast<size_t>(length);
  }
  close(fd);
  return total;
}

size_t encode_process_record(uint8_t* out, size_t capacity, bool replaced_earlier_image) {
  auto* body = static_cast<uint8_t*>(internal_alloc::allocate(capacity));
  auto* text = static_cast<char*>(internal_alloc::allocate(8192));
  if (body == nullptr || text == nullptr) return 0;
  ByteWriter writer(body, capacity);
  writer.u64(static_cast<uint64_t>(g_traced_pid));
  writer.u64(static_cast<uint64_t>(g_is_fork_child ? g_fork_parent_pid : getppid()));
  writer.u64(sys::realtime_ns());
  writer.u64(static_cast<uint64_t>(sysconf(_SC_PAGESIZE)));
  uint64_t flags = 0;
  if (g_is_fork_child) flags |= DPROF_PROCESS_FORKED;
  if (replaced_earlier_image) flags |= DPROF_PROCESS_EXECED;
  writer.u64(flags);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  writer.str(host);
  ssize_t exe_length = readlink("/proc/self/exe", text, 4095);
  writer.bytes(text, exe_length > 0 ? static_cast<size_t>(exe_length) : 0);
  size_t cmdline_length = read_proc_file("/proc/self/cmdline", text, 8191);
  writer.bytes(text, cmdline_length);
  writer.str(DAMON_PROF_VERSION);
  int options_length =
      snprintf(text, 8192, "flush_interval_ms=%llu%csample_interval_ms=%llu%cfollow_children=%d",
               static_cast<unsigned long long>(
                   env_milliseconds("DAMON_PROF_FLUSH_INTERVAL", 1000000000ull) / 1000000ull),
               '\0',
               static_cast<unsigned long long>(
                   env_milliseconds("DAMON_PROF_SAMPLE_INTERVAL", 100000000ull) / 1000000ull),
               '\0', child_processes::follows_children() ? 1 : 0);
  if (options_length > 0 && options_length < 8000) {
    options_length += snprintf(text + options_length, 8192 - static_cast<size_t>(options_length),
                               "%csample_rate=%llu%cunwind=%s", '\0',
                               static_cast<unsigned long long>(allocation_sampler::rate_bytes()),
                               '\0', frame_pointer_unwinding() ? "fp" : "dwarf");
  }
  writer.bytes(text, options_length > 0 ? static_cast<size_t>(options_length) : 0);
  writer.u64(allocation_sampler::rate_bytes());
  ByteWriter record(out, capacity);
  record.u64(DPROF_REC_PROCESS);
  record.bytes(body, writer.size());
  internal_alloc::release(body);
  internal_alloc::release(text);
  return writer.overflowed() || record.overflowed() ? 0 : record.size();
}

void before_fork() {
  if (g_status.load() != static_cast<int>(RuntimeStatus::kActive)) return;
  // Nothing protected across fork: the child would inherit inaccessible pages.
  page_guard::pause_begin();
  internal_alloc::lock_all_for_fork();
  module_map::lock_for_fork();
}

void after_fork_in_parent() {
  if (g_status.load() != static_cast<int>(RuntimeStatus::kActive)) return;
  module_map::unlock_after_fork(false);
  internal_alloc::unlock_all_after_fork(false);
  page_guard::pause_end();
}

void after_fork_in_child() {
  if (g_status.load() != static_cast<int>(RuntimeStatus::kActive)) return;
  module_map::unlock_after_fork(true);
  internal_alloc::unlock_all_after_fork(true);
  // The child writes its own trace, from nothing: no rings, stacks or modules of the parent's.
  stack_table::reset();
  ring_registry::reset_after_fork();
  module_map::reset();
  trace_writer::forget_after_fork();
  monitor::forget_monitor_after_fork();
  page_guard::reset_after_fork();
  thread_stacks::reset_after_fork();
  thread_state().ring = nullptr;
  thread_state().sampler_seeded = 0;  // not the parent's sequence of sample points
  g_is_fork_child = true;
  g_fork_parent_pid = g_traced_pid;
  g_traced_pid = sys::current_pid();  // from here on only a vfork child has another pid
  // The trace is only created if the child records something (a fork that execs at once leaves
  // no empty file behind). Under --no-follow the child is not traced at all.
  g_status.store(static_cast<int>(child_processes::follows_children() ? RuntimeStatus::kForkPending
                                                                      : RuntimeStatus::kDisabled));
}

void record_environment_problems();

bool initialize() {
  RuntimeScope scope;
  resolve_real_functions();
  g_verbose = getenv("DAMON_PROF_VERBOSE") != nullptr;
  child_processes::capture_settings();
  if (!child_processes::is_followed(sys::current_pid())) {
    verbose("--no-follow: not tracing this child process", nullptr);
    return false;
  }
  if (!g_thread_key_created) {
    if (pthread_key_create(&g_thread_key, on_thread_exit) != 0) return false;
    g_thread_key_created = true;
  }
  g_traced_pid = sys::current_pid();
  recorder::set_time_origin(sys::monotonic_ns());
  allocation_sampler::configure_from_environment();
  configure_stack_capture_from_environment();
  char path[4096];
  bool replaced_earlier_image = false;
  int fd = output_file::create(path, sizeof(path), &replaced_earlier_image);
  if (fd < 0) {
    verbose("cannot create the trace file, not recording: ", strerror(errno));
    return false;
  }
  constexpr size_t kRecordCapacity = 32768;
  auto* record = static_cast<uint8_t*>(internal_alloc::allocate(kRecordCapacity));
  size_t record_size = record == nullptr
                           ? 0
                           : encode_process_record(record, kRecordCapacity, replaced_earlier_image);
  trace_writer::Settings settings{};
  settings.drain_interval_ns = 10000000ull;
  settings.flush_interval_ns = env_milliseconds("DAMON_PROF_FLUSH_INTERVAL", 1000000000ull);
  settings.sample_interval_ns = env_milliseconds("DAMON_PROF_SAMPLE_INTERVAL", 100000000ull);
  settings.compression_level = 3;
  bool started = record_size != 0 && trace_writer::start(fd, settings, record, record_size);
  internal_alloc::release(record);
  if (!started) {
    close(fd);
    verbose("cannot start the trace writer, not recording", nullptr);
    return false;
  }
  if (!g_atfork_registered) {
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
    g_atfork_registered = true;
  }
  install_fatal_signal_handlers();
  // The thread that starts the runtime (the main thread, nearly always) was not started through
  // the pthread_create hook: its stack and TLS are recorded here.
  thread_stacks::record_current_thread();
  verbose("recording to ", path);
  monitor::start_monitor();
  record_environment_problems();
  return true;
}

void push_record(uint32_t type, const uint8_t* body, size_t length) {
  RuntimeScope scope;
  Ring* ring = recorder::ring_for_this_thread();
  if (ring == nullptr) return;
  uint8_t buffer[512];
  ByteWriter record(buffer, sizeof(buffer));
  record.u64(type);
  record.bytes(body, length);
  if (!record.overflowed()) recorder::push_raw_record(ring, buffer, record.size());
}

// Every DAMON_PROF_* variable that is unknown or has a value the runtime cannot use (it uses the
// default instead) becomes a warning in the trace, and on stderr with DAMON_PROF_VERBOSE.
void record_environment_problems() {
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    char problem[200];
    auto verdict = environment_check::check_entry(*entry, problem, sizeof(problem));
    if (verdict != environment_check::Verdict::kUnknownName &&
        verdict != environment_check::Verdict::kInvalidValue) {
      continue;
    }
    verbose(problem, nullptr);
    uint8_t body[256];
    ByteWriter writer(body, sizeof(body));
    writer.u64(recorder::now_ns());
    writer.u64(1);
    writer.str(problem);
    if (!writer.overflowed()) push_record(DPROF_REC_DIAGNOSTIC, body, writer.size());
  }
}

}  // namespace

pthread_key_t runtime_thread_key() {
  return g_thread_key;
}

bool recording_active_slow() {
  int status = g_status.load(std::memory_order_acquire);
  if (status == static_cast<int>(RuntimeStatus::kActive)) return true;
  if (status != static_cast<int>(RuntimeStatus::kUninitialized) &&
      status != static_cast<int>(RuntimeStatus::kForkPending)) {
    return false;
  }
  if (!g_status.compare_exchange_strong(status, static_cast<int>(RuntimeStatus::kInitializing))) {
    return g_status.load() == static_cast<int>(RuntimeStatus::kActive);
  }
  bool ok = initialize();
  g_status.store(static_cast<int>(ok ? RuntimeStatus::kActive : RuntimeStatus::kDisabled),
                 std::memory_order_release);
  return ok;
}

void note_exit_status(int status) {
  g_exit_status.store(status);
  g_exit_status_known.store(true);
}

void finish_trace(uint32_t how, int64_t code) {
  int expected = static_cast<int>(RuntimeStatus::kActive);
  if (!g_status.compare_exchange_strong(expected, static_cast<int>(RuntimeStatus::kFinished))) {
    return;
  }
  // Not waiting for the monitor: this may run in a signal handler. Read sampling ends here
  // though (every protected page restored, nothing protected again): from now on the hooks
  // forward without counting blocks, and a block counted nowhere must never share a
  // protected page.
  page_guard::disable(nullptr);
  monitor::stop_monitor(/*wait=*/false);
  trace_writer::finish(how, code);
}

void prepare_for_exec() {
  // A vfork child shares the parent's memory: it must not touch the parent's trace.
  if (sys::current_pid() != g_traced_pid) return;
  if (g_status.load() != static_cast<int>(RuntimeStatus::kActive)) return;
  uint8_t body[32];
  ByteWriter writer(body, sizeof(body));
  writer.u64(recorder::now_ns());
  writer.u64(DPROF_END_EXEC);
  writer.s64(0);
  writer.u64(ring_registry::dropped_events());
  push_record(DPROF_REC_END, body, writer.size());
  trace_writer::flush_and_wait();
}

bool is_vfork_child() {
  return sys::current_pid() != g_traced_pid;
}

void exec_failed() {
  if (sys::current_pid() != g_traced_pid) return;
  if (g_status.load() != static_cast<int>(RuntimeStatus::kActive)) return;
  int saved = errno;
  uint8_t body[96];
  ByteWriter writer(body, sizeof(body));
  writer.u64(recorder::now_ns());
  writer.u64(1);
  writer.str("exec failed; the process and its trace go on");
  push_record(DPROF_REC_DIAGNOSTIC, body, writer.size());
  errno = saved;
}

namespace {

__attribute__((constructor)) void on_load() {
  recording_active();
}

// libstdc++ keeps an emergency pool for exceptions that it never frees; like valgrind and
// heaptrack, hand it back at a normal exit so that it is not reported as every C++ program's leak.
void release_libstdcxx_pool() {
  void* freeres;
  {
    RuntimeScope scope;
    freeres = dlsym(RTLD_DEFAULT, "_ZN9__gnu_cxx9__freeresEv");
  }
  if (freeres != nullptr) reinterpret_cast<void (*)()>(freeres)();
}

__attribute__((destructor)) void on_unload() {
  if (g_exit_status_known.load()) {
    if (g_status.load() == static_cast<int>(RuntimeStatus::kActive)) release_libstdcxx_pool();
    finish_trace(DPROF_END_EXIT, g_exit_status.load());
  } else {
    finish_trace(DPROF_END_UNKNOWN_STATUS, 0);
  }
}

}  // namespace
}  // namespace dprof
