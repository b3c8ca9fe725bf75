// The analyzer's memory must not grow with the trace's length: events are reordered in a window
// bounded by the writer's drain interval, not buffered whole.
#include <gtest/gtest.h>

#include "integration_support.h"
#include "trace_decoder.h"

using namespace dprof::testing;

namespace {

struct Nothing : dprof::analyzer::TraceConsumer {};

dprof::analyzer::DecodeSummary record_and_decode(const TempDir& directory,
                                                 const std::string& rounds) {
  std::string trace = directory.file("churn-" + rounds + ".dprof");
  CommandResult result =
      run_command({damon_prof_binary(), "-q", "-o", trace, ALLOC_HEAVY_BINARY, "4", rounds});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  Nothing consumer;
  return dprof::analyzer::decode_trace(trace, consumer);
}

}  // namespace

TEST(Streaming, ReorderWindowDoesNotGrowWithTraceLength) {
  TempDir directory;
  auto shorter = record_and_decode(directory, "30000");
  auto longer = record_and_decode(directory, "200000");
  ASSERT_GT(longer.events, 2 * shorter.events);
  // Several times the events, but the window stays a small fraction of them.
  EXPECT_LT(longer.max_pending_events, longer.events / 10)
      << longer.max_pending_events << " of " << longer.events;
  EXPECT_GT(longer.frames, shorter.frames);
}
