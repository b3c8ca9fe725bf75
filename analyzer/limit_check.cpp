#include "limit_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "report_common.h"
#include "site_identity.h"

namespace dprof::analyzer {
namespace {

constexpr size_t kResponsibleSites = 3;

// A site's share of a quantity, for summing over sites and for ranking the responsible ones.
// The idle ratio is not additive: its sites are ranked by idle byte-seconds.
double site_share(Quantity quantity, const Site& site) {
  switch (quantity) {
    case Quantity::kPeakHeap:
    case Quantity::kPeakRss:  // the sites largest at the heap's peak
      return static_cast<double>(site.peak_bytes);
    case Quantity::kLeakedBytes:
      return static_cast<double>(site.leaked_bytes);
    case Quantity::kLeakedCount:
      return static_cast<double>(site.leaked_count);
    case Quantity::kIdleRatio:
      return site.access.idle_byte_seconds;
    case Quantity::kNeverTouched:
      return static_cast<double>(site.access.never_touched_bytes);
    case Quantity::kAllocatedBytes:
      return static_cast<double>(site.alloc_bytes);
    case Quantity::kAllocCount:
      return static_cast<double>(site.alloc_count);
  }
  return 0;
}

bool needs_access_data(Quantity quantity) {
  return quantity == Quantity::kIdleRatio || quantity == Quantity::kNeverTouched;
}

bool needs_end(Quantity quantity) {
  return quantity == Quantity::kLeakedBytes || quantity == Quantity::kLeakedCount;
}

std::vector<size_t> all_sites(const Analysis& analysis) {
  std::vector<size_t> sites(analysis.sites.size());
  for (size_t i = 0; i < sites.size(); ++i) sites[i] = i;
  return sites;
}

std::vector<size_t> matching_sites(const Analysis& analysis, const std::string& pattern) {
  std::vector<size_t> sites;
  for (size_t i = 0; i < analysis.sites.size(); ++i) {
    if (site_matches(analysis.sites[i], pattern)) sites.push_back(i);
  }
  return sites;
}

// The quantity for the limit's scope, or an error when the trace cannot tell it.
std::optional<double> measure(const Limit& limit, const Analysis& analysis,
                              const std::vector<size_t>& sites, const char* which,
                              std::string* error) {
  if (needs_access_data(limit.quantity) && analysis.snapshot_count == 0) {
    *error = std::string(which) +
             " trace has no access data (recorded with --backend none, or on a kernel without "
             "a monitoring backend)";
    return std::nullopt;
  }
  if (needs_end(limit.quantity) && !analysis.end) {
    *error = std::string(which) + " trace is incomplete (no end record): what leaked is unknown";
    return std::nullopt;
  }
  if (limit.quantity == Quantity::kPeakRss && analysis.memory_samples == 0) {
    *error = std::string(which) + " trace has no RSS samples";
    return std::nullopt;
  }
  if (!limit.site_pattern) {
    switch (limit.quantity) {
      case Quantity::kPeakHeap:
        return static_cast<double>(analysis.totals.peak_bytes);
      case Quantity::kPeakRss:
        return static_cast<double>(analysis.peak_rss_bytes);
      case Quantity::kLeakedBytes:
        return static_cast<double>(analysis.totals.live_bytes);
      case Quantity::kLeakedCount:
        return static_cast<double>(analysis.totals.live_count);
      case Quantity::kAllocatedBytes:
        return static_cast<double>(analysis.totals.alloc_bytes);
      case Quantity::kAllocCount:
        return static_cast<double>(analysis.totals.alloc_count);
      default:
        break;  // summed over the sites below
    }
  }
  return site_quantity(limit.quantity, analysis, &sites);
}

std::vector<Contributor> largest_shares(Quantity quantity, const Analysis& analysis,
                                        const std::vector<size_t>& sites) {
  std::vector<Contributor> shares;
  for (size_t index : sites) {
    double share = site_share(quantity, analysis.sites[index]);
    if (share > 0) shares.push_back({describe_site(analysis.sites[index]), share});
  }
  std::stable_sort(shares.begin(), shares.end(),
                   [](const Contributor& a, const Contributor& b) { return a.value > b.value; });
  if (shares.size() > kResponsibleSites) shares.resize(kResponsibleSites);
  return shares;
}

// Sites matched across the two traces by identity, ranked by how much their share grew.
std::vector<Contributor> largest_growth(Quantity quantity, const Analysis& analysis,
                                        const std::vector<size_t>& sites, const Analysis& baseline,
                                        const std::vector<size_t>& baseline_sites) {
  std::unordered_map<std::string, double> growth;
  std::unordered_map<std::string, std::string> names;
  for (size_t index : sites) {
    const Site& site = analysis.sites[index];
    std::string identity = site_identity(site);
    growth[identity] += site_share(quantity, site);
    names.emplace(identity, describe_site(site));
  }
  for (size_t index : baseline_sites) {
    growth[site_identity(baseline.sites[index])] -= site_share(quantity, baseline.sites[index]);
  }
  std::vector<Contributor> grown;
  for (const auto& [identity, delta] : growth) {
    auto name = names.find(identity);
    if (delta > 0 && name != names.end()) grown.push_back({name->second, delta});
  }
  std::sort(grown.begin(), grown.end(), [](const Contributor& a, const Contributor& b) {
    return a.value != b.value ? a.value > b.value : a.site < b.site;
  });
  if (grown.size() > kResponsibleSites) grown.resize(kResponsibleSites);
  return grown;
}

const PhaseStats* find_phase(const Analysis& analysis, const std::string& name) {
  for (const PhaseStats& phase : analysis.phases) {
    if (phase.name == name) return &phase;
  }
  return nullptr;
}

std::optional<double> measure_phase(const Limit& limit, const Analysis& analysis, const char* which,
                                    std::string* error) {
  const PhaseStats* phase = find_phase(analysis, *limit.phase);
  if (phase == nullptr) {
    *error = std::string(which) + " trace has no phase '" + *limit.phase +
             "' (the program marks phases with damon_prof_phase_begin/end)";
    return std::nullopt;
  }
  switch (limit.quantity) {
    case Quantity::kPeakHeap:
      return static_cast<double>(phase->peak_heap_bytes);
    case Quantity::kPeakRss:
      if (phase->rss_samples == 0) {
        *error = "no RSS sample fell inside phase '" + *limit.phase + "' in " + which +
                 " trace (samples come every 100 ms; DAMON_PROF_SAMPLE_INTERVAL sets it)";
        return std::nullopt;
      }
      return static_cast<double>(phase->peak_rss_bytes);
    case Quantity::kAllocatedBytes:
      return static_cast<double>(phase->alloc_bytes);
    case Quantity::kAllocCount:
      return static_cast<double>(phase->alloc_count);
    default:
      *error = "not available for phases";
      return std::nullopt;
  }
}

// The sites that allocated the most while the phase was open.
std::vector<Contributor> phase_allocators(const Analysis& analysis, const std::string& name) {
  const PhaseStats* phase = find_phase(analysis, name);
  if (phase == nullptr) return {};
  std::unordered_map<size_t, double> by_site;
  for (const auto& [stack, bytes] : phase->alloc_bytes_by_stack) {
    auto site = analysis.site_of_stack.find(stack);
    if (site != analysis.site_of_stack.end()) by_site[site->second] += static_cast<double>(bytes);
  }
  std::vector<Contributor> allocators;
  allocators.reserve(by_site.size());
  for (const auto& [site, bytes] : by_site) {
    allocators.push_back({describe_site(analysis.sites[site]), bytes});
  }
  std::sort(allocators.begin(), allocators.end(), [](const Contributor& a, const Contributor& b) {
    return a.value != b.value ? a.value > b.value : a.site < b.site;
  });
  if (allocators.size() > kResponsibleSites) allocators.resize(kResponsibleSites);
  return allocators;
}

LimitResult evaluate_phase(const Limit& limit, const Analysis& analysis, const Analysis* baseline) {
  LimitResult result;
  result.limit = limit;
  auto actual = measure_phase(limit, analysis, "the", &result.error);
  if (!actual) {
    result.status = LimitStatus::kError;
    return result;
  }
  result.actual = *actual;
  if (limit.growth) {
    if (baseline == nullptr) {
      result.status = LimitStatus::kError;
      result.error = "a growth limit needs --baseline BASE.dprof";
      return result;
    }
    auto before = measure_phase(limit, *baseline, "the baseline", &result.error);
    if (!before) {
      result.status = LimitStatus::kError;
      return result;
    }
    result.baseline = *before;
    result.allowed = limit.relative ? *before * (1.0 + limit.bound) : *before + limit.bound;
  } else {
    result.allowed = limit.bound;
  }
  result.status =
      result.actual <= std::floor(result.allowed + 1e-9) ? LimitStatus::kPass : LimitStatus::kFail;
  if (result.status == LimitStatus::kFail) {
    result.responsible = phase_allocators(analysis, *limit.phase);
  }
  return result;
}

LimitResult evaluate(const Limit& limit, const Analysis& analysis, const Analysis* baseline) {
  if (limit.phase) return evaluate_phase(limit, analysis, baseline);
  LimitResult result;
  result.limit = limit;
  std::vector<size_t> sites =
      limit.site_pattern ? matching_sites(analysis, *limit.site_pattern) : all_sites(analysis);
  if (limit.site_pattern && sites.empty()) {
    result.status = LimitStatus::kError;
    result.error =
        "the pattern matches no allocation site of the trace (a typo, or code that "
        "no longer allocates?)";
    return result;
  }
  auto actual = measure(limit, analysis, sites, "the", &result.error);
  if (!actual) {
    result.status = LimitStatus::kError;
    return result;
  }
  result.actual = *actual;
  if (!limit.growth) {
    result.allowed = limit.bound;
    result.status = result.actual <= limit.bound ? LimitStatus::kPass : LimitStatus::kFail;
    if (result.status == LimitStatus::kFail) {
      result.responsible = largest_shares(limit.quantity, analysis, sites);
    }
    return result;
  }
  if (baseline == nullptr) {
    result.status = LimitStatus::kError;
    result.error = "a growth limit needs --baseline BASE.dprof";
    return result;
  }
  std::vector<size_t> baseline_sites =
      limit.site_pattern ? matching_sites(*baseline, *limit.site_pattern) : all_sites(*baseline);
  auto before = measure(limit, *baseline, baseline_sites, "the baseline", &result.error);
  if (!before) {
    result.status = LimitStatus::kError;
    return result;
  }
  result.baseline = *before;
  result.allowed = limit.relative ? *before * (1.0 + limit.bound) : *before + limit.bound;
  // Counts and bytes are whole numbers: a relative allowance is not rounded against the program.
  result.status =
      result.actual <= std::floor(result.allowed + 1e-9) ? LimitStatus::kPass : LimitStatus::kFail;
  if (result.status == LimitStatus::kFail) {
    result.responsible = largest_growth(limit.quantity, analysis, sites, *baseline, baseline_sites);
  }
  return result;
}

std::string growth_percent(double before, double after) {
  if (before <= 0) return after > 0 ? "new" : "+0%";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%+.1f%%", (after - before) / before * 100.0);
  return buffer;
}

}  // namespace

std::optional<double> program_quantity(Quantity quantity, const Analysis& analysis,
                                       std::string* why) {
  Limit limit;
  limit.quantity = quantity;
  std::string error;
  auto value = measure(limit, analysis, all_sites(analysis), "the", &error);
  if (!value && why != nullptr) *why = error;
  return value;
}

double site_quantity(Quantity quantity, const Analysis& analysis,
                     const std::vector<size_t>* sites) {
  std::vector<size_t> every;
  if (sites == nullptr) {
    every = all_sites(analysis);
    sites = &every;
  }
  if (quantity == Quantity::kIdleRatio) {
    double idle = 0;
    double observed = 0;
    for (size_t index : *sites) {
      idle += analysis.sites[index].access.idle_byte_seconds;
      observed += analysis.sites[index].access.observed_byte_seconds;
    }
    return observed > 0 ? idle / observed : 0;
  }
  double total = 0;
  for (size_t index : *sites) total += site_share(quantity, analysis.sites[index]);
  return total;
}

std::vector<LimitResult> check_limits(const std::vector<Limit>& limits, const Analysis& analysis,
                                      const Analysis* baseline) {
  std::vector<LimitResult> results;
  results.reserve(limits.size());
  for (const Limit& limit : limits) results.push_back(evaluate(limit, analysis, baseline));
  return results;
}

std::string LimitResult::summary() const {
  const QuantityInfo& info = quantity_info(limit.quantity);
  std::string subject = describe_limit(limit);
  std::string origin = " (" + limit.origin + ")";
  if (status == LimitStatus::kError) return subject + ": cannot check: " + error + origin;
  std::string text;
  if (!limit.growth) {
    text = subject + " " + format_quantity(info.kind, actual) +
           (status == LimitStatus::kPass ? " <= " : " > ") + format_bound(limit) + origin;
  } else {
    std::string change = format_quantity(info.kind, *baseline) + " -> " +
                         format_quantity(info.kind, actual) + " (" +
                         growth_percent(*baseline, actual) + ")";
    text = subject + " " + change + (status == LimitStatus::kPass ? " within " : " exceeds ") +
           format_bound(limit) + origin;
  }
  if (!responsible.empty()) {
    text += limit.phase    ? "; allocated most in the phase: "
            : limit.growth ? "; grew most: "
                           : "; largest: ";
    for (size_t i = 0; i < responsible.size(); ++i) {
      if (i > 0) text += ", ";
      text += responsible[i].site + " ";
      if (limit.quantity == Quantity::kIdleRatio) {
        text += format_metric(*find_site_metric("idle"), responsible[i].value) + " idle";
      } else {
        bool increase = limit.growth && !limit.phase;
        QuantityKind kind = limit.phase ? QuantityKind::kBytes : info.kind;
        text += (increase ? "+" : "") + format_quantity(kind, responsible[i].value);
      }
    }
  }
  return text;
}

}  // namespace dprof::analyzer
