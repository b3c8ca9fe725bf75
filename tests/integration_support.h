// Running programs under damon-prof and looking at what the analyzer makes of their traces.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis.h"
#include "test_support.h"

namespace dprof::testing {

// Figures of every site whose naming function contains `function`, added up.
struct SiteTotals {
  uint64_t sites = 0;
  uint64_t alloc_count = 0;
  uint64_t alloc_bytes = 0;
  uint64_t peak_bytes = 0;
  uint64_t leaked_bytes = 0;
  uint64_t leaked_count = 0;
  uint64_t temporary_count = 0;
  uint64_t mmap_count = 0;
};

SiteTotals totals_for(const analyzer::Analysis& analysis, const std::string& function);

// Analyzes and symbolizes every site.
analyzer::Analysis analyze_symbolized(const std::string& trace);

}  // namespace dprof::testing
