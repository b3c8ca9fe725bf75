// One pass over a trace, producing everything the reports show: process facts, heap totals, and
// per-site figures. A site is one distinct call stack of the program (the runtime's own frames
// removed), named by its first frame outside the allocation machinery.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "attribution.h"
#include "heap_model.h"
#include "phases.h"
#include "symbolizer.h"
#include "trace_decoder.h"
#include "trace_records.h"

namespace dprof::analyzer {

struct SiteFrame {
  uint64_t address = 0;
  std::string function;
  std::string file;
  uint32_t line = 0;
  std::string module;
  uint64_t module_offset = 0;
  bool inlined = false;
};

struct Site {
  std::vector<uint64_t> addresses;  // return addresses, innermost first, runtime frames removed
  uint64_t defined_order = 0;
  uint64_t alloc_count = 0;
  uint64_t alloc_bytes = 0;
  uint64_t peak_bytes = 0;  // live at the moment of the global peak
  uint64_t peak_count = 0;  // blocks live then
  uint64_t leaked_bytes = 0;
  uint64_t leaked_count = 0;
  uint64_t temporary_count = 0;
  uint64_t mmap_count = 0;
  AccessMetrics access;           // hot and idle memory (docs/metrics.md); zero without snapshots
  std::vector<SiteFrame> frames;  // filled by symbolize(); inlined frames expanded
  size_t name_frame = 0;          // index in frames of the frame that names the site
};

// The footprint over time: one point per memory sample or snapshot, merged pairwise (keeping each
// series' largest value) whenever there are more than kMaxPoints, so it stays bounded.
struct TimelinePoint {
  uint64_t time_ns = 0;
  uint64_t rss_bytes = 0;
  uint64_t heap_bytes = 0;         // live bytes of tracked allocations
  uint64_t working_set_bytes = 0;  // monitored bytes accessed in the last interval
  uint64_t monitored_bytes = 0;
  uint64_t idle_bytes = 0;
};

class Timeline {
 public:
  static constexpr size_t kMaxPoints = 2048;
  void add(const TimelinePoint& point);
  const std::vector<TimelinePoint>& points() const { return points_; }

 private:
  std::vector<TimelinePoint> points_;
  size_t stride_ = 1;   // source points per stored point
  size_t pending_ = 0;  // source points folded into the last stored point
};

// Percentiles of a value seen many times (the working set size per snapshot), in bounded memory:
// logarithmic buckets, 32 per power of two (about 2% relative error); the maximum is exact.
class LogHistogram {
 public:
  void add(uint64_t value);
  uint64_t percentile(double fraction) const;
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t max_ = 0;
  double sum_ = 0;
};

// An instruction that touched sampled pages, and whose allocations they were.
struct AccessSite {
  uint64_t pc = 0;
  std::vector<uint8_t> code;
  uint64_t reads = 0;
  uint64_t writes = 0;
  struct Target {
    std::optional<size_t> site;  // index into Analysis::sites; none: no live allocation there
    uint64_t reads = 0;
    uint64_t writes = 0;
  };
  std::vector<Target> targets;  // most samples first
};

struct AnalysisOptions {
  uint64_t idle_threshold_ns = 1'000'000'000;  // --idle
};

constexpr size_t kMaxChildStarts = 100000;

struct ChildTrace {
  std::string path;
  ProcessInfo process;
  uint32_t how = 0;    // dprof_child_how from the parent's trace; 0 when the parent did not note it
  uint32_t depth = 1;  // 1: started by the traced process, 2: by one of its children, ...
};

struct ProcessTree {
  std::vector<ChildTrace> traces;  // depth first, each process's children in start order
  // Children the traced process noted (with a pid) for which no trace was found: programs the
  // runtime cannot be preloaded into (static, setuid) or that ended before recording anything.
  std::vector<ChildStart> untraced;
};

struct Analysis {
  std::string path;
  DecodeSummary decode;
  std::optional<ProcessInfo> process;
  std::optional<EndInfo> end;
  HeapTotals totals;
  // A sampled trace (--sample-rate): the rate in bytes; 0 when every allocation was recorded.
  // Then `totals` and the sites' figures are estimates, and `exact_totals` holds the runtime's
  // own exact counts (also written by exact traces since 1.5, as a cross-check).
  uint64_t allocation_sample_rate = 0;
  std::optional<AllocationTotals> exact_totals;
  uint64_t peak_rss_bytes = 0;
  uint64_t memory_samples = 0;
  // damon-prof's own resident memory over the memory samples (0 in traces before format 1.4).
  uint64_t peak_runtime_bytes = 0;
  uint64_t last_runtime_bytes = 0;
  uint64_t thread_count = 0;
  uint64_t duration_ns = 0;
  std::vector<ModuleInfo> modules;
  std::vector<Site> sites;
  std::vector<Diagnostic> diagnostics;
  std::vector<MonitorSettingsInfo> monitor_settings;  // in trace order; empty: no monitor ran
  uint64_t snapshot_count = 0;
  uint64_t access_sample_reads = 0;   // sampled pages the program read (mprotect backend)
  uint64_t access_sample_writes = 0;  // ... and wrote
  uint64_t idle_threshold_ns = 0;
  uint64_t page_size = 4096;
  uint64_t snapshot_first_ns = 0;  // start of the first snapshot's interval
  uint64_t snapshot_last_ns = 0;
  Timeline timeline;
  LogHistogram working_set;              // working set size per snapshot
  std::vector<AccessSite> access_sites;  // most samples first
  // What the program annotated (include/damon_prof/annotate.h); bounded lists, full counts.
  std::vector<Marker> markers;
  uint64_t marker_count = 0;
  std::vector<PhaseSpan> phase_spans;
  uint64_t phase_span_count = 0;
  std::vector<PhaseStats> phases;  // in order of first appearance
  // The child processes the program started, in time order (at most kMaxChildStarts kept).
  std::vector<ChildStart> child_starts;
  uint64_t child_start_count = 0;
  // The traces those children (and theirs) wrote: filled by attach_child_traces (process_tree.h),
  // which reads the trace's directory, so only when a report asks for it.
  std::optional<ProcessTree> process_tree;
  // Which site each recorded stack belongs to (index into `sites`).
  std::unordered_map<uint64_t, size_t> site_of_stack;
  std::vector<std::string> warnings;  // symbolization problems and the like
  bool symbolized = false;
  // The symbolizer every symbolize_sites call uses (symbolizer_for): built once, so that a report
  // reads and decompresses each module's debug information once, not once per ranking. It
  // refers to `modules` by address: a copied or moved Analysis builds its own.
  std::shared_ptr<Symbolizer> symbolizer;
  const std::vector<ModuleInfo>* symbolizer_modules = nullptr;
};

// Reads and models the whole trace. Throws TraceError when the file cannot be read at all.
Analysis analyze_trace(const std::string& path, ReaderOptions options = {},
                       AnalysisOptions analysis_options = {});

// Symbolizes the given sites (all when `site_indices` is empty).
void symbolize_sites(Analysis& analysis, const std::vector<size_t>& site_indices = {});
// The analysis's symbolizer, built on first use.
Symbolizer& symbolizer_for(Analysis& analysis);

// True for functions that are part of allocating rather than the reason for it (malloc family,
// operator new/delete, the standard library's allocator and container internals).
bool is_allocation_machinery(const std::string& function);

}  // namespace dprof::analyzer
