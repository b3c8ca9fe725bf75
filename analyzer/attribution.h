// Hot and idle memory per call stack: joins each region snapshot of the access monitor to the
// allocations live in its regions at that moment, splitting a region's accesses among the blocks
// in it by overlap. Definitions of every figure: docs/metrics.md.
//
// The live blocks are the heap model's (the same events are not tracked twice): at each snapshot
// it lists them in address order, and it keeps per block what the monitor has seen of it. Memory
// grows with live blocks and distinct stacks, never with the trace's length.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "heap_model.h"
#include "trace_records.h"

namespace dprof::analyzer {

// Per stack (and, summed, per site). Byte-seconds are bytes times seconds.
struct AccessMetrics {
  double observed_byte_seconds = 0;  // bytes a snapshot saw, times the time it covered
  // Bytes in regions whose reads read sampling could not watch and where nothing was written,
  // times the time: neither hot nor idle can be said of them (docs/metrics.md, "Not sampled").
  double not_sampled_byte_seconds = 0;
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
// How often a region was seen accessed: the share of the interval's sampling intervals (its
// chances) in which its sampled page was accessed, a write counting as one when only
// written_pages says so.
double sampling_chances(const RegionSnapshot& snapshot);
double access_frequency(const RegionSnapshot& snapshot, const SnapshotRegion& region);

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
  // `heap` is the model the events go to; it must outlive this.
  AccessAttribution(HeapModel& heap, uint64_t idle_threshold_ns);

  // `share` (may be empty) hears each stack's part of this snapshot.
  SnapshotTotals on_snapshot(const RegionSnapshot& snapshot,
                             const std::function<void(const SnapshotShare&)>& share = {});
  // Read sampling ran from `time_ns` on (the first settings record of a backend with it): blocks
  // allocated before lie in memory it never protects.
  void set_reads_watched_from(uint64_t time_ns) { reads_watched_from_ = time_ns; }
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
  void end_block(uint64_t bytes, uint64_t stack_id, uint8_t seen);
  // What the access samples since the last snapshot say of one region's sites: each site's share
  // of the region's access frequency.
  struct RegionSite {
    uint64_t overlap = 0;  // bytes of the site's blocks in the region
    uint64_t hits = 0;     // access samples that landed in them
    double frequency = 0;
    bool evidenced_untouched = false;
  };
  void weigh_region_sites(double region_frequency, uint64_t block_bytes, uint64_t hits);
  // Fills region_sites_ with each site's bytes in `region` and the samples that named them,
  // moving the cursors (into live_ and hits_, both in address order) up to the region. Returns
  // the samples that named a block; `block_bytes` gets the region's bytes in blocks.
  uint64_t gather_region_sites(const SnapshotRegion& region, size_t& first_block, size_t& first_hit,
                               uint64_t& block_bytes);
  // Before a snapshot's sweep: adds to each site's evidence of silence the samples it would have
  // drawn in this snapshot's accessed regions at its share of their bytes, or clears it when one
  // of them named the site.
  void accumulate_untouched_evidence(const RegionSnapshot& snapshot);
  // Samples that would have named each site since one last did (by stack id): silence becomes
  // evidence across snapshots, not only within one (a snapshot of 500 ms holds few samples).
  std::unordered_map<uint64_t, double> untouched_evidence_;

  // An access sample that named a block, kept until the next snapshot.
  struct Hit {
    uint64_t address;
    uint64_t stack_id;
  };
  std::vector<Hit> hits_;
  std::unordered_map<uint64_t, RegionSite> region_sites_;  // reused by each region

  HeapModel& heap_;
  uint64_t idle_threshold_ns_;
  uint64_t reads_watched_from_ = 0;
  std::vector<BlockView> live_;  // reused by each snapshot
  std::unordered_map<uint64_t, AccessMetrics> stacks_;
  std::unordered_map<AccessSiteKey, AccessSiteCounts, AccessSiteKeyHash> access_sites_;
  std::unordered_map<uint64_t, std::vector<uint8_t>> instruction_bytes_;
};

}  // namespace dprof::analyzer
