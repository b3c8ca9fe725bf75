#include "regions_view.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <unordered_map>
#include <vector>

#include "damon_prof/trace_format.h"
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

// The address ranges any snapshot covered, joined, and the time span: the heatmap's axes.
class ExtentCollector : public TraceConsumer {
 public:
  void on_region_snapshot(const RegionSnapshot& snapshot) override {
    ++snapshots;
    first_time = std::min(first_time, snapshot.time_ns - snapshot.aggregation_ns);
    last_time = std::max(last_time, snapshot.time_ns);
    for (const SnapshotRegion& region : snapshot.regions) add(region.start, region.end);
  }
  void add(uint64_t start, uint64_t end) {
    auto next = ranges.upper_bound(start);
    if (next != ranges.begin()) {
      auto previous = std::prev(next);
      if (previous->second >= start) {
        start = previous->first;
        end = std::max(end, previous->second);
        ranges.erase(previous);
      }
    }
    while (true) {
      next = ranges.lower_bound(start);
      if (next == ranges.end() || next->first > end) break;
      end = std::max(end, next->second);
      ranges.erase(next);
    }
    ranges[start] = end;
  }
  std::map<uint64_t, uint64_t> ranges;
  uint64_t snapshots = 0;
  uint64_t first_time = UINT64_MAX;
  uint64_t last_time = 0;
};

// Accumulates access frequency (accesses per sample, byte-weighted) into a rows x columns grid
// over the compacted address space (gaps between mappings removed) and time.
class HeatmapBuilder : public TraceConsumer {
 public:
  HeatmapBuilder(const ExtentCollector& extents, size_t rows, size_t columns)
      : extents_(extents),
        rows_(rows),
        columns_(columns),
        weight_(rows * columns, 0.0),
        bytes_(rows * columns, 0.0) {
    for (const auto& [start, end] : extents.ranges) {
      offsets_.push_back({start, end, total_});
      total_ += end - start;
    }
  }
  void on_region_snapshot(const RegionSnapshot& snapshot) override {
    uint64_t span = std::max<uint64_t>(1, extents_.last_time - extents_.first_time);
    size_t column = std::min(
        columns_ - 1,
        static_cast<size_t>((snapshot.time_ns - extents_.first_time) * columns_ / (span + 1)));
    double samples = snapshot.sampling_ns == 0
                         ? 1.0
                         : std::max(1.0, static_cast<double>(snapshot.aggregation_ns) /
                                             static_cast<double>(snapshot.sampling_ns));
    for (const SnapshotRegion& region : snapshot.regions) {
      double frequency = static_cast<double>(region.nr_accesses) / samples;
      // Spread the region over the rows it covers.
      uint64_t from = compact(region.start);
      uint64_t to = compact(region.end - 1) + 1;
      for (uint64_t at = from; at < to;) {
        size_t row = row_of(at);
        uint64_t row_end = std::min<uint64_t>(to, row_start(row + 1));
        if (row_end <= at) row_end = to;
        double bytes = static_cast<double>(row_end - at);
        weight_[row * columns_ + column] += frequency * bytes;
        bytes_[row * columns_ + column] += bytes;
        at = row_end;
      }
    }
  }
  double cell(size_t row, size_t column) const {
    double bytes = bytes_[row * columns_ + column];
    return bytes == 0 ? -1.0 : weight_[row * columns_ + column] / bytes;
  }
  // The real address at the start of a row, for the axis.
  uint64_t address_of_row(size_t row) const { return expand(row_start(row)); }

 private:
  struct Offset {
    uint64_t start;
    uint64_t end;
    uint64_t compact;
  };
  uint64_t compact(uint64_t address) const {
    for (const Offset& offset : offsets_) {
      if (address >= offset.start && address < offset.end)
        return offset.compact + (address - offset.start);
    }
    return 0;
  }
  uint64_t expand(uint64_t compact_address) const {
    for (const Offset& offset : offsets_) {
      if (compact_address < offset.compact + (offset.end - offset.start)) {
        return offset.start + (compact_address - offset.compact);
      }
    }
    return offsets_.empty() ? 0 : offsets_.back().end;
  }
  // In long double: address spans times row counts overflow 64 bits.
  uint64_t row_start(size_t row) const {
    return static_cast<uint64_t>(static_cast<long double>(total_) * row / rows_);
  }
  size_t row_of(uint64_t compact_address) const {
    auto row = static_cast<size_t>(static_cast<long double>(compact_address) * rows_ /
                                   std::max<uint64_t>(1, total_));
    while (row + 1 < rows_ && row_start(row + 1) <= compact_address) ++row;
    while (row > 0 && row_start(row) > compact_address) --row;
    return std::min(rows_ - 1, row);
  }

  const ExtentCollector& extents_;
  size_t rows_;
  size_t columns_;
  std::vector<double> weight_;
  std::vector<double> bytes_;
  std::vector<Offset> offsets_;
  uint64_t total_ = 0;
};

}  // namespace

void write_regions_json(std::ostream& out, Analysis& analysis, ReaderOptions reader_options,
                        const RegionsViewOptions& options) {
  symbolize_sites(analysis);  // allocations name their sites
  JsonWriter json(out);
  json.begin_object();
  json.field("schema", "damon-prof-regions");
  json.field("schema_version", 1u);
  json.field("trace", analysis.path);
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

void write_regions_text(std::ostream& out, const Analysis& analysis, ReaderOptions reader_options,
                        const RegionsViewOptions& options) {
  if (!analysis.monitor_settings.empty()) {
    const MonitorSettingsInfo& first = analysis.monitor_settings.front();
    out << "access monitor: " << first.backend << " (" << first.reason << ")\n";
  } else {
    out << "access monitor: not recorded in this trace\n";
  }
  ExtentCollector extents;
  decode_trace(analysis.path, extents, reader_options);
  if (extents.snapshots == 0 || extents.ranges.empty()) {
    out << "no region snapshots in this trace\n";
    return;
  }
  size_t rows = std::max<size_t>(4, options.height);
  size_t columns = std::max<size_t>(8, std::min<size_t>(options.width, extents.snapshots));
  HeatmapBuilder heatmap(extents, rows, columns);
  decode_trace(analysis.path, heatmap, reader_options);
  static const char kShades[] = " .:-=+*#%@";
  out << format_count(extents.snapshots) << " snapshots, " << format_duration(extents.first_time)
      << " to " << format_duration(extents.last_time) << "; rows: address (gaps removed), columns: "
      << "time; darker = accessed in more samples\n";
  for (size_t row = 0; row < rows; ++row) {
    char label[24];
    std::snprintf(label, sizeof(label), "%14llx ",
                  static_cast<unsigned long long>(heatmap.address_of_row(row)));
    out << label << '|';
    for (size_t column = 0; column < columns; ++column) {
      double value = heatmap.cell(row, column);
      if (value < 0) {
        out << ' ';
        continue;
      }
      size_t shade = std::min<size_t>(9, static_cast<size_t>(value * 9.0 + 0.999));
      out << kShades[shade];
    }
    out << "|\n";
  }
  out << std::string(15, ' ') << '+' << std::string(columns, '-') << "+\n";
  out << std::string(16, ' ') << format_duration(extents.first_time)
      << std::string(columns > 20 ? columns - 20 : 1, ' ') << format_duration(extents.last_time)
      << '\n';
}

}  // namespace dprof::analyzer
