#include "integration_support.h"

#include <zlib.h>

#include <cstdlib>

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

perftools::profiles::Profile read_pprof(const std::string& path) {
  perftools::profiles::Profile profile;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return profile;
  std::string bytes;
  char buffer[65536];
  int got;
  while ((got = gzread(file, buffer, sizeof buffer)) > 0) bytes.append(buffer, got);
  gzclose(file);
  profile.ParseFromString(bytes);
  return profile;
}

std::vector<PprofSample> pprof_samples(const perftools::profiles::Profile& profile) {
  auto text = [&](int64_t index) -> std::string {
    return index >= 0 && index < profile.string_table_size() ? profile.string_table(index) : "";
  };
  std::map<uint64_t, std::string> functions;
  for (const auto& function : profile.function()) functions[function.id()] = text(function.name());
  std::map<uint64_t, const perftools::profiles::Location*> locations;
  for (const auto& location : profile.location()) locations[location.id()] = &location;
  std::vector<PprofSample> samples;
  for (const auto& sample : profile.sample()) {
    PprofSample decoded;
    for (uint64_t id : sample.location_id()) {
      auto location = locations.find(id);
      if (location == locations.end()) continue;
      for (const auto& line : location->second->line()) {
        decoded.functions.push_back(functions[line.function_id()]);
      }
    }
    if (!decoded.functions.empty()) decoded.leaf_function = decoded.functions.front();
    for (int i = 0; i < sample.value_size() && i < profile.sample_type_size(); ++i) {
      decoded.values[text(profile.sample_type(i).type())] = sample.value(i);
    }
    samples.push_back(std::move(decoded));
  }
  return samples;
}

void Monitored::on_monitor_settings(const analyzer::MonitorSettingsInfo& settings) {
  if (backend.empty()) backend = settings.backend;
  last_backend = settings.backend;
  last_reason = settings.reason;
  reasons += settings.reason + "\n";
}

StressedRun run_stressed(const std::string& program, const std::string& default_seconds) {
  const char* configured = std::getenv("STRESS_SECONDS");
  std::string seconds = configured != nullptr ? configured : default_seconds;
  StressedRun run;
  run.native = run_command({program, seconds});
  TempDir directory;
  std::string trace = directory.file("stress.dprof");
  run.watched = run_command({damon_prof_binary(), "-q", "-o", trace, "--sampling", "1ms",
                             "--aggregation", "10ms", "--update", "100ms", "--overhead", "100%",
                             "--min-regions", "50", "--max-regions", "2000", program, seconds});
  if (run.watched.exit_code == 0) analyzer::decode_trace(trace, run.monitored);
  return run;
}

}  // namespace dprof::testing
