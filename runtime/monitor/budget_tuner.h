// The tuner's decisions: what the monitor changes for a cost it measured, as pure functions of
// the configured settings, the settings in force and the measurement (tested by tables, without
// timing). monitor_thread.cpp measures and applies; docs/design-notes.md explains the policy.
#pragma once

#include <stdint.h>

namespace dprof::monitor {

// Snapshots come at least this often, however far the sampling interval is stretched (unless
// the user asked for longer aggregation): a snapshot 3.2 s long left a 4 s phase of a program
// with one snapshot or none. Stretching spends the samples of a snapshot first.
constexpr uint64_t kLongestAggregationNs = 500000000ull;  // 500 ms
// Stretching stops here.
constexpr uint64_t kLongestSamplingNs = 2000000000ull;  // 2 s
// Exact write tracking may stretch its intervals this much before it gives way to sampling.
constexpr uint64_t kExactModeStretchLimit = 8;

struct TunerLimits {
  uint64_t sampling_ns;     // as configured
  uint64_t aggregation_ns;  // as configured
  uint32_t min_regions;
  uint32_t max_regions;  // as configured
  uint32_t target_ppm;   // the cost aimed at, in millionths of a CPU
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

// The aggregation interval that goes with `sampling_ns`: the configured ratio, but never longer
// than kLongestAggregationNs (or the configured interval, when that is longer), never shorter
// than one sampling interval.
uint64_t aggregation_for(const TunerLimits& limits, uint64_t sampling_ns);

// Sampled mode's start, predicted from what one region costs per sampling interval: as many
// regions as the budget affords at the configured intervals (at least twice the minimum, at most
// the maximum), the sampling interval stretched as far as those need.
TunedSettings sampled_start(const TunerLimits& limits, uint64_t region_cost_ns);

// One window's verdict: over the target, cut regions or stretch intervals (or leave exact write
// tracking); well under it, give back intervals first, then regions.
TunerDecision decide(const TunerLimits& limits, const TunedSettings& now,
                     const CostMeasurement& cost, uint64_t region_cost_ns);

}  // namespace dprof::monitor
