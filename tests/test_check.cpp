// damon-prof check and diff end to end: the footprint program's known heap use against absolute,
// per-site and baseline limits, from options and from a limits file, with JUnit, Markdown and JSON
// output; and two of its traces compared site by site.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "integration_support.h"

using namespace dprof::testing;

namespace {

// Two recordings of the footprint program: the baseline holds 1 MiB of parser blocks and a
// 2 MiB cache and leaks 16 KiB; the current run's cache is 2.5 MiB.
class FootprintTraces : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new TempDir();
    baseline_ = record("baseline.dprof", "2048");
    current_ = record("current.dprof", "2560");
  }
  static void TearDownTestSuite() { delete directory_; }

  static std::string record(const std::string& name, const std::string& cache_kib,
                            const std::string& leak_kib = "16",
                            const std::string& parser_kib = "1024") {
    std::string trace = directory_->file(name);
    CommandResult result =
        run_command({damon_prof_binary(), "-q", "-o", trace, "--backend", "none",
                     test_program("footprint"), parser_kib, cache_kib, leak_kib});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return trace;
  }

  static CommandResult check(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), {damon_prof_binary(), "check"});
    return run_command(arguments);
  }
  static CommandResult diff(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), {damon_prof_binary(), "diff"});
    return run_command(arguments);
  }

  static int lines_with(const std::string& text, const std::string& word) {
    int count = 0;
    size_t line_start = 0;
    while (line_start < text.size()) {
      size_t line_end = text.find('\n', line_start);
      if (line_end == std::string::npos) line_end = text.size();
      if (text.substr(line_start, line_end - line_start).find(word) != std::string::npos) ++count;
      line_start = line_end + 1;
    }
    return count;
  }

  static inline TempDir* directory_ = nullptr;
  static inline std::string baseline_;
  static inline std::string current_;
};

class Check : public FootprintTraces {};
class Diff : public FootprintTraces {};

TEST_F(Check, LimitsThatHoldExitZero) {
  CommandResult result =
      check({current_, "--max-peak", "4MiB", "--max-leaked", "16KiB", "--max-leaked-count", "1",
             "--max-rss", "1GiB", "--max-allocs", "1000", "--max-allocated", "4MB"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(lines_with(result.out, "  ok "), 6) << result.out;
  EXPECT_NE(result.out.find("all 6 limits hold"), std::string::npos) << result.out;
}

TEST_F(Check, EachViolationIsOneLineNamingTheSitesResponsible) {
  // Peak: 1 MiB of parser blocks + 2.5 MiB cache + 16 KiB leak (+ the block array).
  CommandResult result =
      check({current_, "--max-peak", "3MiB", "--max-leaked-count", "0", "--max-leaked", "1MiB"});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_EQ(lines_with(result.out, "  FAIL "), 2) << result.out;
  size_t peak = result.out.find("FAIL  peak heap 3.5");
  ASSERT_NE(peak, std::string::npos) << result.out;
  std::string peak_line = result.out.substr(peak, result.out.find('\n', peak) - peak);
  // The largest first: the cache, then the parser.
  size_t cache = peak_line.find("app::Cache::fill(unsigned long) (footprint.cpp:");
  size_t parser = peak_line.find("app::Parser::read_block");
  EXPECT_NE(cache, std::string::npos) << peak_line;
  EXPECT_NE(parser, std::string::npos) << peak_line;
  EXPECT_LT(cache, parser) << peak_line;
  EXPECT_NE(result.out.find("FAIL  leaked blocks 1 > 0 (--max-leaked-count); largest: leak_config"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("2 of 3 limits violated"), std::string::npos);
}

TEST_F(Check, SiteLimitsSelectByFunctionPattern) {
  CommandResult result = check({current_, "--site", "Parser::*", "max-peak=1MiB,max-allocs=256",
                                "--site", "app::Cache::*", "max-peak=2MiB"});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("ok    peak heap of sites matching 'Parser::*' 1.00 MiB <= 1.00 MiB"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("ok    allocation calls of sites matching 'Parser::*' 256 <= 256"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("FAIL  peak heap of sites matching 'app::Cache::*' 2.50 MiB > 2.00 "
                            "MiB (--site app::Cache::*); largest: app::Cache::fill"),
            std::string::npos)
      << result.out;
  // A pattern that matches nothing is an error, not a silent pass.
  CommandResult typo = check({current_, "--site", "Parsr::*", "max-peak=1MiB"});
  EXPECT_EQ(typo.exit_code, 2) << typo.out;
  EXPECT_NE(typo.out.find("ERROR peak heap of sites matching 'Parsr::*': cannot check: the "
                          "pattern matches no allocation site"),
            std::string::npos)
      << typo.out;
}

TEST_F(Check, GrowthOverABaselineNamesWhatGrew) {
  CommandResult relative = check({current_, "--baseline", baseline_, "--max-growth", "5%"});
  EXPECT_EQ(relative.exit_code, 1) << relative.out << relative.err;
  EXPECT_NE(relative.out.find("FAIL  peak heap growth 3.0"), std::string::npos) << relative.out;
  EXPECT_NE(relative.out.find("exceeds 5% (--max-growth); grew most: app::Cache::fill(unsigned "
                              "long) (footprint.cpp:"),
            std::string::npos)
      << relative.out;
  EXPECT_NE(relative.out.find("+512 KiB"), std::string::npos) << relative.out;
  EXPECT_NE(relative.out.find("peak RSS growth"), std::string::npos) << relative.out;
  CommandResult absolute = check({current_, "--baseline", baseline_, "--max-peak-growth", "512KiB",
                                  "--max-leaked-growth", "0", "--max-allocs-growth", "0"});
  EXPECT_EQ(absolute.exit_code, 0) << absolute.out << absolute.err;
  CommandResult site = check({current_, "--baseline", baseline_, "--site", "Parser::*",
                              "max-peak-growth=0", "--site", "Cache::*", "max-growth=10%"});
  EXPECT_EQ(site.exit_code, 1) << site.out;
  EXPECT_NE(site.out.find("ok    peak heap growth of sites matching 'Parser::*' 1.00 MiB -> "
                          "1.00 MiB (+0.0%) within +0 B"),
            std::string::npos)
      << site.out;
  EXPECT_NE(site.out.find("FAIL  peak heap growth of sites matching 'Cache::*' 2.00 MiB -> "
                          "2.50 MiB (+25.0%) exceeds 10%"),
            std::string::npos)
      << site.out;
}

TEST_F(Check, LimitsFileWithJunitAndMarkdownForCi) {
  std::string limits = directory_->file("budget.limits");
  {
    std::ofstream file(limits);
    file << "# the project's memory budget\n"
            "max-peak = 8MiB\n"
            "max-leaked = 16KiB   # the config block is kept on purpose\n"
            "\n"
            "[site Cache::*]\n"
            "max-peak = 2MiB\n"
            "[program]\n"
            "max-growth = 50%\n";
  }
  std::string junit = directory_->file("check.xml");
  std::string markdown = directory_->file("check.md");
  CommandResult result = check({current_, "--limits", limits, "--baseline", baseline_, "--junit",
                                junit, "--markdown", markdown});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("(" + limits + ":6); largest: app::Cache::fill"), std::string::npos)
      << result.out;
  std::string xml = read_file(junit);
  EXPECT_NE(xml.find("<testsuites name=\"damon-prof check\" tests=\"5\" failures=\"1\" "
                     "errors=\"0\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure message=\"peak heap of sites matching &#39;Cache::*&#39; 2.50 MiB "
                     "&gt; 2.00 MiB"),
            std::string::npos)
      << xml;
  EXPECT_EQ(lines_with(xml, "<testcase "), 5);
  std::string md = read_file(markdown);
  EXPECT_NE(md.find("### damon-prof memory check: FAILED"), std::string::npos) << md;
  EXPECT_EQ(lines_with(md, "| ✅ |"), 4) << md;
  EXPECT_EQ(lines_with(md, "| ❌ |"), 1) << md;
  EXPECT_NE(md.find("- **FAIL** peak heap of sites matching 'Cache::\\*'"), std::string::npos)
      << md;
}

TEST_F(Check, JsonOutputForPrograms) {
  CommandResult result =
      check({current_, "--format", "json", "--max-peak", "3MiB", "--max-leaked", "16KiB"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  auto document = nlohmann::json::parse(result.out);
  EXPECT_EQ(document["schema"], "damon-prof-check");
  EXPECT_EQ(document["failed"], 1);
  EXPECT_EQ(document["passed"], 1);
  ASSERT_EQ(document["limits"].size(), 2u);
  const auto& peak = document["limits"][0];
  EXPECT_EQ(peak["quantity"], "peak");
  EXPECT_EQ(peak["status"], "fail");
  EXPECT_EQ(peak["allowed"].get<double>(), 3.0 * 1024 * 1024);
  EXPECT_GT(peak["actual"].get<double>(), 3.5 * 1024 * 1024);
  EXPECT_EQ(peak["responsible_sites"][0]["value"].get<double>(), 2560.0 * 1024);
  EXPECT_EQ(document["limits"][1]["actual"].get<double>(), 16384.0);
}

TEST_F(Check, BadInputIsAOneLineErrorWithStatusTwo) {
  struct Case {
    std::vector<std::string> arguments;
    std::string message;
  };
  std::string bad_limits = directory_->file("bad.limits");
  {
    std::ofstream file(bad_limits);
    file << "max-peak = 1MiB\nmax-pie = 3\n";
  }
  std::vector<Case> cases = {
      {{current_, "--max-peak", "12XB"}, "--max-peak 12XB: '12XB' has an unknown unit"},
      {{current_, "--max-heap", "1MiB"}, "unknown limit 'max-heap'"},
      {{current_, "--max-idle-ratio", "140%"}, "'140%' is more than 100%"},
      {{current_, "--site", "Parser::*", "max-rss=1GiB"}, "max-rss applies to the whole program"},
      {{current_, "--limits", bad_limits}, bad_limits + ":2: max-pie = 3: unknown limit"},
      {{current_, "--limits", directory_->file("missing.limits")}, "cannot read the limits file"},
      {{current_, "--max-growth", "5%"}, "a growth limit needs --baseline"},
      {{current_}, "no limits given"},
      {{directory_->file("none.dprof"), "--max-peak", "1MiB"}, "none.dprof"},
      {{current_, "--baseline", directory_->file("none.dprof"), "--max-growth", "1%"},
       "none.dprof"},
  };
  for (const Case& one : cases) {
    CommandResult result = check(one.arguments);
    EXPECT_EQ(result.exit_code, 2) << one.message << "\n" << result.out;
    EXPECT_NE(result.err.find(one.message), std::string::npos) << result.err;
    EXPECT_EQ(lines_with(result.err, "damon-prof: "), 1) << result.err;
  }
}

TEST_F(Diff, TotalsAndTheSitesThatChangedMost) {
  CommandResult result = diff({baseline_, current_});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("damon-prof diff " + baseline_ + " -> " + current_), std::string::npos);
  size_t peak = result.out.find("  peak heap ");
  ASSERT_NE(peak, std::string::npos) << result.out;
  std::string peak_line = result.out.substr(peak, result.out.find('\n', peak) - peak);
  EXPECT_NE(peak_line.find("+512 KiB (+16."), std::string::npos) << peak_line;
  // Only the cache changed: it is the one changed site, and the others are not listed.
  EXPECT_NE(result.out.find("(1 of 1 changed sites"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("+512 KiB      2.00 MiB → 2.50 MiB       +25.0%   app::Cache::fill"),
            std::string::npos)
      << result.out;
  EXPECT_EQ(result.out.find("Parser::read_block"), std::string::npos) << result.out;
}

TEST_F(Diff, JsonHasEveryMetricOfEverySite) {
  CommandResult result = diff({baseline_, current_, "--format", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto document = nlohmann::json::parse(result.out);
  EXPECT_EQ(document["schema"], "damon-prof-diff");
  EXPECT_EQ(document["totals"]["peak"]["delta"], 512.0 * 1024);
  EXPECT_EQ(document["totals"]["leaked"]["delta"], 0);
  ASSERT_GE(document["sites"].size(), 3u);
  const auto& first = document["sites"][0];
  EXPECT_NE(first["name"].get<std::string>().find("app::Cache::fill"), std::string::npos);
  EXPECT_EQ(first["status"], "both");
  EXPECT_EQ(first["metrics"]["peak_bytes"]["before"], 2048.0 * 1024);
  EXPECT_EQ(first["metrics"]["peak_bytes"]["after"], 2560.0 * 1024);
  EXPECT_EQ(first["metrics"]["alloc_count"]["delta"], 0);
  EXPECT_TRUE(first["metrics"].contains("hot_byte_seconds"));
  EXPECT_NE(first["stack"][0].get<std::string>().find("footprint.cpp:"), std::string::npos);
}

TEST_F(Diff, NewAndGoneSites) {
  std::string no_leak = record("no_leak.dprof", "2048", "0");
  CommandResult fixed = diff({baseline_, no_leak, "--sort", "leaked"});
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_NE(fixed.out.find("gone -16.0 KiB"), std::string::npos) << fixed.out;
  EXPECT_NE(fixed.out.find("leak_config"), std::string::npos) << fixed.out;
  CommandResult regressed = diff({no_leak, baseline_, "--sort", "leaks"});
  EXPECT_NE(regressed.out.find("new  +1 "), std::string::npos) << regressed.out;
}

TEST_F(Diff, DifferentialFlamegraphColoursGrowthAndShrinkage) {
  std::string smaller_parser = record("small_parser.dprof", "2560", "16", "512");
  std::string svg_path = directory_->file("diff.svg");
  CommandResult result = diff({baseline_, smaller_parser, "--flamegraph", svg_path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::string svg = read_file(svg_path);
  size_t cache = svg.find("was 2.00 MiB (+512 KiB, +25.0%)");
  size_t parser = svg.find("was 1.00 MiB (-512 KiB, -50.0%)");
  ASSERT_NE(cache, std::string::npos) << svg.substr(0, 4000);
  ASSERT_NE(parser, std::string::npos);
  // Grown frames are red (full red channel), shrunk ones blue (full blue channel).
  auto fill_after = [&](size_t position) {
    size_t fill = svg.find("fill=\"", position);
    return svg.substr(fill + 6, svg.find('"', fill + 6) - fill - 6);
  };
  EXPECT_EQ(fill_after(cache).rfind("rgb(255,", 0), 0u) << fill_after(cache);
  EXPECT_NE(fill_after(parser).find(",255)"), std::string::npos) << fill_after(parser);
}

TEST_F(Diff, BadInputIsAOneLineErrorWithStatusTwo) {
  for (const auto& arguments :
       std::vector<std::vector<std::string>>{{baseline_},
                                             {baseline_, current_, "--sort", "colour"},
                                             {baseline_, directory_->file("none.dprof")},
                                             {baseline_, current_, current_}}) {
    CommandResult result = diff(arguments);
    EXPECT_EQ(result.exit_code, 2) << result.out;
    EXPECT_EQ(lines_with(result.err, "damon-prof: "), 1) << result.err;
  }
}

}  // namespace
