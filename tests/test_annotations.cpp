// The annotation API end to end: tests/programs/annotated marks phases and markers and runs a
// custom arena allocator through include/damon_prof/annotate.h; the reports, check --phase and
// the Chrome trace must show them, and the arena's blocks must be sites of their own.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "integration_support.h"

using namespace dprof::testing;

namespace {

constexpr uint64_t kKiB = 1024;

class Annotations : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new TempDir();
    trace_ = directory_->file("annotated.dprof");
    // RSS samples every 10 ms, so that each phase (30 ms or more) holds some.
    CommandResult result = run_command(
        {damon_prof_binary(), "-q", "-o", trace_, "--backend", "none", test_program("annotated")},
        {"DAMON_PROF_SAMPLE_INTERVAL=10"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    CommandResult json = run_command({damon_prof_binary(), "report", trace_, "--format", "json"});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    report_ = new nlohmann::json(nlohmann::json::parse(json.out));
  }
  static void TearDownTestSuite() {
    delete report_;
    delete directory_;
  }

  static CommandResult cli(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), damon_prof_binary());
    return run_command(arguments);
  }

  static const nlohmann::json& site(const std::string& function) {
    for (const auto& candidate : (*report_)["sites"]) {
      if (candidate["name"].get<std::string>().find(function) != std::string::npos) {
        return candidate;
      }
    }
    ADD_FAILURE() << "no site " << function;
    static nlohmann::json none = nlohmann::json::object();
    return none;
  }

  static inline TempDir* directory_ = nullptr;
  static inline std::string trace_;
  static inline nlohmann::json* report_ = nullptr;
};

TEST_F(Annotations, WithoutTheRuntimeTheCallsDoNothing) {
  CommandResult result = run_command({test_program("annotated")});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "");
}

TEST_F(Annotations, TheHeaderWorksFromC) {
  std::string trace = directory_->file("from_c.dprof");
  CommandResult recorded =
      cli({"-q", "-o", trace, "--backend", "none", test_program("annotated_c")});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  CommandResult json = cli({"report", trace, "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto report = nlohmann::json::parse(json.out);
  ASSERT_EQ(report["markers"].size(), 2u);
  EXPECT_EQ(report["markers"][0]["name"], "from C");
  EXPECT_EQ(report["markers"][1]["name"], "<script>alert(1)</script>\x1b]0;pwned\x07");
  ASSERT_EQ(report["phases"].size(), 1u);
  EXPECT_EQ(report["phases"][0]["name"], "c phase");
  EXPECT_EQ(report["phases"][0]["alloc_bytes"], 4096);

  // What the program named cannot reach the terminal as escape sequences, nor the page as markup.
  CommandResult text = cli({"report", trace});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos);
  EXPECT_NE(text.out.find("<script>alert(1)</script>?]0;pwned?"), std::string::npos) << text.out;
  std::string page = directory_->file("from_c.html");
  ASSERT_EQ(cli({"report", trace, "--html", page}).exit_code, 0);
  std::string html = read_file(page);
  EXPECT_EQ(html.find("<script>alert(1)"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)"), std::string::npos);
}

TEST_F(Annotations, PhasesAndMarkersAreInTheReport) {
  const auto& phases = (*report_)["phases"];
  ASSERT_EQ(phases.size(), 2u) << phases;
  const auto& load = phases[0];
  EXPECT_EQ(load["name"], "load");
  EXPECT_EQ(load["spans"], 1);  // the nested begin/end does not open a second span
  EXPECT_EQ(load["alloc_count"], 1);
  EXPECT_EQ(load["alloc_bytes"], 1024 * kKiB);
  EXPECT_GE(load["peak_heap_bytes"].get<uint64_t>(), 1024 * kKiB);
  EXPECT_GE(load["total_ns"].get<uint64_t>(), 30000000u);
  EXPECT_TRUE(load["peak_rss_bytes"].is_number_unsigned()) << load;
  const auto& work = phases[1];
  EXPECT_EQ(work["name"], "work");
  EXPECT_EQ(work["spans"], 3);
  EXPECT_EQ(work["alloc_count"], 3);
  EXPECT_EQ(work["alloc_bytes"], 768 * kKiB);
  EXPECT_FALSE(work["left_open"].get<bool>());
  EXPECT_EQ((*report_)["phase_spans"].size(), 4u);
  const auto& markers = (*report_)["markers"];
  ASSERT_EQ(markers.size(), 3u);
  EXPECT_EQ(markers[0]["name"], "start");
  EXPECT_EQ(markers[1]["name"], "arena built");
  EXPECT_EQ(markers[2]["name"], "done");
  EXPECT_LT(markers[0]["time_ns"].get<uint64_t>(), markers[1]["time_ns"].get<uint64_t>());
  EXPECT_LT(markers[0]["time_ns"].get<uint64_t>(),
            (*report_)["phase_spans"][0]["begin_ns"].get<uint64_t>());

  CommandResult text = cli({"report", trace_, "--view", "timeline"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("PHASES"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  work                      3 "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("MARKERS  (3)"), std::string::npos) << text.out;
}

TEST_F(Annotations, CustomAllocatorBlocksAreSitesOfTheirOwn) {
  const auto& summary = (*report_)["summary"];
  EXPECT_EQ(summary["custom_count"], 101);
  EXPECT_EQ(summary["custom_bytes"], 100 * 1000 + 64 * kKiB);
  // Carved out of the arena's chunk: the peak counts the chunk once.
  EXPECT_LT(summary["peak_heap_bytes"].get<uint64_t>(), 2200 * kKiB);
  const auto& nodes = site("make_node");
  EXPECT_EQ(nodes["alloc_count"], 100);
  EXPECT_EQ(nodes["alloc_bytes"], 100000);
  EXPECT_EQ(nodes["leaked_bytes"], 0);  // 50 freed, the rest ended with the arena
  EXPECT_EQ(site("make_buffer")["alloc_bytes"], 64 * kKiB);
  EXPECT_EQ(site("arena_create")["alloc_bytes"], 1024 * kKiB);
  EXPECT_EQ(site("arena_create")["leaked_bytes"], 0);
}

TEST_F(Annotations, CheckLimitsAPhase) {
  CommandResult result = cli({"check", trace_, "--phase", "load", "max-peak=512KiB", "--phase",
                              "work", "max-allocs=3,max-allocated=1MiB"});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("FAIL  peak heap in phase 'load' 1."), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("allocated most in the phase: (anonymous namespace)::load_table"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("ok    allocation calls in phase 'work' 3 <= 3"), std::string::npos)
      << result.out;

  std::string limits = directory_->file("phases.limits");
  std::ofstream(limits) << "[phase work]\nmax-peak = 64MiB\nmax-rss = 1GiB\n";
  CommandResult from_file = cli({"check", trace_, "--limits", limits});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.out << from_file.err;

  CommandResult missing = cli({"check", trace_, "--phase", "save", "max-peak=1MiB"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.out.find("the trace has no phase 'save'"), std::string::npos) << missing.out;
  CommandResult wrong = cli({"check", trace_, "--phase", "load", "max-leaked=0"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find("does not apply to a phase"), std::string::npos) << wrong.err;
}

TEST_F(Annotations, ChromeTraceHasPhaseSlicesAndMarkers) {
  std::string path = directory_->file("annotated.json");
  CommandResult result = cli({"export", trace_, "--chrome-trace", path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto trace = nlohmann::json::parse(read_file(path));
  std::map<std::string, int> slices;
  std::vector<std::string> markers;
  for (const auto& event : trace["traceEvents"]) {
    if (event["ph"] == "X") {
      ++slices[event["name"]];
      EXPECT_GT(event["dur"].get<double>(), 0) << event;
    }
    if (event["ph"] == "i" && event.value("cat", "") == "marker") markers.push_back(event["name"]);
  }
  EXPECT_EQ(slices["load"], 1);
  EXPECT_EQ(slices["work"], 3);
  EXPECT_EQ(markers, (std::vector<std::string>{"start", "arena built", "done"}));
}

// With the access monitor on, heatmaps draw the phases and markers over their time axis.
TEST_F(Annotations, HeatmapsShowPhasesAndMarkers) {
  std::string trace = directory_->file("monitored.dprof");
  CommandResult recorded = cli({"-q", "-o", trace, "--sampling", "2ms", "--aggregation", "10ms",
                                "--overhead", "100%", test_program("annotated")});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  std::string svg_path = directory_->file("heat.svg");
  CommandResult svg = cli({"heatmap", trace, "-o", svg_path});
  ASSERT_EQ(svg.exit_code, 0) << svg.err;
  std::string document = read_file(svg_path);
  if (document.find("no region snapshots") != std::string::npos) {
    GTEST_SKIP() << "no monitoring backend on this kernel";
  }
  size_t phases = 0;
  for (size_t at = document.find("class=\"phase\""); at != std::string::npos;
       at = document.find("class=\"phase\"", at + 1)) {
    ++phases;
  }
  EXPECT_GE(phases, 3u) << document.substr(0, 2000);  // the work spans at least
  EXPECT_NE(document.find("<title>phase work: "), std::string::npos);
  EXPECT_NE(document.find("<title>arena built at "), std::string::npos);
  CommandResult terminal = cli({"heatmap", trace});
  ASSERT_EQ(terminal.exit_code, 0) << terminal.err;
  EXPECT_NE(terminal.out.find("  phase work\n"), std::string::npos) << terminal.out;
  EXPECT_NE(terminal.out.find("  arena built\n"), std::string::npos) << terminal.out;
  std::string png_path = directory_->file("heat.png");
  EXPECT_EQ(cli({"heatmap", trace, "-o", png_path}).exit_code, 0);
  EXPECT_TRUE(file_exists(png_path));
}

}  // namespace
