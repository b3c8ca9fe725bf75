// What every analyzing verb shares: the options that change how a trace is read and analyzed
// (--salvage, --idle), progress on a terminal, and the warning for an incomplete trace.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analysis.h"

namespace dprof::tools {

struct TraceLoading {
  analyzer::ReaderOptions reader;
  analyzer::AnalysisOptions analysis;
};

// Consumes argument i (and its value) when it is a loading option. Sets `error` on a bad value.
bool parse_loading_option(const std::vector<std::string>& arguments, size_t& i,
                          TraceLoading& loading, std::string& error);

// Analyzes the trace, showing progress on stderr when it is a terminal and the trace is large.
// On failure prints the one-line error and returns nullopt.
std::optional<analyzer::Analysis> load_trace(const std::string& path, TraceLoading& loading);

// A progress callback for another pass over the same trace ("rendering heatmap").
void show_progress_on_terminal(analyzer::ReaderOptions& reader, const std::string& what);

}  // namespace dprof::tools
