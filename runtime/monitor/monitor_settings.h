// The access monitor's settings, from the DAMON_PROF_* environment that `damon-prof record`
// sets after validating the user's options. Invalid values fall back to the defaults (the
// launcher has already refused them; a hand-set environment gets a diagnostic in the trace).
#pragma once

#include <stdint.h>

namespace dprof::monitor {

enum class BackendChoice { kAuto, kUffdWp, kMprotect, kNone };

struct MonitorSettings {
  BackendChoice backend = BackendChoice::kAuto;
  uint64_t sampling_ns = 10000000ull;      // 10 ms
  uint64_t aggregation_ns = 200000000ull;  // 200 ms: 20 samples per snapshot
  uint64_t update_ns = 1000000000ull;      // 1 s between target refreshes
  uint32_t min_regions = 10;
  uint32_t max_regions = 1000;
  uint32_t overhead_budget_ppm = 20000;  // 2% of one CPU
};

// Limits the launcher enforces too.
constexpr uint32_t kMaxRegionsLimit = 2000;

MonitorSettings read_monitor_settings();
const char* backend_choice_name(BackendChoice choice);

}  // namespace dprof::monitor
