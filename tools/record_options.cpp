#include "record_options.h"

#include <cstdlib>

#include "units.h"

namespace dprof::tools {
namespace {

constexpr uint64_t kMaxRegions = 2000;  // as the runtime's monitor/monitor_settings.h

bool parse_count(const std::string& text, uint64_t low, uint64_t high, uint64_t* value) {
  char* end = nullptr;
  unsigned long long parsed = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || *end != '\0' || parsed < low || parsed > high) return false;
  *value = parsed;
  return true;
}

}  // namespace

bool parse_record_options(const std::vector<std::string>& arguments, RecordOptions* options,
                          std::string* error) {
  uint64_t sampling_ns = 10000000;
  uint64_t aggregation_ns = 200000000;
  uint64_t min_regions = 10;
  uint64_t max_regions = 1000;
  bool sampling_given = false;
  bool aggregation_given = false;
  auto& environment = options->runtime_environment;
  size_t index = 0;
  for (; index < arguments.size(); ++index) {
    const std::string& option = arguments[index];
    if (option == "--") {
      ++index;
      break;
    }
    if (option.empty() || option[0] != '-') break;
    if (option == "-q" || option == "--quiet") {
      options->quiet = true;
      continue;
    }
    if (option == "--no-follow") {
      environment.emplace_back("DAMON_PROF_NO_FOLLOW", "1");
      continue;
    }
    bool takes_value = option == "-o" || option == "--output" || option == "--flush-interval" ||
                       option == "--backend" || option == "--sampling" ||
                       option == "--aggregation" || option == "--update" ||
                       option == "--min-regions" || option == "--max-regions" ||
                       option == "--overhead" || option == "--sample-rate" || option == "--unwind";
    if (!takes_value) {
      *error = "unknown option " + option + " (see damon-prof help)";
      return false;
    }
    if (index + 1 >= arguments.size()) {
      *error = option + " needs a value (see damon-prof help)";
      return false;
    }
    const std::string& value = arguments[++index];
    std::string problem;
    uint64_t number = 0;
    if (option == "-o" || option == "--output") {
      options->output = value;
    } else if (option == "--flush-interval") {
      if (!parse_count(value, 1, 3600000, &number)) {
        *error = "--flush-interval " + value + ": expected milliseconds between 1 and 3600000";
        return false;
      }
      environment.emplace_back("DAMON_PROF_FLUSH_INTERVAL", value);
    } else if (option == "--backend") {
      if (value != "auto" && value != "uffd-wp" && value != "mprotect" && value != "none") {
        *error = "--backend " + value + ": unknown backend (auto, uffd-wp, mprotect or none)";
        return false;
      }
      environment.emplace_back("DAMON_PROF_BACKEND", value);
    } else if (option == "--sampling" || option == "--aggregation" || option == "--update") {
      auto duration = analyzer::parse_duration(value, &problem);
      if (!duration) {
        *error = option + " " + value + ": " + problem;
        return false;
      }
      uint64_t high = option == "--sampling"      ? 10000000000ull
                      : option == "--aggregation" ? 100000000000ull
                                                  : 1000000000000ull;
      if (*duration < 100000 || *duration > high) {
        *error = option + " " + value + ": out of range (100us to " +
                 std::to_string(high / 1000000000ull) + "s)";
        return false;
      }
      if (option == "--sampling") {
        sampling_ns = *duration;
        sampling_given = true;
        environment.emplace_back("DAMON_PROF_SAMPLING_NS", std::to_string(*duration));
      } else if (option == "--aggregation") {
        aggregation_ns = *duration;
        aggregation_given = true;
        environment.emplace_back("DAMON_PROF_AGGREGATION_NS", std::to_string(*duration));
      } else {
        environment.emplace_back("DAMON_PROF_UPDATE_NS", std::to_string(*duration));
      }
    } else if (option == "--min-regions" || option == "--max-regions") {
      uint64_t low = option == "--min-regions" ? 1 : 3;
      if (!parse_count(value, low, kMaxRegions, &number)) {
        *error = option + " " + value + ": expected a whole number from " + std::to_string(low) +
                 " to " + std::to_string(kMaxRegions);
        return false;
      }
      (option == "--min-regions" ? min_regions : max_regions) = number;
      environment.emplace_back(
          option == "--min-regions" ? "DAMON_PROF_MIN_REGIONS" : "DAMON_PROF_MAX_REGIONS", value);
    } else if (option == "--sample-rate") {
      auto bytes = analyzer::parse_size(value, &problem);
      constexpr uint64_t kMaxRate = uint64_t{1} << 40;  // as DAMON_PROF_SAMPLE_RATE
      if (!bytes || *bytes > kMaxRate) {
        *error = "--sample-rate " + value +
                 ": expected a size from 0 (every allocation) to 1TiB, such as 512KiB";
        return false;
      }
      environment.emplace_back("DAMON_PROF_SAMPLE_RATE", std::to_string(*bytes));
    } else if (option == "--unwind") {
      if (value != "dwarf" && value != "fp") {
        *error = "--unwind " + value + ": expected dwarf or fp";
        return false;
      }
      environment.emplace_back("DAMON_PROF_UNWIND", value);
    } else if (option == "--overhead") {
      auto percentage = analyzer::parse_percentage(value, &problem);
      if (!percentage || *percentage < 0.01 || *percentage > 100) {
        *error = "--overhead " + value + ": expected a share of one CPU from 0.01% to 100%";
        return false;
      }
      environment.emplace_back("DAMON_PROF_OVERHEAD_PPM",
                               std::to_string(static_cast<uint64_t>(*percentage * 10000.0 + 0.5)));
    }
  }
  if ((sampling_given || aggregation_given) && aggregation_ns < sampling_ns) {
    *error =
        "--aggregation must be at least --sampling (an aggregation interval is made of "
        "sampling intervals)";
    return false;
  }
  if (max_regions < min_regions) {
    *error = "--max-regions " + std::to_string(max_regions) + " is below --min-regions " +
             std::to_string(min_regions);
    return false;
  }
  options->program.assign(arguments.begin() + static_cast<std::ptrdiff_t>(index), arguments.end());
  if (options->program.empty()) {
    *error = "which program? usage: damon-prof [record] [options] PROGRAM [ARGS...]";
    return false;
  }
  return true;
}

}  // namespace dprof::tools
