// Memory budgets a CI job enforces with `damon-prof check`: limits on the whole program or on the
// sites whose stacks match a function-name pattern, absolute or as growth over a baseline trace,
// given on the command line or kept in a limits file. Parsing here; evaluation in limit_check.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dprof::analyzer {

// What a limit bounds.
enum class Quantity {
  kPeakHeap,        // live heap bytes at their peak
  kPeakRss,         // resident set size at its peak (whole program only)
  kLeakedBytes,     // live at exit
  kLeakedCount,     // blocks live at exit
  kIdleRatio,       // idle byte-seconds / observed byte-seconds (docs/metrics.md)
  kNeverTouched,    // bytes allocated and never seen accessed
  kAllocatedBytes,  // bytes allocated over the run
  kAllocCount,      // allocation calls over the run
};

enum class QuantityKind { kBytes, kCount, kRatio };

struct QuantityInfo {
  Quantity quantity;
  const char* key;    // option spelling: "peak" -> --max-peak, --max-peak-growth
  const char* label;  // "peak heap"
  QuantityKind kind;
  bool per_site;  // meaningful summed over a set of sites
};
const std::vector<QuantityInfo>& quantities();
const QuantityInfo& quantity_info(Quantity quantity);

struct Limit {
  Quantity quantity = Quantity::kPeakHeap;
  std::optional<std::string> site_pattern;  // none: the whole program
  std::optional<std::string> phase;         // a phase the program annotated (annotate.h)
  bool growth = false;                      // against the baseline trace
  bool relative = false;                    // growth as a share of the baseline value
  double bound = 0;    // bytes, a count, a ratio in [0, 1], or a growth (share or amount)
  std::string origin;  // where it was set: "--max-peak", "budget.limits:4"
};

// Adds the limits `key = value` sets. Keys: max-KEY and max-KEY-growth for each quantity's key,
// and max-growth (peak heap and peak RSS growth; peak heap alone for a site pattern). Values:
// sizes (4096, 512MiB, 1.5GB), counts, ratios (30% or 0.3), growths (5% or an amount).
// On a bad key or value returns false with `error` saying what is wrong (the caller names where
// the limit came from).
bool add_limit(std::string_view key, std::string_view value,
               const std::optional<std::string>& site_pattern, const std::string& origin,
               std::vector<Limit>& limits, std::string* error,
               const std::optional<std::string>& phase = std::nullopt);

// Quantities a phase can be limited on: its heap peak, its largest RSS sample, and the bytes and
// calls allocated while it was open.
bool applies_to_phases(Quantity quantity);

// True when `argument` names a limit option (--max-...).
bool is_limit_option(std::string_view argument);

// Reads a limits file:
//   # comment
//   max-peak = 512MiB
//   max-leaked = 0
//   [site Parser::*]        limits below apply to the sites matching the pattern
//   max-peak = 64MiB
//   [phase load]            limits below apply while the phase "load" was open
//   max-peak = 100MiB
//   [program]               back to the whole program
// On an unreadable file or a bad line returns false with `error` naming the file and line.
bool read_limits_file(const std::string& path, std::vector<Limit>& limits, std::string* error);

// "peak heap", "peak heap growth of sites matching 'Parser::*'"
std::string describe_limit(const Limit& limit);
// A quantity's value for people: "12.3 MiB", "1,234", "27.5%".
std::string format_quantity(QuantityKind kind, double value);
// A limit's bound for people: "512 MiB", "5%", "+4.00 MiB".
std::string format_bound(const Limit& limit);

}  // namespace dprof::analyzer
