// Two traces of the same program side by side (`damon-prof diff A B`): the whole-program figures
// and every site's metrics before and after, sites matched by the functions on their stacks.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "analysis.h"
#include "memory_limits.h"
#include "report_common.h"

namespace dprof::analyzer {

// One site (all sites of one identity, added up) in both traces.
struct SiteDelta {
  std::string name;                // describe_site() of the newer trace's site, else the older's
  std::vector<std::string> stack;  // "function  file:line", innermost first
  bool before_present = false;
  bool after_present = false;
  Site before;  // the summed figures (zero when absent)
  Site after;
};

struct QuantityDelta {
  Quantity quantity;
  std::optional<double> before;  // none: that trace cannot tell (no RSS samples, no end...)
  std::optional<double> after;
};

struct TraceDiff {
  std::vector<QuantityDelta> totals;
  std::vector<SiteDelta> sites;
};

// Both analyses must be symbolized.
TraceDiff diff_traces(const Analysis& before, const Analysis& after);

struct DiffOptions {
  const SiteMetric* sort = nullptr;  // default: peak
  size_t top = 20;                   // sites listed (0: all)
  bool color = false;
};

void write_diff_text(std::ostream& out, const TraceDiff& diff, const Analysis& before,
                     const Analysis& after, const DiffOptions& options);
void write_diff_json(std::ostream& out, const TraceDiff& diff, const Analysis& before,
                     const Analysis& after, const DiffOptions& options);

// Site indices of `diff.sites` ordered by the size of the change in `metric`, largest first;
// unchanged sites left out; at most `limit` (0: all).
std::vector<size_t> sites_by_change(const TraceDiff& diff, const Analysis& before,
                                    const Analysis& after, const SiteMetric& metric, size_t limit);

}  // namespace dprof::analyzer
