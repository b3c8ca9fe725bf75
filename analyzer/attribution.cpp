#include "attribution.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>

#include "damon_prof/trace_format.h"

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

void AccessAttribution::apply(const Event& event) {
  switch (event.kind) {
    case EventKind::kAlloc: {
      auto existing = blocks_.find(event.address);
      if (existing != blocks_.end()) {  // its free was never recorded: the new block replaces it
        end_block(existing->second, existing->first);
        blocks_.erase(existing);
      }
      if (event.size == 0) return;
      blocks_[event.address] =
          Block{event.address + event.size, event.stack_id, event.time_ns, false, false, false};
      break;
    }
    case EventKind::kFree: {
      auto found = blocks_.find(event.address);
      if (found == blocks_.end() || found->second.mapping) return;
      end_block(found->second, found->first);
      blocks_.erase(found);
      break;
    }
    case EventKind::kMmap: {
      uint64_t length = (event.size + page_size_ - 1) / page_size_ * page_size_;
      if (length == 0) return;
      remove_range(event.address, event.address + length, true, nullptr, nullptr);
      Block block{event.address + length, event.stack_id, event.time_ns, true, false, false};
      if (event.function == DPROF_FN_MREMAP) {
        // A moved mapping keeps its stack, its age and what was seen of it.
        auto moved = remapped_by_thread_.find(event.thread_index);
        if (moved == remapped_by_thread_.end()) return;
        block.stack_id = moved->second.stack_id;
        block.alloc_time_ns = moved->second.alloc_time_ns;
        block.observed = moved->second.observed;
        block.touched = moved->second.touched;
        remapped_by_thread_.erase(moved);
      } else if ((event.prot & PROT_WRITE) == 0) {
        return;  // as the heap model: reservations and read-only mappings are not allocations
      }
      blocks_[event.address] = block;
      break;
    }
    case EventKind::kMunmap: {
      uint64_t length = (event.size + page_size_ - 1) / page_size_ * page_size_;
      if (event.function == DPROF_FN_MREMAP) {
        uint64_t stack = 0;
        Block first{};
        remove_range(event.address, event.address + length, false, &stack, &first);
        if (stack != 0) remapped_by_thread_[event.thread_index] = first;
      } else {
        remove_range(event.address, event.address + length, true, nullptr, nullptr);
      }
      break;
    }
  }
}

void AccessAttribution::end_block(const Block& block, uint64_t start) {
  if (!block.observed) return;
  AccessMetrics& metrics = stacks_[block.stack_id];
  ++metrics.observed_blocks;
  if (!block.touched) {
    metrics.never_touched_bytes += block.end - start;
    ++metrics.never_touched_count;
  }
}

void AccessAttribution::remove_range(uint64_t start, uint64_t end, bool account,
                                     uint64_t* first_stack, Block* first_piece) {
  auto it = blocks_.upper_bound(start);
  if (it != blocks_.begin()) --it;
  while (it != blocks_.end() && it->first < end) {
    uint64_t block_start = it->first;
    Block block = it->second;
    if (block.end <= start || !block.mapping) {
      ++it;
      continue;
    }
    it = blocks_.erase(it);
    uint64_t cut_start = std::max(block_start, start);
    uint64_t cut_end = std::min(block.end, end);
    if (first_stack != nullptr && *first_stack == 0) {
      *first_stack = block.stack_id == 0 ? 1 : block.stack_id;
      *first_piece = block;
    }
    if (account) {
      Block removed = block;
      removed.end = cut_end;
      end_block(removed, cut_start);
    }
    if (block_start < cut_start) {
      Block head = block;
      head.end = cut_start;
      blocks_[block_start] = head;
    }
    if (cut_end < block.end) {
      it = blocks_.emplace(cut_end, block).first;
      ++it;
    }
  }
}

SnapshotTotals AccessAttribution::on_snapshot(
    const RegionSnapshot& snapshot, const std::function<void(const SnapshotShare&)>& share) {
  SnapshotTotals totals;
  totals.time_ns = snapshot.time_ns;
  // Sampling intervals per aggregation interval: how many chances each region had to be seen.
  double chances = snapshot.sampling_ns == 0
                       ? 1.0
                       : std::max(1.0, static_cast<double>(snapshot.aggregation_ns) /
                                           static_cast<double>(snapshot.sampling_ns));
  double sampling_seconds = static_cast<double>(snapshot.sampling_ns == 0 ? snapshot.aggregation_ns
                                                                          : snapshot.sampling_ns) /
                            1e9;
  if (sampling_seconds <= 0) sampling_seconds = 1;
  std::unordered_map<uint64_t, SnapshotShare> shares;
  for (const SnapshotRegion& region : snapshot.regions) {
    if (region.end <= region.start) continue;
    uint64_t region_bytes = region.end - region.start;
    totals.monitored_bytes += region_bytes;
    bool accessed = region.nr_accesses > 0 || region.written_pages > 0;
    double frequency = std::min(1.0, static_cast<double>(region.nr_accesses) / chances);
    if (frequency == 0 && region.written_pages > 0) frequency = 1.0 / chances;
    uint64_t region_idle_ns = accessed ? 0 : (region.age + 1) * snapshot.aggregation_ns;
    if (accessed) totals.working_set_bytes += region_bytes;
    if (!accessed && region_idle_ns >= idle_threshold_ns_) totals.idle_bytes += region_bytes;

    auto it = blocks_.upper_bound(region.start);
    if (it != blocks_.begin()) {
      auto previous = std::prev(it);
      if (previous->second.end > region.start) it = previous;
    }
    for (; it != blocks_.end() && it->first < region.end; ++it) {
      Block& block = it->second;
      uint64_t overlap = std::min(region.end, block.end) - std::max(region.start, it->first);
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
      block.observed = true;
      if (accessed) block.touched = true;
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
  AccessSiteKey key{sample.pc, 0};
  auto it = blocks_.upper_bound(sample.page);
  if (it != blocks_.begin()) {
    --it;
    if (it->second.end > sample.page) {
      key.stack_id = it->second.stack_id;
      it->second.touched = true;
      AccessMetrics& metrics = stacks_[key.stack_id];
      ++(sample.is_write ? metrics.write_samples : metrics.read_samples);
    }
  }
  AccessSiteCounts& counts = access_sites_[key];
  ++(sample.is_write ? counts.writes : counts.reads);
  if (!sample.code.empty()) instruction_bytes_.try_emplace(sample.pc, sample.code);
}

void AccessAttribution::finish() {
  for (const auto& [start, block] : blocks_) end_block(block, start);
  blocks_.clear();
}

}  // namespace dprof::analyzer
