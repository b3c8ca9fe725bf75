#include "attribution.h"

#include <algorithm>
#include <cmath>

namespace dprof::analyzer {

void AccessMetrics::add(const AccessMetrics& other) {
  observed_byte_seconds += other.observed_byte_seconds;
  hot_byte_seconds += other.hot_byte_seconds;
  hot_variance += other.hot_variance;
  access_rate_byte_seconds += other.access_rate_byte_seconds;
  idle_byte_seconds += other.idle_byte_seconds;
  idle_bytes_peak += other.idle_bytes_peak;
  never_touched_bytes += other.never_touched_bytes;
  never_touched_count += other.never_touched_count;
  observed_blocks += other.observed_blocks;
  snapshots = std::max(snapshots, other.snapshots);
  read_samples += other.read_samples;
  write_samples += other.write_samples;
}

double AccessMetrics::access_density(uint64_t page_size) const {
  if (observed_byte_seconds <= 0 || page_size == 0) return 0;
  return access_rate_byte_seconds / observed_byte_seconds / static_cast<double>(page_size);
}

double AccessMetrics::hot_byte_seconds_stderr() const {
  return std::sqrt(hot_variance);
}

double sampling_chances(const RegionSnapshot& snapshot) {
  if (snapshot.sampling_ns == 0) return 1.0;
  return std::max(1.0, static_cast<double>(snapshot.aggregation_ns) /
                           static_cast<double>(snapshot.sampling_ns));
}

double access_frequency(const RegionSnapshot& snapshot, const SnapshotRegion& region) {
  double chances = sampling_chances(snapshot);
  double frequency = std::min(1.0, static_cast<double>(region.nr_accesses) / chances);
  if (frequency == 0 && region.written_pages > 0) frequency = 1.0 / chances;
  return frequency;
}

AccessAttribution::AccessAttribution(HeapModel& heap, uint64_t idle_threshold_ns)
    : heap_(heap), idle_threshold_ns_(idle_threshold_ns) {
  heap_.set_ended_block_listener([this](const EndedBlock& block) {
    end_block(block.end - block.start, block.stack_id, block.seen);
  });
}

void AccessAttribution::end_block(uint64_t bytes, uint64_t stack_id, uint8_t seen) {
  if ((seen & kBlockObserved) == 0) return;
  AccessMetrics& metrics = stacks_[stack_id];
  ++metrics.observed_blocks;
  if ((seen & kBlockTouched) == 0) {
    metrics.never_touched_bytes += bytes;
    ++metrics.never_touched_count;
  }
}

SnapshotTotals AccessAttribution::on_snapshot(
    const RegionSnapshot& snapshot, const std::function<void(const SnapshotShare&)>& share) {
  SnapshotTotals totals;
  totals.time_ns = snapshot.time_ns;
  double chances = sampling_chances(snapshot);
  double sampling_seconds = static_cast<double>(snapshot.sampling_ns == 0 ? snapshot.aggregation_ns
                                                                          : snapshot.sampling_ns) /
                            1e9;
  if (sampling_seconds <= 0) sampling_seconds = 1;
  // Regions (the trace encodes each from the previous one's end) and blocks are both in address
  // order and neither overlaps its own kind: one sweep.
  heap_.live_blocks(live_);
  size_t first_block = 0;
  std::unordered_map<uint64_t, SnapshotShare> shares;
  for (const SnapshotRegion& region : snapshot.regions) {
    if (region.end <= region.start) continue;
    uint64_t region_bytes = region.end - region.start;
    totals.monitored_bytes += region_bytes;
    bool accessed = region.nr_accesses > 0 || region.written_pages > 0;
    double frequency = access_frequency(snapshot, region);
    uint64_t region_idle_ns = accessed ? 0 : (region.age + 1) * snapshot.aggregation_ns;
    if (accessed) totals.working_set_bytes += region_bytes;
    if (!accessed && region_idle_ns >= idle_threshold_ns_) totals.idle_bytes += region_bytes;

    while (first_block < live_.size() && live_[first_block].end <= region.start) ++first_block;
    for (size_t i = first_block; i < live_.size() && live_[i].start < region.end; ++i) {
      const BlockView& block = live_[i];
      uint64_t overlap = std::min(region.end, block.end) - std::max(region.start, block.start);
      if (overlap == 0) continue;
      uint64_t lived_ns =
          snapshot.time_ns > block.alloc_time_ns ? snapshot.time_ns - block.alloc_time_ns : 0;
      double seconds = static_cast<double>(std::min(lived_ns, snapshot.aggregation_ns)) / 1e9;
      double byte_seconds = static_cast<double>(overlap) * seconds;
      AccessMetrics& metrics = stacks_[block.stack_id];
      metrics.observed_byte_seconds += byte_seconds;
      metrics.hot_byte_seconds += byte_seconds * frequency;
      metrics.hot_variance += byte_seconds * byte_seconds * frequency * (1 - frequency) / chances;
      metrics.access_rate_byte_seconds += byte_seconds * frequency / sampling_seconds;
      *block.seen |= kBlockObserved;
      if (accessed) *block.seen |= kBlockTouched;
      SnapshotShare& mine = shares[block.stack_id];
      mine.stack_id = block.stack_id;
      mine.bytes += overlap;
      mine.hot_bytes += static_cast<double>(overlap) * frequency;
      // Idle: no access in the region for the threshold, and the block itself that old.
      if (!accessed && std::min(region_idle_ns, lived_ns) >= idle_threshold_ns_) {
        mine.idle_bytes += overlap;
        metrics.idle_byte_seconds += byte_seconds;
      }
    }
  }
  for (const auto& [stack, mine] : shares) {
    AccessMetrics& metrics = stacks_[stack];
    ++metrics.snapshots;
    metrics.idle_bytes_peak = std::max(metrics.idle_bytes_peak, mine.idle_bytes);
    if (share) share(mine);
  }
  return totals;
}

void AccessAttribution::on_access_sample(const AccessSample& sample) {
  // Sampled pages lie wholly inside one block of a page or more (the runtime's coverage rule).
  AccessSiteKey key{sample.pc, 0};
  if (std::optional<BlockView> block = heap_.large_block_at(sample.page)) {
    key.stack_id = block->stack_id;
    *block->seen |= kBlockTouched;
    AccessMetrics& metrics = stacks_[key.stack_id];
    ++(sample.is_write ? metrics.write_samples : metrics.read_samples);
  }
  AccessSiteCounts& counts = access_sites_[key];
  ++(sample.is_write ? counts.writes : counts.reads);
  if (!sample.code.empty()) instruction_bytes_.try_emplace(sample.pc, sample.code);
}

void AccessAttribution::finish() {
  heap_.live_blocks(live_);
  for (const BlockView& block : live_)
    end_block(block.end - block.start, block.stack_id, *block.seen);
  live_.clear();
}

}  // namespace dprof::analyzer
