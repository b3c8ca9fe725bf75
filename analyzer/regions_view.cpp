#include "regions_view.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "damon_prof/trace_format.h"
#include "heatmap.h"
#include "json_writer.h"
#include "report_common.h"
#include "units.h"

namespace dprof::analyzer {
namespace {

void write_settings(JsonWriter& json, const MonitorSettingsInfo& settings) {
  json.begin_object();
  json.field("time_ns", settings.time_ns);
  json.field("backend", settings.backend);
  json.field("reason", settings.reason);
  json.field("sampling_ns", settings.sampling_ns);
  json.field("aggregation_ns", settings.aggregation_ns);
  json.field("update_ns", settings.update_ns);
  json.field("min_regions", settings.min_regions);
  json.field("max_regions", settings.max_regions);
  json.field("overhead_budget_ppm", settings.overhead_budget_ppm);
  json.field("measured_overhead_ppm", settings.measured_overhead_ppm);
  json.end_object();
}

class SnapshotWriter : public TraceConsumer {
 public:
  explicit SnapshotWriter(JsonWriter& json) : json_(json) {}
  void on_region_snapshot(const RegionSnapshot& snapshot) override {
    json_.begin_object();
    json_.field("time_ns", snapshot.time_ns);
    json_.field("sampling_ns", snapshot.sampling_ns);
    json_.field("aggregation_ns", snapshot.aggregation_ns);
    json_.key("regions").begin_array();
    for (const SnapshotRegion& region : snapshot.regions) {
      json_.begin_object();
      json_.field("start", region.start);
      json_.field("end", region.end);
      json_.field("nr_accesses", region.nr_accesses);
      json_.field("age", region.age);
      json_.field("read_samples", region.read_samples);
      json_.field("write_samples", region.write_samples);
      json_.field("written_pages", region.written_pages);
      json_.end_object();
    }
    json_.end_array();
    json_.end_object();
  }

 private:
  JsonWriter& json_;
};

// The mprotect backend's access samples: the page, the instruction and whether it wrote.
class AccessSampleWriter : public TraceConsumer {
 public:
  explicit AccessSampleWriter(JsonWriter& json) : json_(json) {}
  void on_access_sample(const AccessSample& sample) override {
    static const char kHex[] = "0123456789abcdef";
    std::string code;
    for (uint8_t byte : sample.code) {
      code += kHex[byte >> 4];
      code += kHex[byte & 15];
    }
    json_.begin_object();
    json_.field("time_ns", sample.time_ns);
    json_.field("thread_id", sample.thread_id);
    json_.field("page", sample.page);
    json_.field("pc", sample.pc);
    json_.field("write", sample.is_write);
    json_.field("instruction_bytes", code);
    json_.end_object();
  }

 private:
  JsonWriter& json_;
};

// Writes each allocation when it ends (or at the end of the trace when it never does).
class AllocationWriter : public TraceConsumer {
 public:
  AllocationWriter(JsonWriter& json, const Analysis& analysis, uint64_t min_size)
      : json_(json), analysis_(analysis), min_size_(min_size) {}

  void on_event(const Event& event) override {
    switch (event.kind) {
      case EventKind::kAlloc:
        blocks_[event.address] = Live{event.size, event.time_ns, event.stack_id};
        break;
      case EventKind::kMmap:
        if (event.function != DPROF_FN_MREMAP && (event.prot & 2) != 0) {
          blocks_[event.address] = Live{event.size, event.time_ns, event.stack_id};
        }
        break;
      case EventKind::kFree:
      case EventKind::kMunmap: {
        auto found = blocks_.find(event.address);
        if (found == blocks_.end()) return;
        write(found->first, found->second, event.time_ns, true);
        blocks_.erase(found);
        break;
      }
    }
  }

  void finish() {
    std::vector<std::pair<uint64_t, Live>> remaining(blocks_.begin(), blocks_.end());
    std::sort(remaining.begin(), remaining.end(),
              [](const auto& a, const auto& b) { return a.second.time < b.second.time; });
    for (const auto& [address, live] : remaining) write(address, live, 0, false);
  }

 private:
  struct Live {
    uint64_t size;
    uint64_t time;
    uint64_t stack;
  };

  void write(uint64_t address, const Live& live, uint64_t free_time, bool freed) {
    if (live.size < min_size_) return;
    json_.begin_object();
    json_.field("address", address);
    json_.field("size", live.size);
    json_.field("alloc_time_ns", live.time);
    json_.key("free_time_ns");
    if (freed) {
      json_.value(free_time);
    } else {
      json_.null();
    }
    auto site = analysis_.site_of_stack.find(live.stack);
    if (site == analysis_.site_of_stack.end()) {
      json_.key("site").null();
      json_.key("site_index").null();
    } else {
      json_.field("site", site_name(analysis_.sites[site->second]));
      json_.field("site_index", static_cast<uint64_t>(site->second));
    }
    json_.end_object();
  }

  JsonWriter& json_;
  const Analysis& analysis_;
  uint64_t min_size_;
  std::unordered_map<uint64_t, Live> blocks_;
};

}  // namespace

void write_regions_json(std::ostream& out, Analysis& analysis, ReaderOptions reader_options,
                        const RegionsViewOptions& options) {
  symbolize_sites(analysis);  // allocations name their sites
  JsonWriter json(out);
  begin_view_document(json, "damon-prof-regions", analysis);
  json.key("monitor").begin_array();
  for (const MonitorSettingsInfo& settings : analysis.monitor_settings)
    write_settings(json, settings);
  json.end_array();
  json.key("snapshots").begin_array();
  SnapshotWriter snapshots(json);
  decode_trace(analysis.path, snapshots, reader_options);
  json.end_array();
  json.key("allocations").begin_array();
  AllocationWriter allocations(json, analysis, options.min_size);
  decode_trace(analysis.path, allocations, reader_options);
  allocations.finish();
  json.end_array();
  json.key("access_samples").begin_array();
  AccessSampleWriter samples(json);
  decode_trace(analysis.path, samples, reader_options);
  json.end_array();
  json.end_object();
}

void write_regions_text(std::ostream& out, Analysis& analysis, ReaderOptions reader_options,
                        const RegionsViewOptions& options) {
  if (!analysis.monitor_settings.empty()) {
    const MonitorSettingsInfo& first = analysis.monitor_settings.front();
    out << "access monitor: " << first.backend << " (" << first.reason << ")\n";
  } else {
    out << "access monitor: not recorded in this trace\n";
  }
  HeatmapOptions heatmap_options;
  heatmap_options.rows = std::max<size_t>(4, options.height);
  heatmap_options.columns = std::max<size_t>(8, options.width);
  Heatmap heatmap = build_heatmap(analysis, reader_options, heatmap_options);
  if (heatmap.snapshots != 0) {
    out << format_count(heatmap.snapshots) << " snapshots, "
        << format_duration(heatmap.time_from_ns) << " to " << format_duration(heatmap.time_to_ns)
        << "\n";
  }
  write_heatmap_terminal(out, heatmap, options.color);
}

}  // namespace dprof::analyzer
