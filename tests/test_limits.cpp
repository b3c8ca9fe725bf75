// Limits: parsing of options and limits files, and their evaluation on hand-built analyses.
#include <gtest/gtest.h>

#include <fstream>

#include "limit_check.h"
#include "memory_limits.h"
#include "site_identity.h"
#include "test_support.h"

using namespace dprof::analyzer;

namespace {

Site make_site(const std::string& function, uint64_t peak, uint64_t allocated) {
  Site site;
  SiteFrame malloc_frame;
  malloc_frame.function = "malloc";
  SiteFrame frame;
  frame.function = function;
  frame.file = "/src/app.cpp";
  frame.line = 10;
  SiteFrame caller;
  caller.function = "main";
  site.frames = {malloc_frame, frame, caller};
  site.name_frame = 1;
  site.peak_bytes = peak;
  site.alloc_bytes = allocated;
  site.alloc_count = 1;
  return site;
}

Analysis make_analysis(std::vector<Site> sites) {
  Analysis analysis;
  analysis.end = EndInfo{};
  for (const Site& site : sites) {
    analysis.totals.peak_bytes += site.peak_bytes;
    analysis.totals.alloc_bytes += site.alloc_bytes;
    analysis.totals.alloc_count += site.alloc_count;
    analysis.totals.live_bytes += site.leaked_bytes;
    analysis.totals.live_count += site.leaked_count;
  }
  analysis.sites = std::move(sites);
  return analysis;
}

std::vector<Limit> parse(std::string_view key, std::string_view value,
                         std::optional<std::string> pattern = std::nullopt) {
  std::vector<Limit> limits;
  std::string error;
  EXPECT_TRUE(add_limit(key, value, pattern, "--" + std::string(key), limits, &error)) << error;
  return limits;
}

std::string parse_error(std::string_view key, std::string_view value,
                        std::optional<std::string> pattern = std::nullopt) {
  std::vector<Limit> limits;
  std::string error;
  EXPECT_FALSE(add_limit(key, value, pattern, "test", limits, &error));
  EXPECT_TRUE(limits.empty());
  return error;
}

TEST(Limits, ValuesParseByTheirKind) {
  auto peak = parse("max-peak", "1.5GB");
  ASSERT_EQ(peak.size(), 1u);
  EXPECT_EQ(peak[0].quantity, Quantity::kPeakHeap);
  EXPECT_EQ(peak[0].bound, 1.5e9);
  EXPECT_FALSE(peak[0].growth);
  EXPECT_EQ(parse("max-rss", "512MiB")[0].bound, 512.0 * 1024 * 1024);
  EXPECT_EQ(parse("max-leaked", "4096")[0].bound, 4096.0);
  EXPECT_EQ(parse("max-leaked-count", "3")[0].quantity, Quantity::kLeakedCount);
  EXPECT_DOUBLE_EQ(parse("max-idle-ratio", "30%")[0].bound, 0.3);
  EXPECT_DOUBLE_EQ(parse("max-idle-ratio", "0.25")[0].bound, 0.25);
  EXPECT_EQ(parse("max-never-touched", "1MiB")[0].quantity, Quantity::kNeverTouched);
  EXPECT_EQ(parse("max-allocs", "100")[0].quantity, Quantity::kAllocCount);
}

TEST(Limits, GrowthIsAShareOrAnAmount) {
  auto share = parse("max-peak-growth", "5%");
  ASSERT_EQ(share.size(), 1u);
  EXPECT_TRUE(share[0].growth);
  EXPECT_TRUE(share[0].relative);
  EXPECT_DOUBLE_EQ(share[0].bound, 0.05);
  auto amount = parse("max-leaked-growth", "64KiB");
  EXPECT_TRUE(amount[0].growth);
  EXPECT_FALSE(amount[0].relative);
  EXPECT_EQ(amount[0].bound, 65536.0);
  // max-growth: the footprint, peak heap and peak RSS; for sites, peak heap alone.
  auto footprint = parse("max-growth", "10%");
  ASSERT_EQ(footprint.size(), 2u);
  EXPECT_EQ(footprint[0].quantity, Quantity::kPeakHeap);
  EXPECT_EQ(footprint[1].quantity, Quantity::kPeakRss);
  EXPECT_EQ(parse("max-growth", "10%", "Parser::*").size(), 1u);
}

TEST(Limits, BadKeysAndValuesSayWhatIsWrong) {
  EXPECT_NE(parse_error("max-heap", "1").find("unknown limit 'max-heap'"), std::string::npos);
  EXPECT_NE(parse_error("peak", "1").find("unknown limit 'peak'"), std::string::npos);
  EXPECT_NE(parse_error("max-peak", "lots").find("is not a size"), std::string::npos);
  EXPECT_NE(parse_error("max-allocs", "1.5").find("not a count"), std::string::npos);
  EXPECT_NE(parse_error("max-allocs", "-1").find("not a count"), std::string::npos);
  EXPECT_NE(parse_error("max-idle-ratio", "2").find("not a ratio"), std::string::npos);
  EXPECT_NE(parse_error("max-idle-ratio-growth", "1%").find("no growth limit"), std::string::npos);
  EXPECT_NE(parse_error("max-rss", "1GiB", "x").find("whole program"), std::string::npos);
  EXPECT_NE(parse_error("max-peak-growth", "-5%").find("percentage"), std::string::npos);
}

TEST(Limits, FileSectionsScopeTheirLimits) {
  dprof::testing::TempDir directory;
  std::string path = directory.file("budget.limits");
  {
    std::ofstream file(path);
    file << "# budget\n\nmax-peak = 1GiB\n[site \"Parser::*\"]\nmax-peak = 64MiB # parser\n"
            "max-allocs = 10\n[program]\nmax-leaked = 0\n";
  }
  std::vector<Limit> limits;
  std::string error;
  ASSERT_TRUE(read_limits_file(path, limits, &error)) << error;
  ASSERT_EQ(limits.size(), 4u);
  EXPECT_FALSE(limits[0].site_pattern);
  EXPECT_EQ(limits[1].site_pattern, "Parser::*");
  EXPECT_EQ(limits[1].bound, 64.0 * 1024 * 1024);
  EXPECT_EQ(limits[1].origin, path + ":5");
  EXPECT_EQ(limits[2].site_pattern, "Parser::*");
  EXPECT_FALSE(limits[3].site_pattern);

  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"max-peak 1GiB\n", ":1: expected 'max-...= VALUE'"},
           {"[stage x]\n", ":1: unknown section [stage x]"},
           {"[phase x]\nmax-leaked = 0\n",
            ":2: max-leaked = 0: max-leaked does not apply to a phase"},
           {"[site x\n", ":1: a section line ends with ']'"},
           {"\nmax-peak = big\n", ":2: max-peak = big: 'big' is not a size"}}) {
    std::ofstream(path) << text;
    std::vector<Limit> none;
    EXPECT_FALSE(read_limits_file(path, none, &error)) << text;
    EXPECT_NE(error.find(path + message), std::string::npos) << error;
  }
}

TEST(Limits, PatternsMatchWholeNamesOrWithoutLeadingScopes) {
  EXPECT_TRUE(function_matches("app::Parser::parse", "Parser::*"));
  EXPECT_TRUE(function_matches("app::Parser::parse", "app::*"));
  EXPECT_TRUE(function_matches("(anonymous namespace)::make_table", "make_*"));
  EXPECT_TRUE(function_matches("parse", "parse"));
  EXPECT_FALSE(function_matches("app::Parser::parse", "Parse"));
  EXPECT_FALSE(function_matches("Reparser::run", "parser::*"));
  EXPECT_TRUE(function_matches("app::Parser::parse(int, char const*) const", "Parser::parse"));
  EXPECT_TRUE(function_matches("(anonymous namespace)::fill(std::vector<int>&)", "fill"));
  EXPECT_FALSE(function_matches("(anonymous namespace)::fill(int)", "(anonymous namespace)"));
  // Frames of the allocation machinery do not select a site.
  Site site = make_site("Parser::read", 1, 1);
  EXPECT_TRUE(site_matches(site, "Parser::*"));
  EXPECT_TRUE(site_matches(site, "main"));
  EXPECT_FALSE(site_matches(site, "malloc"));
}

TEST(LimitCheck, AbsoluteLimitsSumTheSitesTheyCover) {
  Analysis analysis =
      make_analysis({make_site("Parser::read", 600, 1000), make_site("Parser::grow", 300, 300),
                     make_site("Cache::fill", 100, 100)});
  std::vector<Limit> limits = parse("max-peak", "1000");
  auto sites = parse("max-peak", "800", "Parser::*");
  limits.insert(limits.end(), sites.begin(), sites.end());
  auto results = check_limits(limits, analysis, nullptr);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, LimitStatus::kPass);
  EXPECT_EQ(results[0].actual, 1000);
  EXPECT_EQ(results[1].status, LimitStatus::kFail);
  EXPECT_EQ(results[1].actual, 900);
  ASSERT_EQ(results[1].responsible.size(), 2u);
  EXPECT_EQ(results[1].responsible[0].site, "Parser::read (app.cpp:10)");
  EXPECT_EQ(results[1].responsible[0].value, 600);
  EXPECT_EQ(results[1].summary(),
            "peak heap of sites matching 'Parser::*' 900 B > 800 B (--max-peak); largest: "
            "Parser::read (app.cpp:10) 600 B, Parser::grow (app.cpp:10) 300 B");
}

TEST(LimitCheck, GrowthComparesMatchingSitesAcrossTraces) {
  Analysis baseline =
      make_analysis({make_site("Parser::read", 1000, 1000), make_site("Cache::fill", 1000, 1000)});
  Analysis current =
      make_analysis({make_site("Parser::read", 1000, 1000), make_site("Cache::fill", 1150, 1150),
                     make_site("Index::build", 50, 50)});
  auto results = check_limits(parse("max-peak-growth", "10%"), current, &baseline);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, LimitStatus::kPass);  // 2000 -> 2200 is exactly 10%
  EXPECT_EQ(results[0].baseline, 2000);
  EXPECT_EQ(results[0].allowed, 2200);
  results = check_limits(parse("max-peak-growth", "199"), current, &baseline);
  EXPECT_EQ(results[0].status, LimitStatus::kFail);
  ASSERT_EQ(results[0].responsible.size(), 2u);
  EXPECT_EQ(results[0].responsible[0].site, "Cache::fill (app.cpp:10)");
  EXPECT_EQ(results[0].responsible[0].value, 150);
  EXPECT_EQ(results[0].responsible[1].site, "Index::build (app.cpp:10)");
  // A site pattern new in this trace grows from nothing.
  results = check_limits(parse("max-peak-growth", "50%", "Index::*"), current, &baseline);
  EXPECT_EQ(results[0].status, LimitStatus::kFail);
  EXPECT_EQ(results[0].baseline, 0);
  EXPECT_NE(results[0].summary().find("0 B -> 50 B (new)"), std::string::npos)
      << results[0].summary();
}

TEST(LimitCheck, WhatATraceCannotTellIsAnErrorNotAPass) {
  Analysis analysis = make_analysis({make_site("Parser::read", 10, 10)});
  analysis.end.reset();
  auto results = check_limits(parse("max-leaked", "0"), analysis, nullptr);
  EXPECT_EQ(results[0].status, LimitStatus::kError);
  EXPECT_NE(results[0].error.find("incomplete"), std::string::npos);
  results = check_limits(parse("max-idle-ratio", "50%"), analysis, nullptr);
  EXPECT_EQ(results[0].status, LimitStatus::kError);
  EXPECT_NE(results[0].error.find("no access data"), std::string::npos);
  results = check_limits(parse("max-rss", "1GiB"), analysis, nullptr);
  EXPECT_EQ(results[0].status, LimitStatus::kError);
  EXPECT_NE(results[0].error.find("no RSS samples"), std::string::npos);
  results = check_limits(parse("max-peak-growth", "1%"), analysis, nullptr);
  EXPECT_EQ(results[0].status, LimitStatus::kError);
  EXPECT_NE(results[0].error.find("--baseline"), std::string::npos);
}

TEST(LimitCheck, IdleRatioIsIdleOverObservedByteSeconds) {
  Site busy = make_site("Table::make", 100, 100);
  busy.access.observed_byte_seconds = 300;
  busy.access.idle_byte_seconds = 0;
  Site idle = make_site("Cache::fill", 100, 100);
  idle.access.observed_byte_seconds = 100;
  idle.access.idle_byte_seconds = 100;
  Analysis analysis = make_analysis({busy, idle});
  analysis.snapshot_count = 5;
  auto results = check_limits(parse("max-idle-ratio", "20%"), analysis, nullptr);
  EXPECT_EQ(results[0].status, LimitStatus::kFail);
  EXPECT_DOUBLE_EQ(results[0].actual, 0.25);
  ASSERT_EQ(results[0].responsible.size(), 1u);
  EXPECT_EQ(results[0].responsible[0].site, "Cache::fill (app.cpp:10)");
  results = check_limits(parse("max-idle-ratio", "0%", "Table::*"), analysis, nullptr);
  EXPECT_EQ(results[0].status, LimitStatus::kPass);
}

}  // namespace
