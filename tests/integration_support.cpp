#include "integration_support.h"

namespace dprof::testing {

SiteTotals totals_for(const analyzer::Analysis& analysis, const std::string& function) {
  SiteTotals totals;
  for (const analyzer::Site& site : analysis.sites) {
    if (site.frames.empty()) continue;
    if (site.frames[site.name_frame].function.find(function) == std::string::npos) continue;
    ++totals.sites;
    totals.alloc_count += site.alloc_count;
    totals.alloc_bytes += site.alloc_bytes;
    totals.peak_bytes += site.peak_bytes;
    totals.leaked_bytes += site.leaked_bytes;
    totals.leaked_count += site.leaked_count;
    totals.temporary_count += site.temporary_count;
    totals.mmap_count += site.mmap_count;
  }
  return totals;
}

analyzer::Analysis analyze_symbolized(const std::string& trace) {
  analyzer::Analysis analysis = analyzer::analyze_trace(trace);
  analyzer::symbolize_sites(analysis);
  return analysis;
}

}  // namespace dprof::testing
