#include "analysis.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "build_id.h"
#include "damon_prof/trace_format.h"
#include "debug_file_prefetch.h"

namespace dprof::analyzer {
namespace {

bool is_runtime_module(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string_view name = slash == std::string::npos ? std::string_view(path)
                                                     : std::string_view(path).substr(slash + 1);
  return name.rfind("libdamon_prof", 0) == 0;
}

class AnalysisConsumer : public TraceConsumer {
 public:
  // `prefetch_debug_files`: inflate the debug files the sites will need while the trace is
  // decoded (see prefetch_debug_files()).
  AnalysisConsumer(Analysis& analysis, const AnalysisOptions& options, bool prefetch_debug_files)
      : analysis_(analysis),
        prefetch_debug_files_(prefetch_debug_files),
        attribution_(heap_, options.idle_threshold_ns) {
    analysis_.idle_threshold_ns = options.idle_threshold_ns;
  }

  void on_process(const ProcessInfo& info) override {
    analysis_.process = info;
    heap_.set_page_size(info.page_size);
    heap_.set_sample_rate(info.allocation_sample_rate);
    analysis_.allocation_sample_rate = info.allocation_sample_rate;
    analysis_.page_size = info.page_size == 0 ? 4096 : info.page_size;
  }
  void on_module_load(const ModuleInfo& module) override {
    std::string debug_file =
        prefetch_debug_files_ ? debug_file_for_build_id(module.build_id) : std::string();
    if (!debug_file.empty()) {
      for (const Segment& segment : module.segments) {
        if (segment.executable) with_debug_file_.push_back({segment, debug_file});
      }
    }
    analysis_.modules.push_back(module);
  }
  void on_module_unload(uint64_t id, uint64_t time_ns) override {
    for (ModuleInfo& module : analysis_.modules) {
      if (module.id == id && !module.unload_time_ns) module.unload_time_ns = time_ns;
    }
  }
  void on_stack(const StackInfo& stack) override {
    prefetch_debug_files(stack);
    stacks_[stack.id] = stack;
  }
  void on_thread(const ThreadInfo& thread) override {
    // The runtime's own threads (writer, monitor; runtime/trace_writer.cpp and
    // monitor/monitor_thread.cpp name them) are not the program's. Their exact names: a program
    // whose name starts "damon-prof-" (the demo) has its main thread named so.
    if (thread.name != "damon-prof-wr" && thread.name != "damon-prof-mon") {
      ++analysis_.thread_count;
    }
  }
  void prefetch(const Event& event) override { heap_.prefetch(event); }
  void on_event(const Event& event) override {
    heap_.apply(event);
    phases_.on_event(event, heap_.totals().live_bytes);
  }
  void on_annotation(const Annotation& annotation) override {
    phases_.on_annotation(annotation, heap_.totals().live_bytes);
  }
  void on_allocation_totals(const AllocationTotals& totals) override {
    analysis_.exact_totals = totals;
  }
  void on_child_start(const ChildStart& child) override {
    if (analysis_.child_start_count++ < kMaxChildStarts) analysis_.child_starts.push_back(child);
  }
  void on_memory_sample(const MemorySample& sample) override {
    ++analysis_.memory_samples;
    analysis_.peak_rss_bytes = std::max(analysis_.peak_rss_bytes, sample.rss_bytes);
    analysis_.peak_runtime_bytes = std::max(analysis_.peak_runtime_bytes, sample.runtime_bytes);
    analysis_.last_runtime_bytes = sample.runtime_bytes;
    phases_.on_rss_sample(sample.time_ns, sample.rss_bytes);
    last_sample_time_ = std::max(last_sample_time_, sample.time_ns);
    point_.time_ns = sample.time_ns;
    point_.rss_bytes = sample.rss_bytes;
    point_.heap_bytes = heap_.totals().live_bytes;
    analysis_.timeline.add(point_);
  }
  void on_end(const EndInfo& end) override { analysis_.end = end; }
  void on_monitor_settings(const MonitorSettingsInfo& settings) override {
    if (analysis_.monitor_settings.empty() &&
        settings.backend.find("mprotect") != std::string::npos) {
      attribution_.set_reads_watched_from(settings.time_ns);
    }
    analysis_.monitor_settings.push_back(settings);
  }
  void on_region_snapshot(const RegionSnapshot& snapshot) override {
    if (analysis_.snapshot_count++ == 0) {
      analysis_.snapshot_first_ns =
          snapshot.time_ns - std::min(snapshot.time_ns, snapshot.aggregation_ns);
    }
    analysis_.snapshot_last_ns = std::max(analysis_.snapshot_last_ns, snapshot.time_ns);
    SnapshotTotals totals = attribution_.on_snapshot(snapshot);
    analysis_.working_set.add(totals.working_set_bytes);
    point_.time_ns = snapshot.time_ns;
    point_.heap_bytes = heap_.totals().live_bytes;
    point_.working_set_bytes = totals.working_set_bytes;
    point_.monitored_bytes = totals.monitored_bytes;
    point_.idle_bytes = totals.idle_bytes;
    analysis_.timeline.add(point_);
  }
  void on_access_sample(const AccessSample& sample) override {
    ++(sample.is_write ? analysis_.access_sample_writes : analysis_.access_sample_reads);
    attribution_.on_access_sample(sample);
  }
  void on_diagnostic(const Diagnostic& diagnostic) override {
    analysis_.diagnostics.push_back(diagnostic);
    // A diagnostic after an exec's end record means the exec failed and the trace went on.
    if (analysis_.end && analysis_.end->how == DPROF_END_EXEC) analysis_.end.reset();
  }

  void build_sites() {
    Symbolizer modules_only(&analysis_.modules);
    std::map<std::vector<uint64_t>, size_t> site_by_addresses;
    std::unordered_map<uint64_t, size_t> stack_site;
    for (const auto& [stack_id, stats] : heap_.stacks()) {
      std::vector<uint64_t> addresses;
      uint64_t defined_order = 0;
      auto stack = stacks_.find(stack_id);
      if (stack != stacks_.end()) {
        defined_order = stack->second.defined_order;
        // The runtime's own frames (its hooks, and main_wrapper between libc and main) are not
        // the program's.
        for (uint64_t frame : stack->second.frames) {
          const ModuleInfo* module = modules_only.module_for(frame, defined_order);
          if (module == nullptr || !is_runtime_module(module->path)) addresses.push_back(frame);
        }
      }
      auto [position, inserted] = site_by_addresses.emplace(addresses, analysis_.sites.size());
      if (inserted) {
        Site site;
        site.addresses = addresses;
        site.defined_order = defined_order;
        analysis_.sites.push_back(std::move(site));
      }
      stack_site[stack_id] = position->second;
      Site& site = analysis_.sites[position->second];
      site.alloc_count += stats.alloc_count;
      site.alloc_bytes += stats.alloc_bytes;
      site.peak_bytes += heap_.bytes_at_peak(stats);
      site.peak_count += heap_.blocks_at_peak(stats);
      site.leaked_bytes += stats.live_bytes;
      site.leaked_count += stats.live_count;
      site.temporary_count += stats.temporary_count;
      site.mmap_count += stats.mmap_count;
    }
    // Stacks the access monitor saw but the heap model did not (none in a consistent trace).
    attribution_.finish();
    for (const auto& [stack_id, metrics] : attribution_.stacks()) {
      auto known = stack_site.find(stack_id);
      if (known != stack_site.end()) analysis_.sites[known->second].access.add(metrics);
    }
    std::vector<size_t> order(analysis_.sites.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [this](size_t left, size_t right) {
      const Site& a = analysis_.sites[left];
      const Site& b = analysis_.sites[right];
      if (a.peak_bytes != b.peak_bytes) return a.peak_bytes > b.peak_bytes;
      if (a.alloc_bytes != b.alloc_bytes) return a.alloc_bytes > b.alloc_bytes;
      return a.addresses < b.addresses;
    });
    std::vector<size_t> new_index(order.size());
    std::vector<Site> sorted;
    sorted.reserve(order.size());
    for (size_t position = 0; position < order.size(); ++position) {
      new_index[order[position]] = position;
      sorted.push_back(std::move(analysis_.sites[order[position]]));
    }
    analysis_.sites = std::move(sorted);
    for (auto& [stack, site] : stack_site) analysis_.site_of_stack[stack] = new_index[site];
    build_access_sites();
    analysis_.totals = heap_.totals();
    if (analysis_.allocation_sample_rate != 0 && analysis_.exact_totals) {
      // Counts the runtime kept exactly replace the estimates; what is live (and so the peak and
      // the leaks) can only be estimated.
      // Mappings and custom blocks are never sampled: their part of the totals stays.
      HeapTotals& totals = analysis_.totals;
      const AllocationTotals& exact = *analysis_.exact_totals;
      totals.alloc_count = totals.alloc_count - totals.malloc_count + exact.allocations;
      totals.alloc_bytes = totals.alloc_bytes - totals.malloc_bytes + exact.allocated_bytes;
      totals.malloc_count = exact.allocations;
      totals.malloc_bytes = exact.allocated_bytes;
      totals.free_count = exact.releases;
    }
    uint64_t end_time = analysis_.end ? analysis_.end->time_ns : 0;
    analysis_.duration_ns =
        std::max({end_time, analysis_.totals.last_event_time_ns, last_sample_time_});
    phases_.finish(analysis_.duration_ns);
    analysis_.markers = std::move(phases_.markers());
    analysis_.marker_count = phases_.marker_count();
    analysis_.phase_spans = std::move(phases_.spans());
    analysis_.phase_span_count = phases_.span_count();
    analysis_.phases = std::move(phases_.phases());
  }

 private:
  // Every verb symbolizes sites, and the debug file of a module their stacks pass through (the C
  // library's, nearly always) takes tens of milliseconds to inflate: while a large trace is
  // decoded it is inflated on another thread (debug_file_prefetch.h), once a stack shows that it
  // will be needed. (Not for small traces: with little decoding to overlap, handing the work to
  // another thread made a sampled trace's report 3-7 ms slower.)
  void prefetch_debug_files(const StackInfo& stack) {
    for (size_t i = 0; i < with_debug_file_.size();) {
      const ModuleCode& code = with_debug_file_[i];
      bool used = std::any_of(stack.frames.begin(), stack.frames.end(), [&code](uint64_t frame) {
        return frame >= code.segment.start && frame < code.segment.end;
      });
      if (!used) {
        ++i;
        continue;
      }
      debug_file_prefetch::start(code.debug_file);
      std::string started = code.debug_file;
      std::erase_if(with_debug_file_,
                    [&started](const ModuleCode& other) { return other.debug_file == started; });
    }
  }

  void build_access_sites() {
    std::unordered_map<uint64_t, size_t> by_pc;
    for (const auto& [key, counts] : attribution_.access_sites()) {
      auto [position, inserted] = by_pc.emplace(key.pc, analysis_.access_sites.size());
      if (inserted) {
        AccessSite site;
        site.pc = key.pc;
        auto code = attribution_.instruction_bytes().find(key.pc);
        if (code != attribution_.instruction_bytes().end()) site.code = code->second;
        analysis_.access_sites.push_back(std::move(site));
      }
      AccessSite& site = analysis_.access_sites[position->second];
      site.reads += counts.reads;
      site.writes += counts.writes;
      AccessSite::Target target;
      auto owner = analysis_.site_of_stack.find(key.stack_id);
      if (key.stack_id != 0 && owner != analysis_.site_of_stack.end()) target.site = owner->second;
      target.reads = counts.reads;
      target.writes = counts.writes;
      auto same = std::find_if(site.targets.begin(), site.targets.end(),
                               [&](const AccessSite::Target& t) { return t.site == target.site; });
      if (same == site.targets.end()) {
        site.targets.push_back(target);
      } else {
        same->reads += target.reads;
        same->writes += target.writes;
      }
    }
    auto total = [](const auto& item) { return item.reads + item.writes; };
    for (AccessSite& site : analysis_.access_sites) {
      std::sort(site.targets.begin(), site.targets.end(),
                [&](const auto& a, const auto& b) { return total(a) > total(b); });
    }
    std::sort(analysis_.access_sites.begin(), analysis_.access_sites.end(),
              [&](const AccessSite& a, const AccessSite& b) {
                return total(a) != total(b) ? total(a) > total(b) : a.pc < b.pc;
              });
  }

  Analysis& analysis_;
  HeapModel heap_;
  // The executable code of modules with a debug file not yet prefetched.
  struct ModuleCode {
    Segment segment;
    std::string debug_file;
  };
  std::vector<ModuleCode> with_debug_file_;
  bool prefetch_debug_files_;
  AccessAttribution attribution_;
  PhaseTracker phases_;
  TimelinePoint point_;  // the latest value of every series
  std::unordered_map<uint64_t, StackInfo> stacks_;
  uint64_t last_sample_time_ = 0;
};

}  // namespace

bool is_allocation_machinery(const std::string& function) {
  static const char* const kPrefixes[] = {
      "operator new",
      "operator delete",
      "std::",
      "__gnu_cxx::",
      "malloc",
      "calloc",
      "realloc",
      "reallocarray",
      "free",
      "memalign",
      "posix_memalign",
      "aligned_alloc",
      "valloc",
      "pvalloc",
      "__libc_malloc",
      "__libc_calloc",
      "__libc_realloc",
      "__libc_memalign",
      "mmap",
      "mmap64",
      "mremap",
      "__mmap",
      "__cxa_allocate_exception",
      "__cxa_allocate_dependent_exception",
  };
  for (const char* prefix : kPrefixes) {
    size_t length = std::char_traits<char>::length(prefix);
    if (function.compare(0, length, prefix) != 0) continue;
    // A whole name or its continuation ("operator new[](...)", "malloc(...)"), not "freezer".
    if (prefix[length - 1] == ':' || function.size() == length || function[length] == '(' ||
        function[length] == '<' || function[length] == '[' || function[length] == ' ') {
      return true;
    }
  }
  return false;
}

namespace {
// Merged points keep each series' largest value, so peaks survive any number of merges.
void keep_largest(TimelinePoint& into, const TimelinePoint& other) {
  into.rss_bytes = std::max(into.rss_bytes, other.rss_bytes);
  into.heap_bytes = std::max(into.heap_bytes, other.heap_bytes);
  into.working_set_bytes = std::max(into.working_set_bytes, other.working_set_bytes);
  into.monitored_bytes = std::max(into.monitored_bytes, other.monitored_bytes);
  into.idle_bytes = std::max(into.idle_bytes, other.idle_bytes);
}
}  // namespace

void Timeline::add(const TimelinePoint& point) {
  if (pending_ > 0 && pending_ < stride_) {
    keep_largest(points_.back(), point);
    ++pending_;
    return;
  }
  if (points_.size() == kMaxPoints) {
    // Halve the resolution: fold each pair into its first point.
    for (size_t i = 0; i < kMaxPoints / 2; ++i) {
      TimelinePoint merged = points_[2 * i];
      keep_largest(merged, points_[2 * i + 1]);
      points_[i] = merged;
    }
    points_.resize(kMaxPoints / 2);
    stride_ *= 2;
  }
  points_.push_back(point);
  pending_ = 1;
}

namespace {
constexpr int kBucketsPerOctave = 32;
size_t bucket_of(uint64_t value) {
  if (value == 0) return 0;
  return 1 + static_cast<size_t>(std::log2(static_cast<double>(value)) * kBucketsPerOctave);
}
uint64_t bucket_value(size_t bucket) {
  if (bucket == 0) return 0;
  return static_cast<uint64_t>(
      std::exp2((static_cast<double>(bucket - 1) + 0.5) / kBucketsPerOctave));
}
}  // namespace

void LogHistogram::add(uint64_t value) {
  size_t bucket = bucket_of(value);
  if (bucket >= buckets_.size()) buckets_.resize(bucket + 1, 0);
  ++buckets_[bucket];
  ++count_;
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value);
}

uint64_t LogHistogram::percentile(double fraction) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(count_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (size_t bucket = 0; bucket < buckets_.size(); ++bucket) {
    seen += buckets_[bucket];
    if (seen >= rank) return std::min(max_, bucket_value(bucket));
  }
  return max_;
}

Analysis analyze_trace(const std::string& path, ReaderOptions options,
                       AnalysisOptions analysis_options) {
  Analysis analysis;
  analysis.path = path;
  // Decoding a megabyte of trace takes longer than inflating the C library's debug file.
  constexpr off_t kPrefetchWorthBytes = off_t{1} << 20;
  struct stat status;
  bool large = stat(path.c_str(), &status) == 0 && status.st_size >= kPrefetchWorthBytes;
  AnalysisConsumer consumer(analysis, analysis_options, /*prefetch_debug_files=*/large);
  analysis.decode = decode_trace(path, consumer, std::move(options));
  consumer.build_sites();
  std::stable_sort(analysis.child_starts.begin(), analysis.child_starts.end(),
                   [](const ChildStart& a, const ChildStart& b) { return a.time_ns < b.time_ns; });
  return analysis;
}

Symbolizer& symbolizer_for(Analysis& analysis) {
  if (analysis.symbolizer == nullptr || analysis.symbolizer_modules != &analysis.modules) {
    analysis.symbolizer = std::make_shared<Symbolizer>(&analysis.modules);
    analysis.symbolizer_modules = &analysis.modules;
  }
  return *analysis.symbolizer;
}

void symbolize_sites(Analysis& analysis, const std::vector<size_t>& site_indices) {
  Symbolizer& symbolizer = symbolizer_for(analysis);
  auto symbolize_one = [&](Site& site) {
    if (!site.frames.empty()) return;
    for (uint64_t address : site.addresses) {
      const ResolvedAddress& resolved = symbolizer.resolve(address, site.defined_order);
      for (const SourceFrame& source : resolved.frames) {
        SiteFrame frame;
        frame.address = address;
        frame.function = source.function;
        frame.file = source.file;
        frame.line = source.line;
        frame.module = resolved.module;
        frame.module_offset = resolved.module_offset;
        frame.inlined = source.inlined;
        site.frames.push_back(std::move(frame));
      }
    }
    site.name_frame = 0;
    // A custom allocator's block is named after the caller of the allocator: the function that
    // called damon_prof_custom_alloc is the allocator itself.
    size_t first_candidate = 0;
    for (size_t i = 0; i < site.frames.size(); ++i) {
      if (site.frames[i].function.rfind("damon_prof_custom_alloc", 0) == 0) first_candidate = i + 2;
    }
    for (size_t i = first_candidate; i < site.frames.size(); ++i) {
      if (!site.frames[i].function.empty() && !is_allocation_machinery(site.frames[i].function)) {
        site.name_frame = i;
        break;
      }
    }
  };
  if (site_indices.empty()) {
    for (Site& site : analysis.sites) symbolize_one(site);
  } else {
    for (size_t index : site_indices) {
      if (index < analysis.sites.size()) symbolize_one(analysis.sites[index]);
    }
  }
  for (const std::string& warning : symbolizer.warnings()) {
    if (std::find(analysis.warnings.begin(), analysis.warnings.end(), warning) ==
        analysis.warnings.end()) {
      analysis.warnings.push_back(warning);
    }
  }
  analysis.symbolized = true;
}

}  // namespace dprof::analyzer
