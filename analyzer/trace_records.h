// Decoded trace records, as the analyzer's models consume them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dprof::analyzer {

struct ProcessInfo {
  uint64_t pid = 0;
  uint64_t ppid = 0;
  uint64_t start_wall_ns = 0;
  uint64_t page_size = 4096;
  uint64_t flags = 0;
  std::string hostname;
  std::string executable;
  std::vector<std::string> command_line;
  std::string runtime_version;
  std::vector<std::string> options;
  // Since 1.5: 0 when every malloc-family allocation is an event, else the Poisson sampling rate in
  // bytes (include/damon_prof/trace_format.h).
  uint64_t allocation_sample_rate = 0;
};

struct Segment {
  uint64_t start = 0;
  uint64_t end = 0;
  bool executable = false;
};

struct ModuleInfo {
  uint64_t id = 0;
  uint64_t load_time_ns = 0;
  std::optional<uint64_t> unload_time_ns;
  uint64_t load_bias = 0;
  std::string path;
  std::string build_id;  // raw bytes
  std::vector<Segment> segments;
  uint64_t load_order = 0;  // position in the file, to pick among modules that shared an address
};

struct StackInfo {
  uint64_t id = 0;
  std::vector<uint64_t> frames;  // return addresses, innermost first
  uint64_t defined_order = 0;    // records read before this one: which modules were loaded
};

struct ThreadInfo {
  uint64_t index = 0;
  uint64_t tid = 0;
  uint64_t start_time_ns = 0;
  std::string name;
};

enum class EventKind : uint8_t { kAlloc = 1, kFree = 2, kMmap = 3, kMunmap = 4 };

struct Event {
  uint64_t time_ns = 0;
  uint64_t sequence = 0;  // arrival order: keeps each thread's own order among equal times
  uint64_t address = 0;
  uint64_t size = 0;  // alloc size or mapping length
  uint64_t stack_id = 0;
  uint32_t thread_index = 0;
  uint32_t prot = 0;
  uint32_t flags = 0;
  EventKind kind = EventKind::kAlloc;
  uint8_t function = 0;  // dprof_alloc_function
};

struct MemorySample {
  uint64_t time_ns = 0;
  uint64_t rss_bytes = 0;
  uint64_t heap_in_use_bytes = 0;
  uint64_t heap_arena_bytes = 0;
  uint64_t runtime_bytes = 0;  // since 1.4: damon-prof's own resident memory (part of rss_bytes)
};

struct EndInfo {
  uint64_t time_ns = 0;
  uint32_t how = 0;  // dprof_end_how
  int64_t code = 0;
  uint64_t dropped_events = 0;
};

struct MonitorSettingsInfo {
  uint64_t time_ns = 0;
  std::string backend;  // "uffd-wp", "none", ...
  std::string reason;   // why this backend, or why none
  uint64_t sampling_ns = 0;
  uint64_t aggregation_ns = 0;
  uint64_t update_ns = 0;
  uint64_t min_regions = 0;
  uint64_t max_regions = 0;
  uint64_t overhead_budget_ppm = 0;
  uint64_t measured_overhead_ppm = 0;
};

struct SnapshotRegion {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t nr_accesses = 0;
  uint64_t age = 0;
  uint64_t read_samples = 0;
  uint64_t write_samples = 0;
  uint64_t written_pages = 0;
  // Sampling intervals in which read sampling watched a page of the region (since 1.8, when
  // read_probes_known): none means its reads were not seen.
  uint64_t read_probes = 0;
};

struct RegionSnapshot {
  uint64_t time_ns = 0;  // end of the aggregation interval
  uint64_t sampling_ns = 0;
  uint64_t aggregation_ns = 0;
  std::vector<SnapshotRegion> regions;
  // The regions carry read_probes: read sampling ran during this snapshot (traces before 1.8,
  // and snapshots after read sampling stopped, do not say).
  bool read_probes_known = false;
};

// A sampled page the program touched (mprotect backend): where, and the instruction that did it.
struct AccessSample {
  uint64_t time_ns = 0;  // of the fault (since 1.7; before, the end of its sampling interval)
  uint64_t thread_id = 0;
  uint64_t page = 0;
  uint64_t address = 0;  // the address touched (since 1.7; before, the page)
  uint64_t pc = 0;
  bool is_write = false;
  std::vector<uint8_t> code;  // the instruction's first bytes
};

// A marker or phase boundary the program annotated (include/damon_prof/annotate.h).
enum class AnnotationKind : uint32_t { kMarker = 1, kPhaseBegin = 2, kPhaseEnd = 3 };
struct Annotation {
  uint64_t time_ns = 0;
  uint64_t thread_id = 0;
  AnnotationKind kind = AnnotationKind::kMarker;
  std::string name;
};

// Exact counts of the malloc family (DPROF_REC_ALLOCATION_TOTALS, since 1.5).
struct AllocationTotals {
  uint64_t time_ns = 0;
  uint64_t allocations = 0;
  uint64_t allocated_bytes = 0;
  uint64_t releases = 0;
  uint64_t lost_sampled_blocks = 0;
};

// A child process the program started (DPROF_REC_CHILD); `how` is a dprof_child_how.
struct ChildStart {
  uint64_t time_ns = 0;
  uint64_t pid = 0;  // 0: not known (system(), popen())
  uint32_t how = 0;
};

struct Diagnostic {
  uint64_t time_ns = 0;
  uint64_t severity = 0;
  std::string text;
};

}  // namespace dprof::analyzer
