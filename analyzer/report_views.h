// The report's focused views (`damon-prof report FILE --view NAME`): every site in a table sorted
// by any metric, the leaks with their stacks, the footprint over time, and the instructions that
// touched sampled memory with the allocation sites they touched.
#pragma once

#include <ostream>

#include "analysis.h"
#include "report.h"
#include "report_common.h"

namespace dprof::analyzer {

struct ViewOptions {
  ReportOptions report;
  const SiteMetric* sort = nullptr;  // sites view; nullptr: peak
  bool json = false;
  size_t width = 72;  // timeline plot
  size_t height = 12;
};

void write_sites_view(std::ostream& out, Analysis& analysis, const ViewOptions& options);
void write_leaks_view(std::ostream& out, Analysis& analysis, const ViewOptions& options);
void write_timeline_view(std::ostream& out, Analysis& analysis, const ViewOptions& options);
void write_access_sites_view(std::ostream& out, Analysis& analysis, const ViewOptions& options);

}  // namespace dprof::analyzer
