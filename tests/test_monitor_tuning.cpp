// The monitor's cost tuner: it must act within a few sampling intervals (a short program would
// otherwise pay many times the budget for a whole aggregation interval before the first retune),
// and a change of interval must never fall inside a snapshot (each snapshot says how often its
// regions were sampled).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "integration_support.h"
#include "trace_decoder.h"

using namespace dprof::testing;
using dprof::analyzer::MonitorSettingsInfo;
using dprof::analyzer::RegionSnapshot;

namespace {

struct Collected : dprof::analyzer::TraceConsumer {
  std::vector<MonitorSettingsInfo> settings;
  std::vector<RegionSnapshot> snapshots;
  void on_monitor_settings(const MonitorSettingsInfo& record) override {
    settings.push_back(record);
  }
  void on_region_snapshot(const RegionSnapshot& snapshot) override {
    snapshots.push_back(snapshot);
  }
};

// The settings record in force at `time`: the last one written at or before it.
const MonitorSettingsInfo* in_force_at(const std::vector<MonitorSettingsInfo>& records,
                                       uint64_t time) {
  const MonitorSettingsInfo* found = nullptr;
  for (const MonitorSettingsInfo& record : records) {
    if (record.time_ns <= time) found = &record;
  }
  return found;
}

}  // namespace

TEST(MonitorTuning, OverBudgetIntervalsStretchLongBeforeTheFirstSnapshotAndNeverInsideOne) {
  TempDir directory;
  std::string trace = directory.file("tuned.dprof");
  // The smallest budget: every cost window is over it. Snapshots would come once a second.
  CommandResult result = run_command(
      {damon_prof_binary(), "-q", "-o", trace, "--sampling", "10ms", "--aggregation", "1s",
       "--overhead", "0.01%", test_program("access_pattern"), "2", "4", "1200", "write", "1,0"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Collected collected;
  dprof::analyzer::decode_trace(trace, collected);
  ASSERT_FALSE(collected.settings.empty());
  if (collected.settings.front().backend == "none") {
    GTEST_SKIP() << "no monitoring backend on this kernel";
  }
  const uint64_t started = collected.settings.front().time_ns;
  const MonitorSettingsInfo* first_change = nullptr;
  for (const MonitorSettingsInfo& record : collected.settings) {
    if (record.sampling_ns != 10000000u ||
        record.max_regions != collected.settings[0].max_regions) {
      first_change = &record;
      break;
    }
  }
  ASSERT_NE(first_change, nullptr) << "the tuner never acted on a budget of 0.01% of a CPU";
  // The cost window is 40 ms: well under the 1 s aggregation interval even on a loaded machine.
  EXPECT_LT(first_change->time_ns - started, 500000000u)
      << "the first retune came " << (first_change->time_ns - started) / 1000000 << " ms in";
  ASSERT_FALSE(collected.snapshots.empty());
  for (const RegionSnapshot& snapshot : collected.snapshots) {
    // A snapshot ends before the settings record of the change that ended it, and starts after
    // the one before (a millisecond's leeway for the time between writing the two records).
    uint64_t start = snapshot.time_ns - snapshot.aggregation_ns + 1000000;
    const MonitorSettingsInfo* at_start = in_force_at(collected.settings, start);
    const MonitorSettingsInfo* at_end = in_force_at(collected.settings, snapshot.time_ns);
    ASSERT_NE(at_start, nullptr);
    EXPECT_EQ(at_start->sampling_ns, snapshot.sampling_ns)
        << "snapshot at " << snapshot.time_ns / 1000000 << " ms began under other intervals";
    EXPECT_EQ(at_end->sampling_ns, snapshot.sampling_ns)
        << "snapshot at " << snapshot.time_ns / 1000000 << " ms ended under other intervals";
  }
}

// When exact write tracking would stay over budget even at its stretch limit, the monitor samples
// one page per region instead, at once and with intervals predicted to fit the budget, and the
// switch ends the snapshot under way: no snapshot mixes exactly counted written pages with
// sampled ones.
TEST(MonitorTuning, ExactTrackingOverBudgetGivesWayToSamplingBetweenSnapshots) {
  TempDir directory;
  std::string trace = directory.file("switched.dprof");
  CommandResult result =
      run_command({damon_prof_binary(), "-q", "-o", trace, "--backend", "uffd-wp", "--sampling",
                   "10ms", "--aggregation", "100ms", "--overhead", "0.01%",
                   test_program("access_pattern"), "2", "4", "1500", "write", "1,0"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Collected collected;
  dprof::analyzer::decode_trace(trace, collected);
  ASSERT_FALSE(collected.settings.empty());
  if (collected.settings.front().backend != "uffd-wp") {
    GTEST_SKIP() << "no userfaultfd write-protect on this kernel";
  }
  auto sampled = [](const MonitorSettingsInfo& record) {
    return record.reason.rfind("sampling one page per region", 0) == 0;
  };
  size_t switched = 0;
  while (switched < collected.settings.size() && !sampled(collected.settings[switched])) {
    ++switched;
  }
  ASSERT_LT(switched, collected.settings.size())
      << "exact write tracking never gave way on a budget of 0.01% of a CPU";
  ASSERT_GT(switched, 0u);
  const MonitorSettingsInfo& at_switch = collected.settings[switched];
  // Not after stretching step by step (each step a cost window of four ever longer intervals
  // many times over the budget): a 0.01% budget leaves exact tracking no hope from the start.
  EXPECT_LT(at_switch.time_ns - collected.settings.front().time_ns, 500000000u)
      << "exact tracking gave way only "
      << (at_switch.time_ns - collected.settings.front().time_ns) / 1000000 << " ms in";
  EXPECT_EQ(collected.settings[switched - 1].sampling_ns, 10000000u);
  // Sampling one page per region in each of twice the minimum regions still costs far more than
  // 0.01% of a CPU at 10 ms: its intervals start stretched, within the 2 s limit.
  EXPECT_GT(at_switch.sampling_ns, 10000000u);
  EXPECT_LE(at_switch.sampling_ns, 2000000000u);
  EXPECT_LE(at_switch.max_regions, 20u);
  for (const RegionSnapshot& snapshot : collected.snapshots) {
    uint64_t start = snapshot.time_ns - snapshot.aggregation_ns + 1000000;
    const MonitorSettingsInfo* at_start = in_force_at(collected.settings, start);
    const MonitorSettingsInfo* at_end = in_force_at(collected.settings, snapshot.time_ns);
    ASSERT_NE(at_start, nullptr);
    EXPECT_EQ(sampled(*at_start), sampled(*at_end))
        << "snapshot at " << snapshot.time_ns / 1000000 << " ms spans the switch to sampling";
  }
}
