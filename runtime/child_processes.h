// Child processes: which ones the program started (DPROF_REC_CHILD records, so that `report` can
// find their traces), whether they are traced at all (--no-follow), and the environment that
// carries the runtime on to a new program image when the program hands exec or posix_spawn an
// environment of its own making (`env -i`, a sanitized copy) without it.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace dprof::child_processes {

// Reads DAMON_PROF_NO_FOLLOW, the pid damon-prof started, the runtime's own path and the
// DAMON_PROF_* variables a child needs. Runs once, at start-up, before the program can change them.
void capture_settings();

// False for a process that must not be traced: --no-follow was given and this is not the process
// damon-prof started (nor an image that replaced it by exec).
bool is_followed(pid_t pid);
bool follows_children();

// The program started child `pid` (0: not known) `how` (a dprof_child_how). Safe in a vfork child:
// it writes to the suspended parent thread's ring and leaves no state behind.
void record_child(uint64_t pid, uint32_t how);

// The environment to hand to exec or posix_spawn: `envp` itself when it already carries the
// runtime (the usual case: a copy of environ) or when children are not followed, else a copy with
// LD_PRELOAD and the DAMON_PROF_* variables added. Built on the caller's stack, without allocating,
// because a vfork child may use it. Environments too large for it are passed on unchanged.
class ExecEnvironment {
 public:
  // `replaces_traced_image`: exec in the process damon-prof follows (kept under --no-follow).
  ExecEnvironment(char* const envp[], bool replaces_traced_image);
  ExecEnvironment(const ExecEnvironment&) = delete;
  ExecEnvironment& operator=(const ExecEnvironment&) = delete;

  char* const* get() const { return result_; }

 private:
  static constexpr size_t kMaxEntries = 320;
  static constexpr size_t kPreloadBytes = 1536;
  char* const* result_;
  char* entries_[kMaxEntries];
  char preload_[kPreloadBytes];
};

}  // namespace dprof::child_processes
