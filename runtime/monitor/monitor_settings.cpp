#include "monitor_settings.h"

#include <stdlib.h>
#include <string.h>

#include "../environment_check.h"

namespace dprof::monitor {

MonitorSettings read_monitor_settings() {
  MonitorSettings settings;
  if (const char* backend = getenv("DAMON_PROF_BACKEND")) {
    if (strcmp(backend, "auto") == 0) {
      settings.backend = BackendChoice::kAuto;
    } else if (strcmp(backend, "uffd-wp") == 0) {
      settings.backend = BackendChoice::kUffdWp;
    } else if (strcmp(backend, "mprotect") == 0) {
      settings.backend = BackendChoice::kMprotect;
    } else if (strcmp(backend, "none") == 0) {
      settings.backend = BackendChoice::kNone;
    }
  }
  // Ranges: environment_check.cpp.
  auto read = environment_check::number_from_environment;
  uint64_t value = 0;
  if (read("DAMON_PROF_SAMPLING_NS", &value)) {
    settings.sampling_ns = value;
  }
  if (read("DAMON_PROF_AGGREGATION_NS", &value)) {
    settings.aggregation_ns = value;
  }
  if (read("DAMON_PROF_UPDATE_NS", &value)) {
    settings.update_ns = value;
  }
  if (read("DAMON_PROF_MIN_REGIONS", &value)) {
    settings.min_regions = static_cast<uint32_t>(value);
  }
  if (read("DAMON_PROF_MAX_REGIONS", &value)) {
    settings.max_regions = static_cast<uint32_t>(value);
  }
  if (read("DAMON_PROF_OVERHEAD_PPM", &value)) {
    settings.overhead_budget_ppm = static_cast<uint32_t>(value);
  }
  if (settings.aggregation_ns < settings.sampling_ns)
    settings.aggregation_ns = settings.sampling_ns;
  if (settings.max_regions < settings.min_regions) settings.max_regions = settings.min_regions;
  return settings;
}

const char* backend_choice_name(BackendChoice choice) {
  switch (choice) {
    case BackendChoice::kUffdWp:
      return "uffd-wp";
    case BackendChoice::kMprotect:
      return "mprotect";
    case BackendChoice::kNone:
      return "none";
    case BackendChoice::kAuto:
      break;
  }
  return "auto";
}

}  // namespace dprof::monitor
