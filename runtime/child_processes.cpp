#include "child_processes.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "byte_writer.h"
#include "damon_prof/trace_format.h"
#include "event_recorder.h"
#include "runtime_state.h"
#include "sys.h"
#include "thread_ring.h"
#include "thread_state.h"

extern char** environ;

namespace dprof::child_processes {
namespace {

constexpr size_t kMaxSavedVariables = 32;
constexpr size_t kSavedBytes = 6144;

bool g_captured = false;
bool g_follow = true;
pid_t g_root_pid = 0;
// "NAME=value" copies of the DAMON_PROF_* variables this process started with.
char g_saved_text[kSavedBytes];
const char* g_saved[kMaxSavedVariables];
size_t g_saved_count = 0;
char g_runtime_path[1024];

bool starts_with(const char* text, const char* prefix) {
  return strncmp(text, prefix, strlen(prefix)) == 0;
}

// Length of "NAME=" in "NAME=value", or 0 when there is no '='.
size_t name_length(const char* entry) {
  const char* equals = strchr(entry, '=');
  return equals == nullptr ? 0 : static_cast<size_t>(equals - entry) + 1;
}

// True when the colon- or space-separated list `list` names `item`.
bool list_contains(const char* list, const char* item) {
  size_t item_length = strlen(item);
  if (item_length == 0) return false;
  for (const char* cursor = list; *cursor != '\0';) {
    size_t length = strcspn(cursor, ": ");
    if (length == item_length && strncmp(cursor, item, length) == 0) return true;
    cursor += length;
    if (*cursor != '\0') ++cursor;
  }
  return false;
}

}  // namespace

void capture_settings() {
  if (g_captured) return;
  g_captured = true;
  const char* no_follow = getenv("DAMON_PROF_NO_FOLLOW");
  g_follow = no_follow == nullptr || no_follow[0] == '\0' || strcmp(no_follow, "0") == 0;
  if (const char* root = getenv("DAMON_PROF_OUTPUT_PID")) g_root_pid = atoi(root);
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&capture_settings), &info) != 0 && info.dli_fname != nullptr &&
      strlen(info.dli_fname) < sizeof(g_runtime_path)) {
    strcpy(g_runtime_path, info.dli_fname);
  }
  size_t used = 0;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (!starts_with(*entry, "DAMON_PROF_") || g_saved_count == kMaxSavedVariables) continue;
    size_t length = strlen(*entry) + 1;
    if (used + length > sizeof(g_saved_text)) continue;
    memcpy(g_saved_text + used, *entry, length);
    g_saved[g_saved_count++] = g_saved_text + used;
    used += length;
  }
}

bool is_followed(pid_t pid) {
  return g_follow || g_root_pid == 0 || pid == g_root_pid;
}

bool follows_children() {
  return g_follow;
}

void record_child(uint64_t pid, uint32_t how) {
  if (thread_state().in_runtime != 0) return;
  // A vfork child must not start the parent's recording nor claim a ring for the parent's thread
  // (it would carry the child's tid): it only adds to the ring that thread already has.
  if (is_vfork_child()) {
    if (!recording_started() || thread_state().ring == nullptr) return;
  } else if (!recording_active()) {
    return;
  }
  RuntimeScope scope;
  Ring* ring = recorder::ring_for_this_thread();
  if (ring == nullptr) return;
  uint8_t body[48];
  uint8_t record[64];
  ring->begin_event();  // busy before the clock is read, as for events (thread_ring.h)
  ByteWriter writer(body, sizeof(body));
  writer.u64(ring->stamp(recorder::now_ns()));
  writer.u64(pid);
  writer.u64(how);
  ByteWriter framed(record, sizeof(record));
  framed.u64(DPROF_REC_CHILD);
  framed.bytes(body, writer.size());
  if (!writer.overflowed() && !framed.overflowed()) {
    recorder::push_raw_record(ring, record, framed.size());
  }
  ring->end_event();
}

ExecEnvironment::ExecEnvironment(char* const envp[], bool replaces_traced_image) : result_(envp) {
  if (!g_captured || envp == nullptr || g_runtime_path[0] == '\0') return;
  if (!g_follow && !replaces_traced_image) return;
  const char* preload = nullptr;
  size_t count = 0;
  for (; envp[count] != nullptr; ++count) {
    if (starts_with(envp[count], "LD_PRELOAD=")) preload = envp[count] + strlen("LD_PRELOAD=");
  }
  // What is missing: the runtime in LD_PRELOAD, and each saved variable (by name).
  bool preload_missing = preload == nullptr || !list_contains(preload, g_runtime_path);
  bool missing[kMaxSavedVariables] = {};
  size_t missing_count = 0;
  for (size_t i = 0; i < g_saved_count; ++i) {
    size_t length = name_length(g_saved[i]);
    bool present = false;
    for (size_t j = 0; j < count && !present; ++j)
      present = strncmp(envp[j], g_saved[i], length) == 0;
    missing[i] = !present;
    if (!present) ++missing_count;
  }
  if (!preload_missing && missing_count == 0) return;
  if (count + missing_count + 2 > kMaxEntries) return;
  size_t out = 0;
  if (preload_missing) {
    int written =
        preload == nullptr || preload[0] == '\0'
            ? snprintf(preload_, sizeof(preload_), "LD_PRELOAD=%s", g_runtime_path)
            : snprintf(preload_, sizeof(preload_), "LD_PRELOAD=%s:%s", g_runtime_path, preload);
    if (written < 0 || static_cast<size_t>(written) >= sizeof(preload_)) return;
    entries_[out++] = preload_;
  }
  for (size_t j = 0; j < count; ++j) {
    if (preload_missing && starts_with(envp[j], "LD_PRELOAD=")) continue;
    entries_[out++] = envp[j];
  }
  for (size_t i = 0; i < g_saved_count; ++i) {
    if (missing[i]) entries_[out++] = const_cast<char*>(g_saved[i]);
  }
  entries_[out] = nullptr;
  result_ = entries_;
}

}  // namespace dprof::child_processes
