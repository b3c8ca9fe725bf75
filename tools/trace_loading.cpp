#include "trace_loading.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.h"
#include "report.h"
#include "trace_error.h"
#include "units.h"

namespace dprof::tools {

bool parse_loading_option(const std::vector<std::string>& arguments, size_t& i,
                          TraceLoading& loading, std::string& error) {
  const std::string& argument = arguments[i];
  if (argument == "--salvage") {
    loading.reader.salvage = true;
    return true;
  }
  if (argument == "--idle") {
    if (i + 1 >= arguments.size()) {
      error = "--idle needs a duration (e.g. 500ms, 2s)";
      return true;
    }
    const std::string& value = arguments[++i];
    std::string problem;
    auto duration = analyzer::parse_duration(value, &problem);
    if (!duration || *duration == 0) {
      error = "--idle " + value + ": " + (problem.empty() ? "must be more than zero" : problem);
      return true;
    }
    loading.analysis.idle_threshold_ns = *duration;
    return true;
  }
  return false;
}

void show_progress_on_terminal(analyzer::ReaderOptions& reader, const std::string& what) {
  if (isatty(STDERR_FILENO) == 0) {
    reader.progress = nullptr;
    return;
  }
  // Updated at most ten times a second, only for traces that take a while (over 16 MiB), and
  // erased when done so the report starts on a clean line.
  struct State {
    std::chrono::steady_clock::time_point last;
    bool shown = false;
  };
  auto state = std::make_shared<State>();
  reader.progress = [what, state](uint64_t done, uint64_t total) {
    if (done >= total) {
      if (state->shown) std::fprintf(stderr, "\r\033[K");
      state->shown = false;
      return;
    }
    if (total < (16u << 20)) return;
    auto now = std::chrono::steady_clock::now();
    if (now - state->last < std::chrono::milliseconds(100)) return;
    state->last = now;
    state->shown = true;
    std::fprintf(stderr, "\r\033[K%s: %3.0f%% (%s of %s)", what.c_str(),
                 100.0 * static_cast<double>(done) / static_cast<double>(total),
                 analyzer::format_bytes(done).c_str(), analyzer::format_bytes(total).c_str());
    std::fflush(stderr);
  };
}

std::optional<analyzer::Analysis> load_trace(const std::string& path, TraceLoading& loading) {
  analyzer::ReaderOptions reader = loading.reader;
  show_progress_on_terminal(reader, "analyzing " + path);
  std::optional<analyzer::Analysis> analysis;
  try {
    analysis = analyzer::analyze_trace(path, reader, loading.analysis);
  } catch (const analyzer::TraceError& error) {
    if (reader.progress) reader.progress(1, 1);
    fail(path + ": " + error.what());
    return std::nullopt;
  }
  if (reader.progress) reader.progress(1, 1);
  if (!analysis->end || analysis->decode.truncated) {
    std::cerr << "damon-prof: " << path << ": warning: " << analyzer::describe_end(*analysis)
              << "; reporting every complete frame\n";
  }
  return analysis;
}

}  // namespace dprof::tools
