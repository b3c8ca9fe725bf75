// Hot and idle memory per call stack: joins each region snapshot of the access monitor to the
// allocations live in its regions at that moment, splitting a region's accesses among the blocks
// in it by overlap. Definitions of every figure: docs/metrics.md.
//
// It keeps its own address-ordered index of live blocks and mappings (the heap model's index is
// by address only, unordered), so its memory grows with live blocks and distinct stacks, never
// with the trace's length.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

#include "trace_records.h"

namespace dprof::analyzer {

// Per stack (and, summed, per site). Byte-seconds are bytes times seconds.
struct AccessMetrics {
  double observed_byte_seconds = 0;     // bytes a snapshot saw, times the time it covered
  double hot_byte_seconds = 0;          // ... times the access frequency
  double hot_variance = 0;              // sampling variance of hot_byte_seconds
  double access_rate_byte_seconds = 0;  // ... times detected accesses per page per second
  double idle_byte_seconds = 0;
  uint64_t idle_bytes_peak = 0;
  uint64_t never_touched_bytes = 0;
  uint64_t never_touched_count = 0;
  uint64_t observed_blocks = 0;  // blocks that met at least one snapshot
  uint64_t snapshots = 0;        // snapshots in which the stack held monitored memory
  uint64_t read_samples = 0;     // access samples (mprotect) that landed in its blocks
  uint64_t write_samples = 0;

  void add(const AccessMetrics& other);
  // Accesses per byte per second (a lower bound: one per sampling interval that saw any).
  double access_density(uint64_t page_size) const;
  double hot_byte_seconds_stderr() const;
};

// One site's share of one snapshot (for heatmaps by site).
struct SnapshotShare {
  uint64_t stack_id = 0;
  uint64_t bytes = 0;
  double hot_bytes = 0;  // bytes times access frequency
  uint64_t idle_bytes = 0;
};

struct SnapshotTotals {
  uint64_t time_ns = 0;
  uint64_t monitored_bytes = 0;
  uint64_t working_set_bytes = 0;  // bytes in regions accessed during the interval
  uint64_t idle_bytes = 0;         // bytes in regions idle for at least the threshold
};

// An instruction that touched a sampled page, and whose memory it was.
struct AccessSiteKey {
  uint64_t pc = 0;
  uint64_t stack_id = 0;  // 0: the page belonged to no live allocation
  bool operator==(const AccessSiteKey& other) const {
    return pc == other.pc && stack_id == other.stack_id;
  }
};
struct AccessSiteKeyHash {
  size_t operator()(const AccessSiteKey& key) const {
    return std::hash<uint64_t>()(key.pc * 0x9e3779b97f4a7c15ULL ^ key.stack_id);
  }
};
struct AccessSiteCounts {
  uint64_t reads = 0;
  uint64_t writes = 0;
};

class AccessAttribution {
 public:
  explicit AccessAttribution(uint64_t idle_threshold_ns) : idle_threshold_ns_(idle_threshold_ns) {}

  void set_page_size(uint64_t page_size) { page_size_ = page_size == 0 ? 4096 : page_size; }
  void apply(const Event& event);
  // `share` (may be empty) hears each stack's part of this snapshot.
  SnapshotTotals on_snapshot(const RegionSnapshot& snapshot,
                             const std::function<void(const SnapshotShare&)>& share = {});
  void on_access_sample(const AccessSample& sample);
  // Blocks still live at the end of the trace: their never-touched bytes count now.
  void finish();

  const std::unordered_map<uint64_t, AccessMetrics>& stacks() const { return stacks_; }
  const std::unordered_map<AccessSiteKey, AccessSiteCounts, AccessSiteKeyHash>& access_sites()
      const {
    return access_sites_;
  }
  const std::unordered_map<uint64_t, std::vector<uint8_t>>& instruction_bytes() const {
    return instruction_bytes_;
  }

 private:
  struct Block {
    uint64_t end;
    uint64_t stack_id;
    uint64_t alloc_time_ns;
    bool mapping;
    bool observed;
    bool touched;
  };

  void end_block(const Block& block, uint64_t start);
  void remove_range(uint64_t start, uint64_t end, bool account, uint64_t* first_stack,
                    Block* first_piece);

  uint64_t idle_threshold_ns_;
  uint64_t page_size_ = 4096;
  std::map<uint64_t, Block> blocks_;  // by start address; blocks never overlap
  std::unordered_map<uint64_t, AccessMetrics> stacks_;
  std::unordered_map<uint64_t, uint64_t> idle_this_snapshot_;
  std::unordered_map<uint32_t, Block> remapped_by_thread_;
  std::unordered_map<AccessSiteKey, AccessSiteCounts, AccessSiteKeyHash> access_sites_;
  std::unordered_map<uint64_t, std::vector<uint8_t>> instruction_bytes_;
};

}  // namespace dprof::analyzer
