// The tuner's decisions: what the monitor changes for a cost it measured, as pure functions of
// the configured settings, the settings in force and the measurement (tested by tables, without
// timing). monitor_thread.cpp measures and applies; docs/design-notes.md explains the policy.
#pragma once

#include <stdint.h>

namespace dprof::monitor {

// A snapshot ends at least this soon after the one before, however far the sampling interval is
// stretched (unless the user asked for longer aggregation): a snapshot 3.2 s long left a 4 s phase
// of a program with one snapshot or none. Stretching spends the samples of a snapshot first. A
// snapshot ends at the first sampling interval's end past its aggregation interval, so that is at
// most this less one sampling interval.
constexpr uint64_t kLongestAggregationNs = 500000000ull;  // 500 ms: two snapshots a second
// Stretching stops short of this (the intervals double: 10 ms stretches to 160 ms at most). An
// untouched sampled page costs nothing from one interval to the next, so a longer interval saves
// little, and it would leave a snapshot one or two samples.
constexpr uint64_t kLongestSamplingNs = 250000000ull;  // 250 ms
// Exact write tracking may stretch its intervals this much before it gives way to sampling.
constexpr uint64_t kExactModeStretchLimit = 8;

struct TunerLimits {
  uint64_t sampling_ns;     // as configured
  uint64_t aggregation_ns;  // as configured
  uint32_t min_regions;
  uint32_t max_regions;  // as configured
  uint32_t target_ppm;   // the cost aimed at, in millionths of a CPU
  // Regions it takes to give each large block its own (large_blocks.h): cutting regions never
  // goes below this (nor below twice min_regions), up to max_regions.
  uint32_t regions_wanted = 0;
};

struct TunedSettings {
  uint64_t sampling_ns;
  uint64_t aggregation_ns;
  uint32_t max_regions;
};

struct CostMeasurement {
  uint32_t measured_ppm;  // over the last window
  uint32_t regions_now;   // regions there are (at most max_regions)
  bool exact;             // writes tracked exactly (uffd-wp on every page)
};

struct TunerDecision {
  TunedSettings next;
  bool to_sampled;  // exact write tracking gives way to sampling one page per region
  bool changed;
};

// The aggregation interval that goes with `sampling_ns`: the configured ratio, but so that a
// snapshot ends within kLongestAggregationNs (unless the configured interval is longer), and
// never shorter than one sampling interval.
uint64_t aggregation_for(const TunerLimits& limits, uint64_t sampling_ns);

// The fewest regions the tuner cuts to: twice the minimum, or as many as the large blocks want,
// never above the maximum.
uint32_t region_floor(const TunerLimits& limits);

// Sampled mode's start, predicted from what one region costs per sampling interval: as many
// regions as the budget affords at the configured intervals (at least the floor, at most the
// maximum), the sampling interval stretched as far as those need.
TunedSettings sampled_start(const TunerLimits& limits, uint64_t region_cost_ns);

// One window's verdict: over the target, cut regions or stretch intervals (or leave exact write
// tracking); well under it, give back intervals first, then regions.
TunerDecision decide(const TunerLimits& limits, const TunedSettings& now,
                     const CostMeasurement& cost, uint64_t region_cost_ns);

}  // namespace dprof::monitor
