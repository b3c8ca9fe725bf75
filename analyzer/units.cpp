#include "units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace dprof::analyzer {

std::optional<uint64_t> parse_size(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& message) -> std::optional<uint64_t> {
    if (error != nullptr) *error = message;
    return std::nullopt;
  };
  std::string trimmed(text);
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) {
    trimmed.pop_back();
  }
  if (trimmed.empty()) return fail("empty size");
  size_t digits_end = 0;
  while (digits_end < trimmed.size() &&
         (std::isdigit(static_cast<unsigned char>(trimmed[digits_end])) ||
          trimmed[digits_end] == '.')) {
    ++digits_end;
  }
  if (digits_end == 0)
    return fail("'" + trimmed + "' is not a size (expected e.g. 4096, 512KiB, 1.5GB)");
  std::string number = trimmed.substr(0, digits_end);
  if (number.find('.') != number.rfind('.'))
    return fail("'" + trimmed + "' has two decimal points");
  std::string unit = trimmed.substr(digits_end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  struct Unit {
    const char* name;
    double factor;
  };
  static const Unit kUnits[] = {
      {"", 1},
      {"B", 1},
      {"K", 1024.0},
      {"KB", 1e3},
      {"KiB", 1024.0},
      {"M", 1048576.0},
      {"MB", 1e6},
      {"MiB", 1048576.0},
      {"G", 1073741824.0},
      {"GB", 1e9},
      {"GiB", 1073741824.0},
      {"T", 1099511627776.0},
      {"TB", 1e12},
      {"TiB", 1099511627776.0},
  };
  for (const Unit& candidate : kUnits) {
    if (unit == candidate.name) {
      double value = std::strtod(number.c_str(), nullptr) * candidate.factor;
      if (!std::isfinite(value) || value >= 18446744073709551615.0) {
        return fail("'" + trimmed + "' is too large");
      }
      if (candidate.factor == 1 && number.find('.') != std::string::npos) {
        return fail("'" + trimmed + "' is not a whole number of bytes");
      }
      return static_cast<uint64_t>(std::llround(value));
    }
  }
  return fail("'" + trimmed + "' has an unknown unit '" + unit +
              "' (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)");
}

std::optional<double> parse_percentage(std::string_view text, std::string* error) {
  std::string trimmed(text);
  if (trimmed.empty() || trimmed.back() != '%') {
    if (error != nullptr) *error = "'" + trimmed + "' is not a percentage (expected e.g. 5%)";
    return std::nullopt;
  }
  trimmed.pop_back();
  char* end = nullptr;
  double value = std::strtod(trimmed.c_str(), &end);
  if (trimmed.empty() || end == nullptr || *end != '\0' || !std::isfinite(value) || value < 0) {
    if (error != nullptr) *error = "'" + std::string(text) + "' is not a percentage";
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> parse_duration(std::string_view text, std::string* error) {
  std::string value(text);
  size_t digits_end = 0;
  while (
      digits_end < value.size() &&
      (std::isdigit(static_cast<unsigned char>(value[digits_end])) || value[digits_end] == '.')) {
    ++digits_end;
  }
  std::string unit = value.substr(digits_end);
  double factor = unit == "ns"   ? 1
                  : unit == "us" ? 1e3
                  : unit == "ms" ? 1e6
                  : unit == "s"  ? 1e9
                                 : 0;
  if (digits_end == 0 || factor == 0 || value.find('.') != value.rfind('.')) {
    if (error != nullptr) {
      *error = "'" + value + "' is not a duration (expected e.g. 200us, 5ms, 1.5s)";
    }
    return std::nullopt;
  }
  double nanoseconds = std::strtod(value.substr(0, digits_end).c_str(), nullptr) * factor;
  if (!std::isfinite(nanoseconds) || nanoseconds >= 1.8e19) {
    if (error != nullptr) *error = "'" + value + "' is too long";
    return std::nullopt;
  }
  return static_cast<uint64_t>(std::llround(nanoseconds));
}

std::string format_bytes(uint64_t bytes) {
  static const char* const kNames[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 5) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[32];
  if (unit == 0) {
    std::snprintf(buffer, sizeof(buffer), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buffer, sizeof(buffer),
                  value < 10 ? "%.2f %s" : (value < 100 ? "%.1f %s" : "%.0f %s"), value,
                  kNames[unit]);
  }
  return buffer;
}

std::string format_duration(uint64_t nanoseconds) {
  char buffer[32];
  double seconds = static_cast<double>(nanoseconds) / 1e9;
  if (seconds >= 1) {
    std::snprintf(buffer, sizeof(buffer), "%.2f s", seconds);
  } else if (seconds >= 1e-3) {
    std::snprintf(buffer, sizeof(buffer), "%.1f ms", seconds * 1e3);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.1f us", seconds * 1e6);
  }
  return buffer;
}

std::string format_count(uint64_t count) {
  std::string digits = std::to_string(count);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace dprof::analyzer
