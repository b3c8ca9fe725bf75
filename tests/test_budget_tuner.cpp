// The tuner's decisions (runtime/monitor/budget_tuner.h) as tables: a measured cost in, the
// settings out. No timing: what the monitor does with a budget is tested here, not by running it.
#include <gtest/gtest.h>

#include "monitor/budget_tuner.h"

using dprof::monitor::aggregation_for;
using dprof::monitor::CostMeasurement;
using dprof::monitor::decide;
using dprof::monitor::kLongestAggregationNs;
using dprof::monitor::kLongestSamplingNs;
using dprof::monitor::sampled_start;
using dprof::monitor::TunedSettings;
using dprof::monitor::TunerLimits;

namespace {

constexpr uint64_t kMs = 1000000;
// The defaults: 10 ms sampling, 200 ms aggregation, 10..1000 regions, aiming at 1.6% of a CPU.
constexpr TunerLimits kDefaults{10 * kMs, 200 * kMs, 10, 1000, 16000};

}  // namespace

TEST(BudgetTuner, SnapshotsComeTwiceASecondHoweverFarSamplingStretches) {
  struct Row {
    uint64_t sampling_ms;
    uint64_t expected_aggregation_ms;
  };
  const Row rows[] = {
      {10, 200},   // as configured: 20 samples a snapshot
      {20, 400},   // stretched: still 20 (a snapshot ends by 420 ms)
      {40, 460},   // from here the snapshot's samples go, not its frequency: it ends by 500 ms
      {160, 340},  // 3 samples, ending by 480 ms
      {400, 400},  // never shorter than one sampling interval
  };
  for (const Row& row : rows) {
    EXPECT_EQ(aggregation_for(kDefaults, row.sampling_ms * kMs), row.expected_aggregation_ms * kMs)
        << row.sampling_ms << " ms";
  }
  // A longer aggregation the user asked for is kept.
  TunerLimits slow = kDefaults;
  slow.aggregation_ns = 2000 * kMs;
  EXPECT_EQ(aggregation_for(slow, 10 * kMs), 2000 * kMs);
  EXPECT_EQ(aggregation_for(slow, 40 * kMs), 2000 * kMs);
}

TEST(BudgetTuner, SampledModeStartsWithWhatTheBudgetAffords) {
  struct Row {
    uint64_t region_cost_us;
    uint64_t expected_sampling_ms;
    uint32_t expected_regions;
  };
  const Row rows[] = {
      // 16000 ppm of 10 ms is 160 us: 16 regions at 10 us, the floor of 20 needs 20 ms.
      {10, 20, 20},
      {1, 10, 160},       // cheap regions: more of them at the configured interval
      {60, 80, 20},       // a costly virtual machine: the floor, stretched to fit
      {100000, 160, 20},  // doubling stops before the longest sampling interval (250 ms)
  };
  for (const Row& row : rows) {
    TunedSettings settings = sampled_start(kDefaults, row.region_cost_us * 1000);
    EXPECT_EQ(settings.sampling_ns, row.expected_sampling_ms * kMs) << row.region_cost_us;
    EXPECT_EQ(settings.max_regions, row.expected_regions) << row.region_cost_us;
    EXPECT_LE(settings.aggregation_ns, std::max(kLongestAggregationNs, settings.sampling_ns));
  }
}

TEST(BudgetTuner, EachMeasuredCostGetsItsDecision) {
  struct Row {
    const char* what;
    TunedSettings now;
    CostMeasurement cost;
    TunedSettings expected;
    bool to_sampled;
    bool changed;
  };
  const Row rows[] = {
      {"within the budget: nothing changes",
       {20 * kMs, 400 * kMs, 20},
       {12000, 20, false},
       {20 * kMs, 400 * kMs, 20},
       false,
       false},
      {"sampled, over the budget with regions to spare: regions cut in proportion",
       {10 * kMs, 200 * kMs, 200},
       {32000, 200, false},
       {10 * kMs, 200 * kMs, 80},
       false,
       true},
      {"sampled, far over with few regions: cut to the floor and the rest off the interval",
       {10 * kMs, 200 * kMs, 40},
       {160000, 40, false},
       {80 * kMs, 420 * kMs, 20},
       false,
       true},
      {"sampled at the floor, twice the budget: the interval doubles",
       {10 * kMs, 200 * kMs, 20},
       {32000, 20, false},
       {20 * kMs, 400 * kMs, 20},
       false,
       true},
      {"sampled at the floor, ten times over: at most eight times longer",
       {10 * kMs, 200 * kMs, 20},
       {160000, 20, false},
       {80 * kMs, 420 * kMs, 20},
       false,
       true},
      {"at the longest interval already: nothing more to give",
       {kLongestSamplingNs, kLongestSamplingNs, 20},
       {32000, 20, false},
       {kLongestSamplingNs, kLongestSamplingNs, 20},
       false,
       false},
      {"exact, over but worth stretching: the interval doubles",
       {10 * kMs, 200 * kMs, 1000},
       {20000, 50, true},
       {20 * kMs, 400 * kMs, 1000},
       false,
       true},
      {"exact, far over: sampling one page per region, predicted to fit",
       {10 * kMs, 200 * kMs, 1000},
       {120000, 50, true},
       {80 * kMs, 420 * kMs, 20},
       true,
       true},
      {"well under at a stretched interval: shortened as far as half the budget allows",
       {160 * kMs, 500 * kMs, 20},
       {1000, 20, false},
       {20 * kMs, 400 * kMs, 20},
       false,
       true},
      {"a little under: shortened by half",
       {160 * kMs, 500 * kMs, 20},
       {3500, 20, false},
       {80 * kMs, 420 * kMs, 20},
       false,
       true},
      {"under, but shortening would overshoot: kept",
       {40 * kMs, 500 * kMs, 20},
       {9000, 20, false},
       {40 * kMs, 500 * kMs, 20},
       false,
       false},
      {"well under at the configured interval: twice the regions",
       {10 * kMs, 200 * kMs, 20},
       {3000, 20, false},
       {10 * kMs, 200 * kMs, 40},
       false,
       true},
      {"regions at the maximum already: nothing to give back",
       {10 * kMs, 200 * kMs, 1000},
       {100, 700, false},
       {10 * kMs, 200 * kMs, 1000},
       false,
       false},
  };
  for (const Row& row : rows) {
    // 60 us a region, as on this project's virtual machine.
    auto decision = decide(kDefaults, row.now, row.cost, 60000);
    EXPECT_EQ(decision.next.sampling_ns, row.expected.sampling_ns) << row.what;
    EXPECT_EQ(decision.next.aggregation_ns, row.expected.aggregation_ns) << row.what;
    EXPECT_EQ(decision.next.max_regions, row.expected.max_regions) << row.what;
    EXPECT_EQ(decision.to_sampled, row.to_sampled) << row.what;
    EXPECT_EQ(decision.changed, row.changed) << row.what;
  }
}

TEST(BudgetTuner, LargeBlocksKeepTheRegionsThatSeparateThem) {
  TunerLimits limits = kDefaults;
  limits.regions_wanted = 41;  // twenty blocks of 16 MiB or more
  EXPECT_EQ(dprof::monitor::region_floor(limits), 41u);
  // Over the budget: the cut stops at what the blocks want, and the interval takes the rest.
  auto decision = decide(limits, {10 * kMs, 200 * kMs, 200}, {64000, 200, false}, 60000);
  EXPECT_EQ(decision.next.max_regions, 41u);
  EXPECT_EQ(decision.next.sampling_ns, 10 * kMs);  // 64000 * 41 / 200 = 13120: the cut suffices
  EXPECT_EQ(sampled_start(limits, 60000).max_regions, 41u);
  // Never above the maximum the user set.
  limits.max_regions = 30;
  EXPECT_EQ(dprof::monitor::region_floor(limits), 30u);
}

TEST(BudgetTuner, StretchingAndShorteningFindTheWayBack) {
  // Four times over: four times longer.
  TunedSettings settings{10 * kMs, 200 * kMs, 20};
  auto up = decide(kDefaults, settings, {64000, 20, false}, 60000);
  ASSERT_EQ(up.next.sampling_ns, 40 * kMs);
  // The program quietens; each window's cost grows as the interval shortens, and the tuner never
  // shortens past what would bring it above half the target.
  auto down = decide(kDefaults, up.next, {3000, 20, false}, 60000);
  ASSERT_EQ(down.next.sampling_ns, 20 * kMs);
  auto back = decide(kDefaults, down.next, {5000, 20, false}, 60000);
  EXPECT_EQ(back.next.sampling_ns, 10 * kMs);
  EXPECT_EQ(back.next.aggregation_ns, 200 * kMs);
  // And stays: at 10000 it is within the target, and too near it to shorten again.
  EXPECT_FALSE(decide(kDefaults, back.next, {10000, 20, false}, 60000).changed);
  EXPECT_FALSE(decide(kDefaults, down.next, {7000, 20, false}, 60000).changed);
}
