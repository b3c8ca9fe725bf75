// Allocations before and after main, in exceptions, in a dlopen'ed library, and from 64 threads
// at once (tests/programs/lifecycle.cpp).
#include <gtest/gtest.h>

#include "damon_prof/trace_format.h"
#include "integration_support.h"

using namespace dprof::testing;

TEST(Lifecycle, EveryPhaseOfTheProcessIsRecorded) {
  TempDir directory;
  std::string trace = directory.file("lifecycle.dprof");
  CommandResult result =
      run_command({damon_prof_binary(), "-q", "-o", trace, test_program("lifecycle"),
                   test_program("libdprof_test_plugin.so")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "lifecycle: caught 10\n");
  EXPECT_EQ(result.err, "");  // -q: not a word from damon-prof
  auto analysis = analyze_symbolized(trace);
  ASSERT_TRUE(analysis.end.has_value());
  EXPECT_EQ(analysis.end->how, static_cast<uint32_t>(DPROF_END_EXIT));

  // Before main.
  SiteTotals constructor = totals_for(analysis, "StaticObject::StaticObject");
  EXPECT_EQ(constructor.alloc_count, 1u);
  EXPECT_EQ(constructor.alloc_bytes, 111u);
  EXPECT_EQ(constructor.leaked_bytes, 0u);  // freed by the static destructor, after main
  SiteTotals constructor_function = totals_for(analysis, "constructor_function");
  EXPECT_EQ(constructor_function.alloc_bytes, 444u);
  EXPECT_EQ(constructor_function.leaked_bytes, 444u);

  // After main.
  SiteTotals destructor = totals_for(analysis, "StaticObject::~StaticObject");
  EXPECT_EQ(destructor.alloc_bytes, 222u);
  EXPECT_EQ(destructor.leaked_bytes, 222u);
  SiteTotals exit_handler = totals_for(analysis, "exit_handler");
  EXPECT_EQ(exit_handler.alloc_bytes, 333u);
  EXPECT_EQ(exit_handler.leaked_bytes, 333u);

  // Exceptions: each throw allocates the exception object and its message; all freed.
  SiteTotals exceptions = totals_for(analysis, "throw_and_catch");
  EXPECT_GE(exceptions.alloc_count, 20u);
  EXPECT_EQ(exceptions.leaked_bytes, 0u);

  // 64 threads at once: 1000 blocks of 16 + n bytes each, every other one freed.
  SiteTotals storm = totals_for(analysis, "storm_allocations");
  uint64_t bytes_per_round = 0;
  for (uint64_t thread = 0; thread < 64; ++thread) bytes_per_round += 16 + thread;
  EXPECT_EQ(storm.alloc_count, 64000u);
  EXPECT_EQ(storm.alloc_bytes, 1000 * bytes_per_round);
  EXPECT_EQ(storm.leaked_count, 32000u);
  EXPECT_EQ(storm.leaked_bytes, 500 * bytes_per_round);
  EXPECT_GE(analysis.thread_count, 65u);
  EXPECT_EQ(analysis.end->dropped_events, 0u);

  // A library loaded and unloaded: its frames are still named after it is gone.
  SiteTotals plugin_constructor = totals_for(analysis, "plugin_constructor");
  EXPECT_EQ(plugin_constructor.alloc_bytes, 555u);
  SiteTotals plugin_buffer = totals_for(analysis, "plugin_make_buffer");
  EXPECT_EQ(plugin_buffer.alloc_bytes, 666u);
  EXPECT_EQ(plugin_buffer.leaked_bytes, 666u);
  bool unload_seen = false;
  for (const auto& module : analysis.modules) {
    if (module.path.find("libdprof_test_plugin.so") != std::string::npos) {
      unload_seen = unload_seen || module.unload_time_ns.has_value();
      EXPECT_FALSE(module.build_id.empty());
    }
  }
  EXPECT_TRUE(unload_seen);
}
