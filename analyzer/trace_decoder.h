// Streams a trace into a TraceConsumer: definitions (process, modules, stacks, threads) as they
// are read, and memory events in one global time order. The runtime writes each thread's events
// separately; watermark records say up to which time every thread's events are in the file, so
// events are held in a small reorder buffer (one drain interval's worth) and released in order.
// Memory samples, region snapshots and access samples are held the same way and released in the
// same time order, so a consumer sees each snapshot with the heap as it was at the snapshot's time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trace_reader.h"
#include "trace_records.h"

namespace dprof::analyzer {

class TraceConsumer {
 public:
  virtual ~TraceConsumer() = default;
  virtual void on_process(const ProcessInfo&) {}
  virtual void on_module_load(const ModuleInfo&) {}
  virtual void on_module_unload(uint64_t /*module_id*/, uint64_t /*time_ns*/) {}
  virtual void on_stack(const StackInfo&) {}
  virtual void on_thread(const ThreadInfo&) {}
  virtual void on_event(const Event&) {}
  // An event that on_event will see soon: a hint to start loading what it will need.
  virtual void prefetch(const Event&) {}
  virtual void on_memory_sample(const MemorySample&) {}
  virtual void on_end(const EndInfo&) {}
  virtual void on_diagnostic(const Diagnostic&) {}
  virtual void on_monitor_settings(const MonitorSettingsInfo&) {}
  virtual void on_region_snapshot(const RegionSnapshot&) {}
  virtual void on_access_sample(const AccessSample&) {}
  virtual void on_annotation(const Annotation&) {}
  // In file order, which is not time order (any thread writes them).
  virtual void on_child_start(const ChildStart&) {}
  virtual void on_allocation_totals(const AllocationTotals&) {}
};

struct DecodeSummary {
  uint64_t frames = 0;
  uint64_t records = 0;
  uint64_t events = 0;
  uint64_t unknown_records = 0;
  uint64_t corrupt_frames_skipped = 0;
  // The most events held at once for reordering: bounded by one drain interval's worth, whatever
  // the trace's length (the streaming guarantee).
  uint64_t max_pending_events = 0;
  bool truncated = false;  // the file ends inside a frame
  bool has_end = false;    // an end record closes the trace
  uint16_t version_major = 0;
  uint16_t version_minor = 0;
  uint64_t file_bytes = 0;
};

// Throws TraceError for a file that cannot be read at all; what was delivered before a later
// error stays delivered.
DecodeSummary decode_trace(const std::string& path, TraceConsumer& consumer,
                           ReaderOptions options = {});

// The process record alone (from the first frame): who wrote the trace. Throws TraceError when
// the file is not a trace; nullopt when it holds no process record.
std::optional<ProcessInfo> read_process_info(const std::string& path);

}  // namespace dprof::analyzer
