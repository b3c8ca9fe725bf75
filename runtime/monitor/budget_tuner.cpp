#include "budget_tuner.h"

namespace dprof::monitor {
namespace {

// Cost falls about in proportion to the sampling interval: stretches it by the overshoot of
// `cost_ppm` over the target (at most 8x at a time, in powers of two so that the way back halves
// exactly, never past kLongestSamplingNs). Returns whether it could.
bool stretch(const TunerLimits& limits, TunedSettings& settings, uint64_t cost_ppm) {
  if (2 * settings.sampling_ns > kLongestSamplingNs) return false;
  uint64_t factor = 2;
  while (factor < 8 && cost_ppm > uint64_t{limits.target_ppm} * factor &&
         2 * factor * settings.sampling_ns <= kLongestSamplingNs) {
    factor *= 2;
  }
  settings.sampling_ns *= factor;
  settings.aggregation_ns = aggregation_for(limits, settings.sampling_ns);
  return true;
}

// Well under the target: shortens the sampling interval towards the configured one, by as much
// as the measured cost leaves room for at half the target (reckoning cost in proportion), at
// least halving it. Returns whether it could.
bool shorten(const TunerLimits& limits, TunedSettings& settings, uint64_t cost_ppm) {
  if (settings.sampling_ns <= limits.sampling_ns) return false;
  uint64_t factor = 2;
  while (factor < 8 && cost_ppm * factor * 2 * 2 <= limits.target_ppm &&
         settings.sampling_ns / (factor * 2) >= limits.sampling_ns) {
    factor *= 2;
  }
  settings.sampling_ns /= factor;
  if (settings.sampling_ns < limits.sampling_ns) settings.sampling_ns = limits.sampling_ns;
  settings.aggregation_ns = aggregation_for(limits, settings.sampling_ns);
  return true;
}

}  // namespace

uint32_t region_floor(const TunerLimits& limits) {
  uint32_t floor = 2 * limits.min_regions;
  if (limits.regions_wanted > floor) floor = limits.regions_wanted;
  return floor < limits.max_regions ? floor : limits.max_regions;
}

uint64_t aggregation_for(const TunerLimits& limits, uint64_t sampling_ns) {
  uint64_t configured_sampling = limits.sampling_ns == 0 ? 1 : limits.sampling_ns;
  // The configured number of samples per snapshot...
  uint64_t scaled = limits.aggregation_ns / configured_sampling * sampling_ns;
  if (scaled == 0) scaled = sampling_ns;
  // ...as long as snapshots still come often enough (the user may ask for them less often).
  if (limits.aggregation_ns >= kLongestAggregationNs) {
    return limits.aggregation_ns < sampling_ns ? sampling_ns : limits.aggregation_ns;
  }
  uint64_t longest = kLongestAggregationNs > sampling_ns ? kLongestAggregationNs - sampling_ns : 0;
  uint64_t aggregation = scaled < longest ? scaled : longest;
  return aggregation < sampling_ns ? sampling_ns : aggregation;
}

TunedSettings sampled_start(const TunerLimits& limits, uint64_t region_cost_ns) {
  if (region_cost_ns == 0) region_cost_ns = 1;
  uint64_t affordable =
      uint64_t{limits.target_ppm} * limits.sampling_ns / (region_cost_ns * 1000000ull);
  uint64_t floor = region_floor(limits);
  uint64_t regions = affordable < floor ? floor : affordable;
  if (regions > limits.max_regions) regions = limits.max_regions;
  TunedSettings settings{limits.sampling_ns, 0, static_cast<uint32_t>(regions)};
  while (regions * region_cost_ns * 1000000ull / settings.sampling_ns > limits.target_ppm &&
         2 * settings.sampling_ns <= kLongestSamplingNs) {
    settings.sampling_ns *= 2;
  }
  settings.aggregation_ns = aggregation_for(limits, settings.sampling_ns);
  return settings;
}

TunerDecision decide(const TunerLimits& limits, const TunedSettings& now,
                     const CostMeasurement& cost, uint64_t region_cost_ns) {
  TunerDecision decision{now, false, false};
  TunedSettings& next = decision.next;
  uint64_t budget = limits.target_ppm;
  uint64_t measured = cost.measured_ppm;
  uint32_t regions_now = cost.regions_now < now.max_regions ? cost.regions_now : now.max_regions;
  if (measured > budget && cost.exact) {
    // What exact tracking would cost with its intervals stretched as far as they may go. A page
    // written every interval faults once per interval, so its cost falls in proportion; a page
    // written once in a while costs its fault whatever the interval. Reckoned as falling with
    // the square root of the stretch: in proportion, sqlite's exact tracking at 10% of a CPU
    // looked worth stretching 8 times, and still cost 10% at 80 ms (its write set grows).
    uint64_t at_limit = measured;
    for (uint64_t interval = now.sampling_ns;
         interval < kExactModeStretchLimit * limits.sampling_ns; interval *= 2) {
      at_limit = at_limit * 707 / 1000;  // 1/sqrt(2) per doubling
    }
    if (at_limit > budget) {
      // The program writes too much memory too often: sample one page per region instead, whose
      // cost does not grow with memory, at once (stretching step by step first cost a busy
      // program several windows at many times the budget), with settings predicted to fit.
      next = sampled_start(limits, region_cost_ns);
      decision.to_sampled = true;
      decision.changed = true;
      return decision;
    }
    decision.changed = stretch(limits, next, measured);
    return decision;
  }
  if (measured > budget && regions_now > region_floor(limits)) {
    // Sampling costs a few system calls per region (and, for reads, a fault each time a sampled
    // page is touched), each a TLB shootdown while the program runs on other CPUs: fewer regions
    // first, in proportion to the overshoot (at least halved), from the regions there are. What
    // the cut cannot take off (twice the minimum regions are kept) comes off the intervals in
    // the same step: one window more at many times the budget costs a short program more than
    // coarser intervals do.
    uint64_t proportional = uint64_t{regions_now} * budget * 4 / (measured * 5);
    uint32_t halved = regions_now / 2;
    uint32_t cut = proportional < halved ? static_cast<uint32_t>(proportional) : halved;
    next.max_regions = cut < region_floor(limits) ? region_floor(limits) : cut;
    uint64_t left = measured * next.max_regions / regions_now;
    if (left > budget) stretch(limits, next, left);
    decision.changed = true;
    return decision;
  }
  if (measured > budget) {
    decision.changed = stretch(limits, next, measured);
    return decision;
  }
  // Shortening halves the interval at least, and a window's cost grows more than in proportion
  // (more touched pages to arm again): only below 3/8 of the target, or the tuner see-saws.
  if (measured * 8 < budget * 3 && shorten(limits, next, measured)) {
    decision.changed = true;
  } else if (measured < budget / 4 && now.max_regions < limits.max_regions) {
    // Intervals as configured and still well within budget: more regions.
    next.max_regions =
        now.max_regions * 2 > limits.max_regions ? limits.max_regions : now.max_regions * 2;
    decision.changed = true;
  }
  return decision;
}

}  // namespace dprof::monitor
