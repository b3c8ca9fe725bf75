// Evaluates limits (memory_limits.h) against an analyzed trace and, for growth limits, a baseline
// trace of the same program. Each result says whether the limit held and which sites are
// responsible.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analysis.h"
#include "memory_limits.h"

namespace dprof::analyzer {

struct Contributor {
  std::string site;  // describe_site(): "Parser::read_block (parser.cpp:88)"
  double value = 0;  // the site's share of the quantity, or its growth
};

enum class LimitStatus { kPass, kFail, kError };

struct LimitResult {
  Limit limit;
  LimitStatus status = LimitStatus::kPass;
  double actual = 0;               // the quantity in the trace checked
  std::optional<double> baseline;  // growth limits: the quantity in the baseline
  double allowed = 0;              // the largest value that passes
  std::string error;               // kError: why the limit could not be evaluated
  // The sites with the largest share (absolute limits) or growth (growth limits), largest first.
  std::vector<Contributor> responsible;

  // One line for people: "peak heap 612 MiB > 512 MiB (--max-peak): Parser::read 400 MiB, ..."
  std::string summary() const;
};

// Both analyses must be symbolized (site patterns and baseline matching use function names).
// `baseline` may be null when no limit is a growth limit.
std::vector<LimitResult> check_limits(const std::vector<Limit>& limits, const Analysis& analysis,
                                      const Analysis* baseline);

// The whole program's quantity, or nullopt with `why` when the trace cannot tell it (no RSS
// samples, no access data, no end record for leaks).
std::optional<double> program_quantity(Quantity quantity, const Analysis& analysis,
                                       std::string* why);

// The quantity summed over the given sites (all sites when `sites` is null).
double site_quantity(Quantity quantity, const Analysis& analysis, const std::vector<size_t>* sites);

}  // namespace dprof::analyzer
