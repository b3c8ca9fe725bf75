#include "monitor_cost.h"

#include <algorithm>

namespace dprof::analyzer {

MonitorCost summarize_monitor_cost(const std::vector<MonitorSettingsInfo>& records) {
  MonitorCost cost;
  if (records.empty()) return cost;
  // Records come in time order; the first is written at start, before anything was measured.
  double weighted = 0;  // ppm x ns overflows 64 bits over a long run
  uint64_t total_ns = 0;
  uint64_t previous = records.front().time_ns;
  uint64_t plain_sum = 0;
  uint64_t count = 0;
  for (size_t i = 1; i < records.size(); ++i) {
    const MonitorSettingsInfo& record = records[i];
    uint64_t span = record.time_ns > previous ? record.time_ns - previous : 0;
    previous = std::max(previous, record.time_ns);
    weighted += static_cast<double>(record.measured_overhead_ppm) * static_cast<double>(span);
    total_ns += span;
    plain_sum += record.measured_overhead_ppm;
    ++count;
    cost.highest_ppm = std::max(cost.highest_ppm, record.measured_overhead_ppm);
  }
  if (count == 0) return cost;
  cost.measured = true;
  cost.measured_ns = total_ns;
  // Records all at one instant (a hand-made trace) have no time to weigh by: a plain mean then.
  cost.average_ppm = total_ns == 0
                         ? plain_sum / count
                         : static_cast<uint64_t>(weighted / static_cast<double>(total_ns));
  return cost;
}

}  // namespace dprof::analyzer
