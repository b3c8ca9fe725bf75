// The DAMON core, in process: regions over the target memory, sampling and aggregation
// intervals, nr_accesses and age, and the adaptive merge and split that keep the number of
// regions between a minimum and a maximum while following the access pattern. The rules are the
// kernel's (mm/damon/core.c); the backends decide how an access is seen.
//
// Runs on the monitor thread only; allocates from the runtime's internal allocator.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "access_backend.h"
#include "region.h"

namespace dprof::monitor {

struct CoreSettings {
  uint32_t min_nr_regions = 10;
  uint32_t max_nr_regions = 1000;
  uint64_t min_region_bytes = 4096;  // regions are never cut below a page
};

// Deterministic pseudo-random numbers (xorshift64*), seedable for tests.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed == 0 ? 0x9e3779b97f4a7c15ull : seed) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545f4914f6cdd1dull;
  }
  // Uniform in [low, high).
  uint64_t between(uint64_t low, uint64_t high) {
    return high <= low ? low : low + next() % (high - low);
  }

 private:
  uint64_t state_;
};

// A region's sampled page moves to a new random page with odds of one in this many per sampling
// interval, whatever was seen there; otherwise it stays, and a backend leaves it armed. Since
// whether it moves never depends on what was seen, the watched page is a uniformly random page
// of the region at any moment, as in the kernel's DAMON (which moves it every interval), and a
// region's expected hits are the same; what staying saves is re-arming the page of every region
// that was not touched (two system calls and a TLB shootdown each), the bulk of the cost.
constexpr uint64_t kSampleMoveOdds = 4;

// A merge across a boundary between large blocks waits until both regions' counts have held
// (age) for this many aggregation intervals: two buffers used alike for a while are one region,
// but a phase that touches one and not the other is seen at once, not after a random split.
constexpr uint32_t kBoundaryMergeAge = 5;

// Whether a region's sampled page moves this interval (pure: `draw` is a uniform random number).
bool sample_moves(const Region& region, uint64_t page_bytes, uint64_t draw);

class MonitorCore {
 public:
  MonitorCore(const CoreSettings& settings, uint64_t seed);
  ~MonitorCore();
  MonitorCore(const MonitorCore&) = delete;
  MonitorCore& operator=(const MonitorCore&) = delete;

  // Makes the regions cover exactly `ranges` (sorted, disjoint): regions outside are dropped,
  // those partly outside are trimmed, uncovered parts get new regions, and ranges too coarse are
  // split evenly until there are at least min_nr_regions.
  bool set_targets(const AddressRange* ranges, size_t count);
  // The edges of the program's large blocks (sorted, page-aligned). Edges not known before cut
  // the regions they fall inside at once (as far as max_nr_regions allows: a new large block
  // starts as a region of its own); merges across an edge wait for kBoundaryMergeAge, and splits
  // cut at an edge inside a region before any random point. Call before set_targets.
  bool set_boundaries(const uint64_t* edges, size_t count);

  // End of an aggregation interval, after the sampling intervals have counted accesses: ages and
  // merges regions (kernel kdamond_merge_regions). The snapshot is taken after this.
  void merge_regions();
  // After the snapshot: starts the next aggregation interval (nr_accesses moves to
  // last_nr_accesses, backend counters clear) and splits regions (kernel kdamond_split_regions).
  void reset_and_split();

  // Start of a sampling interval: each region keeps its sampled page, or (with odds of one in
  // kSampleMoveOdds, and always when the page is no longer inside it) moves to a random one.
  void choose_sampling_addresses();
  // End of a sampling interval, after the backends' checks: each region whose sampled page any
  // backend saw accessed counts one access.
  void count_sample_hits();

  // The largest nr_accesses of the current interval (the kernel's merge threshold is a tenth).
  uint32_t max_nr_accesses() const;

  Region* regions() { return regions_; }
  const Region* regions() const { return regions_; }
  size_t count() const { return count_; }
  uint64_t total_bytes() const;
  const CoreSettings& settings() const { return settings_; }
  void set_region_limits(uint32_t min_nr_regions, uint32_t max_nr_regions);
  Random& random() { return random_; }

 private:
  bool reserve(size_t capacity);
  // Cuts regions_[index] in two at `at` (inside it); false when out of memory.
  bool split_at(size_t index, uint64_t at);
  // `respect_boundaries`: neighbours meeting at a large block's edge merge only when both are
  // old enough (kBoundaryMergeAge).
  void merge_pass(uint32_t threshold, uint64_t size_limit, bool respect_boundaries);
  // The index of the first edge at or above `address` (boundary_count_ when none).
  size_t first_boundary_from(uint64_t address) const;
  bool is_boundary(uint64_t address) const;
  // The first edge strictly inside [start, end) at least a page from both ends, or 0.
  uint64_t boundary_inside(uint64_t start, uint64_t end) const;
  void cut_at_new_boundaries();
  // Cuts the regions at each of `edges` (sorted) that lies inside one, while there is room.
  void cut_at(const uint64_t* edges, size_t count);
  // Merges neighbours, from `threshold` up, until there are at most max_nr_regions.
  void merge_down_to_limit(uint32_t threshold);
  void split_evenly_to_minimum();

  CoreSettings settings_;
  Random random_;
  Region* regions_ = nullptr;
  size_t count_ = 0;
  size_t capacity_ = 0;
  size_t count_after_last_split_ = 0;
  uint64_t* boundaries_ = nullptr;  // sorted
  size_t boundary_count_ = 0;
  size_t boundary_capacity_ = 0;
  uint64_t* new_boundaries_ = nullptr;  // sorted: edges set_boundaries had not seen before
  size_t new_boundary_count_ = 0;
};

}  // namespace dprof::monitor
