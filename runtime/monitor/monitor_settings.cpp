#include "monitor_settings.h"

#include <stdlib.h>
#include <string.h>

namespace dprof::monitor {
namespace {

// A whole number within [low, high], or false.
bool read_number(const char* name, uint64_t low, uint64_t high, uint64_t* value, bool* invalid) {
  const char* text = getenv(name);
  if (text == nullptr || text[0] == '\0') return false;
  char* end = nullptr;
  unsigned long long parsed = strtoull(text, &end, 10);
  if (end == text || *end != '\0' || parsed < low || parsed > high) {
    *invalid = true;
    return false;
  }
  *value = parsed;
  return true;
}

}  // namespace

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
    } else {
      settings.invalid_environment = true;
    }
  }
  uint64_t value = 0;
  bool& invalid = settings.invalid_environment;
  if (read_number("DAMON_PROF_SAMPLING_NS", 100000, 10000000000ull, &value, &invalid)) {
    settings.sampling_ns = value;
  }
  if (read_number("DAMON_PROF_AGGREGATION_NS", 100000, 100000000000ull, &value, &invalid)) {
    settings.aggregation_ns = value;
  }
  if (read_number("DAMON_PROF_UPDATE_NS", 100000, 1000000000000ull, &value, &invalid)) {
    settings.update_ns = value;
  }
  if (read_number("DAMON_PROF_MIN_REGIONS", 1, kMaxRegionsLimit, &value, &invalid)) {
    settings.min_regions = static_cast<uint32_t>(value);
  }
  if (read_number("DAMON_PROF_MAX_REGIONS", 3, kMaxRegionsLimit, &value, &invalid)) {
    settings.max_regions = static_cast<uint32_t>(value);
  }
  if (read_number("DAMON_PROF_OVERHEAD_PPM", 100, 1000000, &value, &invalid)) {
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
