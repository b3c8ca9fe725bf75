// Hot and idle memory per call stack, end to end: a program with a hot, an idle and a never
// touched allocation site, recorded once with access monitoring; the analysis must rank them as
// they behave, and every view of the trace must show it.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "integration_support.h"
#include "report_common.h"

using namespace dprof::testing;
using dprof::analyzer::Analysis;
using dprof::analyzer::Site;

namespace {

constexpr uint64_t kMiB = 1 << 20;

class HotIdle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new TempDir();
    trace_ = directory_->file("hot_idle.dprof");
    // The budget is lifted so the intervals stay short: this is about attribution, not cost.
    CommandResult result =
        run_command({damon_prof_binary(), "-q", "-o", trace_, "--sampling", "5ms", "--aggregation",
                     "100ms", "--overhead", "100%", test_program("hot_idle_sites"), "4"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    analysis_ = new Analysis(analyze_symbolized(trace_));
  }
  static void TearDownTestSuite() {
    delete analysis_;
    delete directory_;
  }

  static const Site& site(const std::string& function) {
    const Site* found = nullptr;
    for (const Site& candidate : analysis_->sites) {
      if (candidate.frames.empty()) continue;
      if (candidate.frames[candidate.name_frame].function.find(function) == std::string::npos)
        continue;
      EXPECT_EQ(found, nullptr) << "two sites named " << function;
      found = &candidate;
    }
    EXPECT_NE(found, nullptr) << "no site named " << function;
    static Site none;
    return found == nullptr ? none : *found;
  }
  // The naming function of the site ranked first by `metric`.
  static std::string first_by(const std::string& metric_name) {
    const auto* metric = dprof::analyzer::find_site_metric(metric_name);
    EXPECT_NE(metric, nullptr);
    auto order = dprof::analyzer::top_sites(
        *analysis_, 1, [&](const Site& s) { return metric->value(s, *analysis_); });
    if (order.empty()) return "";
    const Site& top = analysis_->sites[order[0]];
    return top.frames.empty() ? "" : top.frames[top.name_frame].function;
  }

  static TempDir* directory_;
  static std::string trace_;
  static Analysis* analysis_;
};

TempDir* HotIdle::directory_ = nullptr;
std::string HotIdle::trace_;
Analysis* HotIdle::analysis_ = nullptr;

}  // namespace

TEST_F(HotIdle, TheRecordingHasSnapshots) {
  ASSERT_FALSE(analysis_->monitor_settings.empty());
  EXPECT_GE(analysis_->snapshot_count, 10u);
}

TEST_F(HotIdle, TheHotSiteRanksHottest) {
  EXPECT_NE(first_by("hot").find("make_hot_table"), std::string::npos);
  const Site& hot = site("make_hot_table");
  const Site& idle = site("make_idle_cache");
  EXPECT_GT(hot.access.hot_byte_seconds, 10 * idle.access.hot_byte_seconds);
  // Most of its observed byte-seconds were hot, and it never sat idle.
  EXPECT_GT(hot.access.hot_byte_seconds, 0.25 * hot.access.observed_byte_seconds);
  EXPECT_LT(hot.access.idle_bytes_peak, kMiB);  // at most a boundary region shared with idle memory
  EXPECT_LT(hot.access.hot_byte_seconds_stderr(), 0.1 * hot.access.hot_byte_seconds);
  EXPECT_GT(hot.access.access_density(analysis_->page_size),
            5 * idle.access.access_density(analysis_->page_size));
}

TEST_F(HotIdle, TheIdleSitesRankIdle) {
  const Site& idle = site("make_idle_cache");
  const Site& untouched = site("make_untouched_pool");
  const Site& hot = site("make_hot_table");
  std::string first = first_by("idle");
  EXPECT_TRUE(first.find("make_idle_cache") != std::string::npos ||
              first.find("make_untouched_pool") != std::string::npos)
      << first;
  // Filled at the start, then idle for most of four seconds: its peak is most of it.
  EXPECT_GE(idle.access.idle_bytes_peak, 12 * kMiB);
  EXPECT_GE(idle.access.idle_byte_seconds, 16.0 * kMiB * 1.5);
  EXPECT_GE(untouched.access.idle_bytes_peak, 16 * kMiB);
  EXPECT_LT(hot.access.idle_byte_seconds, 0.01 * idle.access.idle_byte_seconds);
}

TEST_F(HotIdle, NeverTouchedIsTheUntouchedPoolAlone) {
  EXPECT_NE(first_by("never-touched").find("make_untouched_pool"), std::string::npos);
  EXPECT_EQ(site("make_untouched_pool").access.never_touched_bytes, 16 * kMiB);
  EXPECT_EQ(site("make_idle_cache").access.never_touched_bytes, 0u);
  EXPECT_EQ(site("make_hot_table").access.never_touched_bytes, 0u);
}

TEST_F(HotIdle, WorkingSetIsAboutTheHotTable) {
  // The hot table is accessed throughout; the untouched pool and the idle cache are not (their
  // regions may share a boundary page or two with active memory).
  EXPECT_GE(analysis_->working_set.percentile(0.5), 15 * kMiB);
  EXPECT_LE(analysis_->working_set.percentile(0.5), 24 * kMiB);
  EXPECT_FALSE(analysis_->timeline.points().empty());
}
