// What the access monitor cost over a run, from the cost it measured and wrote with each settings
// record (trace_records.h). Each record's figure is that of its last cost window and stands for
// the time since the record before: the run's average weighs it by that time, so that a start
// with several retunes in a few tens of milliseconds (each at many times the budget) does not
// outweigh the seconds after it.
#pragma once

#include <stdint.h>

#include <vector>

#include "trace_records.h"

namespace dprof::analyzer {

struct MonitorCost {
  uint64_t average_ppm = 0;  // of one CPU, weighted by the time each measurement stands for
  uint64_t highest_ppm = 0;
  // The time the measurements stand for: from the first record to the last. A program that ends
  // within a cost window has the rest of its run unmeasured.
  uint64_t measured_ns = 0;
  bool measured = false;  // false: no record after the first (which has no measurement yet)
};

MonitorCost summarize_monitor_cost(const std::vector<MonitorSettingsInfo>& records);

}  // namespace dprof::analyzer
