#include "environment_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace dprof::environment_check {
namespace {

enum class Kind { kAny, kPath, kPid, kNumber, kFlag, kBackend, kUnwind };

struct Variable {
  const char* name;
  Kind kind;
  uint64_t low;
  uint64_t high;
  const char* meaning;  // what a valid value is, for the message
};

// Ranges as the launcher's options (tools/record_options.cpp) and the monitor's settings.
constexpr Variable kVariables[] = {
    {"DAMON_PROF_OUTPUT", Kind::kPath, 0, 0, "a file path"},
    {"DAMON_PROF_OUTPUT_PID", Kind::kPid, 1, 4194304, "a process id"},
    {"DAMON_PROF_OUTPUT_DIR", Kind::kPath, 0, 0, "a directory path"},
    {"DAMON_PROF_FLUSH_INTERVAL", Kind::kNumber, 1, 3600000, "milliseconds from 1 to 3600000"},
    {"DAMON_PROF_SAMPLE_INTERVAL", Kind::kNumber, 1, 3600000, "milliseconds from 1 to 3600000"},
    {"DAMON_PROF_VERBOSE", Kind::kAny, 0, 0, "anything"},
    {"DAMON_PROF_NO_FOLLOW", Kind::kFlag, 0, 0, "0 or 1"},
    {"DAMON_PROF_BACKEND", Kind::kBackend, 0, 0, "auto, uffd-wp, mprotect or none"},
    {"DAMON_PROF_SAMPLING_NS", Kind::kNumber, 100000, 10000000000ull,
     "nanoseconds from 100000 to 10000000000"},
    {"DAMON_PROF_AGGREGATION_NS", Kind::kNumber, 100000, 100000000000ull,
     "nanoseconds from 100000 to 100000000000"},
    {"DAMON_PROF_UPDATE_NS", Kind::kNumber, 100000, 1000000000000ull,
     "nanoseconds from 100000 to 1000000000000"},
    {"DAMON_PROF_MIN_REGIONS", Kind::kNumber, 1, 2000, "a whole number from 1 to 2000"},
    {"DAMON_PROF_MAX_REGIONS", Kind::kNumber, 3, 2000, "a whole number from 3 to 2000"},
    {"DAMON_PROF_OVERHEAD_PPM", Kind::kNumber, 100, 1000000,
     "parts per million of a CPU from 100 to 1000000"},
    {"DAMON_PROF_RUNTIME", Kind::kPath, 0, 0, "the runtime library's path"},
    {"DAMON_PROF_ANALYZER", Kind::kPath, 0, 0, "the analyzer's path"},
    {"DAMON_PROF_SAMPLE_RATE", Kind::kNumber, 0, uint64_t{1} << 40,
     "bytes from 0 (every allocation) to 1099511627776"},
    {"DAMON_PROF_UNWIND", Kind::kUnwind, 0, 0, "dwarf or fp"},
    // The analyzer's (analyzer/debug_file_cache.h); empty turns its cache off.
    {"DAMON_PROF_CACHE_DIR", Kind::kAny, 0, 0, "a directory path, or empty for no cache"},
};

constexpr size_t kMaxPath = 4000;

bool parse_number(const char* text, uint64_t low, uint64_t high, uint64_t* parsed) {
  if (*text == '\0') return false;
  uint64_t value = 0;
  for (const char* cursor = text; *cursor != '\0'; ++cursor) {
    if (*cursor < '0' || *cursor > '9') return false;
    if (value > (UINT64_MAX - 9) / 10) return false;
    value = value * 10 + static_cast<uint64_t>(*cursor - '0');
  }
  *parsed = value;
  return value >= low && value <= high;
}

const Variable* find_variable(const char* name, size_t name_length) {
  for (const Variable& variable : kVariables) {
    if (strlen(variable.name) == name_length && strncmp(variable.name, name, name_length) == 0) {
      return &variable;
    }
  }
  return nullptr;
}

bool value_is_valid(const Variable& variable, const char* value) {
  switch (variable.kind) {
    case Kind::kAny:
      return true;
    case Kind::kPath:
      return value[0] != '\0' && strlen(value) < kMaxPath;
    case Kind::kPid:
    case Kind::kNumber: {
      uint64_t parsed = 0;
      return parse_number(value, variable.low, variable.high, &parsed);
    }
    case Kind::kFlag:
      return value[0] == '\0' || strcmp(value, "0") == 0 || strcmp(value, "1") == 0;
    case Kind::kBackend:
      return strcmp(value, "auto") == 0 || strcmp(value, "uffd-wp") == 0 ||
             strcmp(value, "mprotect") == 0 || strcmp(value, "none") == 0;
    case Kind::kUnwind:
      return strcmp(value, "dwarf") == 0 || strcmp(value, "fp") == 0;
  }
  return false;
}

}  // namespace

Verdict check_entry(const char* entry, char* problem, size_t capacity) {
  static const char kPrefix[] = "DAMON_PROF_";
  if (strncmp(entry, kPrefix, sizeof(kPrefix) - 1) != 0) return Verdict::kNotOurs;
  const char* equals = strchr(entry, '=');
  size_t name_length = equals == nullptr ? strlen(entry) : static_cast<size_t>(equals - entry);
  const char* value = equals == nullptr ? "" : equals + 1;
  if (const Variable* found = find_variable(entry, name_length)) {
    const Variable& variable = *found;
    if (value_is_valid(variable, value)) return Verdict::kValid;
    // The value is shown cut short and with control characters replaced: it is untrusted.
    char shown[48];
    size_t length = 0;
    for (; value[length] != '\0' && length + 1 < sizeof(shown); ++length) {
      auto c = static_cast<unsigned char>(value[length]);
      shown[length] = c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
    }
    shown[length] = '\0';
    snprintf(problem, capacity, "%s=%s%s: expected %s", variable.name, shown,
             value[length] != '\0' ? "..." : "", variable.meaning);
    return Verdict::kInvalidValue;
  }
  snprintf(problem, capacity, "%.*s is not a damon-prof variable (ignored)",
           static_cast<int>(name_length < 64 ? name_length : 64), entry);
  return Verdict::kUnknownName;
}

bool number_from_environment(const char* name, uint64_t* value) {
  const Variable* variable = find_variable(name, strlen(name));
  const char* text = getenv(name);
  if (variable == nullptr || text == nullptr) return false;
  if (variable->kind != Kind::kNumber && variable->kind != Kind::kPid) return false;
  uint64_t parsed = 0;
  if (!parse_number(text, variable->low, variable->high, &parsed)) return false;
  *value = parsed;
  return true;
}

}  // namespace dprof::environment_check
