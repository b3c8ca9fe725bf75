#include "process_tree.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "damon_prof/trace_format.h"
#include "trace_decoder.h"
#include "trace_error.h"

namespace dprof::analyzer {
namespace {

// A child can start a little before its parent's clock says so only through clock adjustments.
constexpr uint64_t kClockSlackNs = 1'000'000'000;

struct Candidate {
  std::string path;
  ProcessInfo process;
};

std::vector<Candidate> traces_beside(const std::string& parent_path, const ProcessInfo& parent) {
  std::filesystem::path directory = std::filesystem::path(parent_path).parent_path();
  if (directory.empty()) directory = ".";
  std::vector<Candidate> candidates;
  std::error_code error;
  std::filesystem::directory_iterator entries(directory, error);
  if (error) return candidates;
  std::error_code same_error;
  for (const auto& entry : entries) {
    if (entry.path().extension() != ".dprof" || !entry.is_regular_file(error)) continue;
    if (std::filesystem::equivalent(entry.path(), parent_path, same_error)) continue;
    try {
      std::optional<ProcessInfo> process = read_process_info(entry.path().string());
      if (!process || process->hostname != parent.hostname) continue;
      if (process->start_wall_ns + kClockSlackNs < parent.start_wall_ns) continue;
      candidates.push_back({entry.path().string(), std::move(*process)});
    } catch (const TraceError&) {
      // Not a trace, or not one this analyzer reads: not a child of this one.
    }
  }
  return candidates;
}

}  // namespace

void attach_child_traces(Analysis& analysis) {
  analysis.process_tree = find_child_traces(analysis);
}

const char* child_how_name(uint32_t how) {
  switch (how) {
    case DPROF_CHILD_FORK:
      return "fork";
    case DPROF_CHILD_VFORK_EXEC:
      return "vfork+exec";
    case DPROF_CHILD_SPAWN:
      return "posix_spawn";
    case DPROF_CHILD_SHELL:
      return "shell";
    default:
      return "";
  }
}

ProcessTree find_child_traces(const Analysis& parent) {
  ProcessTree tree;
  if (!parent.process) return tree;
  std::vector<Candidate> candidates = traces_beside(parent.path, *parent.process);
  std::map<uint64_t, std::vector<const Candidate*>> by_parent;
  for (const Candidate& candidate : candidates) {
    by_parent[candidate.process.ppid].push_back(&candidate);
  }
  for (auto& [ppid, children] : by_parent) {
    std::sort(children.begin(), children.end(), [](const Candidate* a, const Candidate* b) {
      if (a->process.start_wall_ns != b->process.start_wall_ns)
        return a->process.start_wall_ns < b->process.start_wall_ns;
      return a->path < b->path;
    });
  }
  std::map<uint64_t, uint32_t> how_by_pid;
  for (const ChildStart& start : parent.child_starts) {
    if (start.pid != 0) how_by_pid.emplace(start.pid, start.how);
  }
  std::set<uint64_t> visited{parent.process->pid};
  std::set<uint64_t> traced_pids;
  // Depth first; a pid is expanded once (an exec'd child writes several traces under one pid).
  auto visit = [&](auto& self, uint64_t pid, uint64_t start_wall_ns, uint32_t depth) -> void {
    auto children = by_parent.find(pid);
    if (children == by_parent.end()) return;
    for (const Candidate* candidate : children->second) {
      if (candidate->process.start_wall_ns + kClockSlackNs < start_wall_ns) continue;
      ChildTrace child;
      child.path = candidate->path;
      child.process = candidate->process;
      child.depth = depth;
      if (depth == 1) {
        traced_pids.insert(child.process.pid);
        auto how = how_by_pid.find(child.process.pid);
        if (how != how_by_pid.end()) child.how = how->second;
      }
      tree.traces.push_back(std::move(child));
      uint64_t child_pid = candidate->process.pid;
      if (visited.insert(child_pid).second) {
        self(self, child_pid, candidate->process.start_wall_ns, depth + 1);
      }
    }
  };
  visit(visit, parent.process->pid, parent.process->start_wall_ns, 1);
  for (const ChildStart& start : parent.child_starts) {
    if (start.pid != 0 && traced_pids.count(start.pid) == 0) tree.untraced.push_back(start);
  }
  return tree;
}

}  // namespace dprof::analyzer
