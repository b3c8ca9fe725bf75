#include "memory_limits.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "units.h"

namespace dprof::analyzer {

const std::vector<QuantityInfo>& quantities() {
  using K = QuantityKind;
  static const std::vector<QuantityInfo> kQuantities = {
      {Quantity::kPeakHeap, "peak", "peak heap", K::kBytes, true},
      {Quantity::kPeakRss, "rss", "peak RSS", K::kBytes, false},
      {Quantity::kLeakedBytes, "leaked", "leaked bytes", K::kBytes, true},
      {Quantity::kLeakedCount, "leaked-count", "leaked blocks", K::kCount, true},
      {Quantity::kIdleRatio, "idle-ratio", "idle ratio", K::kRatio, true},
      {Quantity::kNeverTouched, "never-touched", "never-touched bytes", K::kBytes, true},
      {Quantity::kAllocatedBytes, "allocated", "bytes allocated", K::kBytes, true},
      {Quantity::kAllocCount, "allocs", "allocation calls", K::kCount, true},
  };
  return kQuantities;
}

const QuantityInfo& quantity_info(Quantity quantity) {
  for (const QuantityInfo& info : quantities()) {
    if (info.quantity == quantity) return info;
  }
  return quantities().front();
}

namespace {

std::string trim(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && (text[begin] == ' ' || text[begin] == '\t')) ++begin;
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r')) {
    --end;
  }
  return std::string(text.substr(begin, end - begin));
}

std::optional<double> parse_count(std::string_view text, std::string* error) {
  std::string copy(text);
  char* end = nullptr;
  unsigned long long count = std::strtoull(copy.c_str(), &end, 10);
  if (copy.empty() || copy[0] == '-' || end == nullptr || *end != '\0') {
    if (error != nullptr) *error = "'" + copy + "' is not a count (expected a whole number)";
    return std::nullopt;
  }
  return static_cast<double>(count);
}

// A ratio as "30%" or "0.3".
std::optional<double> parse_ratio(std::string_view text, std::string* error) {
  std::string copy(text);
  if (!copy.empty() && copy.back() == '%') {
    auto percent = parse_percentage(copy, error);
    if (!percent) return std::nullopt;
    if (*percent > 100) {
      if (error != nullptr) *error = "'" + copy + "' is more than 100%";
      return std::nullopt;
    }
    return *percent / 100.0;
  }
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end == nullptr || *end != '\0' || !std::isfinite(value) || value < 0 ||
      value > 1) {
    if (error != nullptr) *error = "'" + copy + "' is not a ratio (expected e.g. 30% or 0.3)";
    return std::nullopt;
  }
  return value;
}

bool parse_value(const QuantityInfo& info, bool growth, std::string_view text, Limit& limit,
                 std::string* error) {
  std::string value = trim(text);
  if (growth && !value.empty() && value.back() == '%') {
    auto percent = parse_percentage(value, error);
    if (!percent) return false;
    limit.relative = true;
    limit.bound = *percent / 100.0;
    return true;
  }
  std::optional<double> parsed;
  switch (info.kind) {
    case QuantityKind::kBytes: {
      auto size = parse_size(value, error);
      if (size) parsed = static_cast<double>(*size);
      break;
    }
    case QuantityKind::kCount:
      parsed = parse_count(value, error);
      break;
    case QuantityKind::kRatio:
      parsed = parse_ratio(value, error);
      break;
  }
  if (!parsed) return false;
  limit.bound = *parsed;
  return true;
}

}  // namespace

bool applies_to_phases(Quantity quantity) {
  return quantity == Quantity::kPeakHeap || quantity == Quantity::kPeakRss ||
         quantity == Quantity::kAllocatedBytes || quantity == Quantity::kAllocCount;
}

bool add_limit(std::string_view key, std::string_view value,
               const std::optional<std::string>& site_pattern, const std::string& origin,
               std::vector<Limit>& limits, std::string* error,
               const std::optional<std::string>& phase) {
  auto fail = [&](const std::string& message) {
    if (error != nullptr) *error = message;
    return false;
  };
  if (key == "max-growth") {
    // The footprint: peak heap, and peak RSS for the whole program.
    if (!add_limit("max-peak-growth", value, site_pattern, origin, limits, error, phase)) {
      return false;
    }
    if (!site_pattern) {
      return add_limit("max-rss-growth", value, site_pattern, origin, limits, error, phase);
    }
    return true;
  }
  std::string_view name = key;
  if (name.substr(0, 4) != "max-") return fail("unknown limit '" + std::string(key) + "'");
  name.remove_prefix(4);
  bool growth = name.size() > 7 && name.substr(name.size() - 7) == "-growth";
  if (growth) name.remove_suffix(7);
  for (const QuantityInfo& info : quantities()) {
    if (name != info.key) continue;
    if (site_pattern && !info.per_site) {
      return fail(std::string(key) + " applies to the whole program, not to sites");
    }
    if (phase && !applies_to_phases(info.quantity)) {
      return fail(std::string(key) +
                  " does not apply to a phase (phases: max-peak, max-rss, max-allocated, "
                  "max-allocs)");
    }
    if (growth && info.kind == QuantityKind::kRatio) {
      return fail(std::string(key) + ": a ratio has no growth limit (limit the ratio itself)");
    }
    Limit limit;
    limit.quantity = info.quantity;
    limit.site_pattern = site_pattern;
    limit.phase = phase;
    limit.growth = growth;
    limit.origin = origin;
    std::string problem;
    if (!parse_value(info, growth, value, limit, &problem)) return fail(problem);
    limits.push_back(std::move(limit));
    return true;
  }
  std::string known;
  for (const QuantityInfo& info : quantities())
    known += std::string(known.empty() ? "" : ", ") + info.key;
  return fail("unknown limit '" + std::string(key) + "' (max-X or max-X-growth, X one of " + known +
              "; or max-growth)");
}

bool is_limit_option(std::string_view argument) {
  return argument.size() > 6 && argument.substr(0, 6) == "--max-";
}

bool read_limits_file(const std::string& path, std::vector<Limit>& limits, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error != nullptr) *error = path + ": cannot read the limits file";
    return false;
  }
  std::optional<std::string> site_pattern;
  std::optional<std::string> phase;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    std::string where = path + ":" + std::to_string(number);
    size_t hash = line.find('#');
    std::string content = trim(hash == std::string::npos ? line : line.substr(0, hash));
    if (content.empty()) continue;
    if (content.front() == '[') {
      if (content.back() != ']') {
        if (error != nullptr) *error = where + ": a section line ends with ']'";
        return false;
      }
      std::string section = trim(content.substr(1, content.size() - 2));
      // The section's argument, quotes optional.
      auto argument = [&](size_t skip) {
        std::string text = trim(section.substr(skip));
        if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
          text = text.substr(1, text.size() - 2);
        }
        return text;
      };
      site_pattern.reset();
      phase.reset();
      if (section.substr(0, 5) == "site " && !argument(5).empty()) {
        site_pattern = argument(5);
      } else if (section.substr(0, 6) == "phase " && !argument(6).empty()) {
        phase = argument(6);
      } else if (section != "program") {
        if (error != nullptr) {
          *error = where + ": unknown section [" + section +
                   "] (use [program], [site PATTERN] or [phase NAME])";
        }
        return false;
      }
      continue;
    }
    size_t equals = content.find('=');
    if (equals == std::string::npos) {
      if (error != nullptr) *error = where + ": expected 'max-...= VALUE', got '" + content + "'";
      return false;
    }
    std::string problem;
    std::string key = trim(content.substr(0, equals));
    std::string value = trim(content.substr(equals + 1));
    if (!add_limit(key, value, site_pattern, where, limits, &problem, phase)) {
      if (error != nullptr) *error = where + ": " + key + " = " + value + ": " + problem;
      return false;
    }
  }
  if (in.bad()) {
    if (error != nullptr) *error = path + ": read error";
    return false;
  }
  return true;
}

std::string describe_limit(const Limit& limit) {
  std::string text = quantity_info(limit.quantity).label;
  if (limit.growth) text += " growth";
  if (limit.site_pattern) text += " of sites matching '" + *limit.site_pattern + "'";
  if (limit.phase) text += " in phase '" + *limit.phase + "'";
  return text;
}

std::string format_quantity(QuantityKind kind, double value) {
  switch (kind) {
    case QuantityKind::kBytes:
      return format_bytes(static_cast<uint64_t>(std::llround(std::max(0.0, value))));
    case QuantityKind::kCount:
      return format_count(static_cast<uint64_t>(std::llround(std::max(0.0, value))));
    case QuantityKind::kRatio: {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.1f%%", value * 100.0);
      return buffer;
    }
  }
  return "";
}

std::string format_bound(const Limit& limit) {
  if (limit.growth && limit.relative) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g%%", limit.bound * 100.0);
    return buffer;
  }
  std::string amount = format_quantity(quantity_info(limit.quantity).kind, limit.bound);
  return limit.growth ? "+" + amount : amount;
}

}  // namespace dprof::analyzer
