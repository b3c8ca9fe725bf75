// The monitor's cost over a run, as the report gives it: each measurement weighed by the time it
// stands for.
#include <gtest/gtest.h>

#include <vector>

#include "monitor_cost.h"

using dprof::analyzer::MonitorSettingsInfo;
using dprof::analyzer::summarize_monitor_cost;

namespace {

MonitorSettingsInfo record(uint64_t time_ms, uint64_t measured_ppm) {
  MonitorSettingsInfo settings;
  settings.time_ns = time_ms * 1000000;
  settings.measured_overhead_ppm = measured_ppm;
  return settings;
}

}  // namespace

TEST(MonitorCost, EachMeasurementWeighsAsLongAsItStandsFor) {
  // Start; a window of 20 ms at 30%, the retune; then two seconds at 1.5%.
  std::vector<MonitorSettingsInfo> records = {record(0, 0), record(20, 300000), record(1020, 15000),
                                              record(2020, 15000)};
  auto cost = summarize_monitor_cost(records);
  EXPECT_TRUE(cost.measured);
  EXPECT_EQ(cost.highest_ppm, 300000u);
  // (300000 * 20 + 15000 * 2000) / 2020: 17821, not the plain mean's 110000.
  EXPECT_EQ(cost.average_ppm, 17821u);
  EXPECT_EQ(cost.measured_ns, 2020000000u);
}

TEST(MonitorCost, NothingMeasuredBeforeTheSecondRecord) {
  EXPECT_FALSE(summarize_monitor_cost({}).measured);
  auto cost = summarize_monitor_cost({record(5, 99999)});  // the start's record measures nothing
  EXPECT_FALSE(cost.measured);
  EXPECT_EQ(cost.average_ppm, 0u);
  EXPECT_EQ(cost.highest_ppm, 0u);
}

TEST(MonitorCost, RecordsWithoutTimeBetweenThemAveragePlainly) {
  auto cost = summarize_monitor_cost({record(7, 0), record(7, 10000), record(7, 30000)});
  EXPECT_TRUE(cost.measured);
  EXPECT_EQ(cost.average_ppm, 20000u);
}
