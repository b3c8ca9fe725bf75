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

#include "heap_model.h"
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
  uint64_t leaked_bytes = 0;
  uint64_t leaked_count = 0;
  uint64_t temporary_count = 0;
  uint64_t mmap_count = 0;
  std::vector<SiteFrame> frames;  // filled by symbolize(); inlined frames expanded
  size_t name_frame = 0;          // index in frames of the frame that names the site
};

struct Analysis {
  std::string path;
  DecodeSummary decode;
  std::optional<ProcessInfo> process;
  std::optional<EndInfo> end;
  HeapTotals totals;
  uint64_t peak_rss_bytes = 0;
  uint64_t memory_samples = 0;
  uint64_t thread_count = 0;
  uint64_t duration_ns = 0;
  std::vector<ModuleInfo> modules;
  std::vector<Site> sites;
  std::vector<Diagnostic> diagnostics;
  std::vector<MonitorSettingsInfo> monitor_settings;  // in trace order; empty: no monitor ran
  uint64_t snapshot_count = 0;
  uint64_t access_sample_reads = 0;   // sampled pages the program read (mprotect backend)
  uint64_t access_sample_writes = 0;  // ... and wrote
  // Which site each recorded stack belongs to (index into `sites`).
  std::unordered_map<uint64_t, size_t> site_of_stack;
  std::vector<std::string> warnings;  // symbolization problems and the like
  bool symbolized = false;
};

// Reads and models the whole trace. Throws TraceError when the file cannot be read at all.
Analysis analyze_trace(const std::string& path, ReaderOptions options = {});

// Symbolizes the given sites (all when `site_indices` is empty).
void symbolize_sites(Analysis& analysis, const std::vector<size_t>& site_indices = {});

// True for functions that are part of allocating rather than the reason for it (malloc family,
// operator new/delete, the standard library's allocator and container internals).
bool is_allocation_machinery(const std::string& function);

}  // namespace dprof::analyzer
