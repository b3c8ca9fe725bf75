// Running programs under damon-prof and looking at what the analyzer makes of their traces.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "analysis.h"
#include "profile.pb.h"
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

// A gzipped pprof profile, decoded with protobuf (an empty profile when it cannot be read).
perftools::profiles::Profile read_pprof(const std::string& path);

// One sample of a pprof profile: its leaf function's name and values by sample type.
struct PprofSample {
  std::string leaf_function;
  std::vector<std::string> functions;  // every line of every location, leaf first
  std::map<std::string, int64_t> values;
};
std::vector<PprofSample> pprof_samples(const perftools::profiles::Profile& profile);

// What a trace says of the access monitor: its backends, why they changed, what they recorded.
struct Monitored : analyzer::TraceConsumer {
  std::string backend;  // the first settings record's
  std::string last_backend;
  std::string last_reason;
  std::string reasons;  // every record's, in order: a later retune may have its own
  int snapshots = 0;
  int access_samples = 0;
  void on_access_sample(const analyzer::AccessSample&) override { ++access_samples; }
  void on_monitor_settings(const analyzer::MonitorSettingsInfo& settings) override;
  void on_region_snapshot(const analyzer::RegionSnapshot&) override { ++snapshots; }
};

// A stress program run natively and under damon-prof with read sampling at its most aggressive
// (1 ms sampling, up to 2000 regions, no budget), for STRESS_SECONDS (tests/stress.sh) or
// `default_seconds`: the two runs must not differ.
struct StressedRun {
  CommandResult native;
  CommandResult watched;
  Monitored monitored;
};
StressedRun run_stressed(const std::string& program, const std::string& default_seconds);

}  // namespace dprof::testing
