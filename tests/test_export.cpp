// damon-prof export end to end: a pprof profile decoded with protobuf (and read by `go tool
// pprof` where Go is installed), a Chrome trace, folded stacks and the JSON report.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "integration_support.h"

using namespace dprof::testing;

namespace {

constexpr int64_t kKiB = 1024;

class Export : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new TempDir();
    trace_ = directory_->file("footprint.dprof");
    // 1 MiB in 256 parser blocks, a 2.5 MiB cache, a 16 KiB leak: all live at the peak.
    CommandResult result = run_command({damon_prof_binary(), "-q", "-o", trace_, "--backend",
                                        "none", test_program("footprint"), "1024", "2560", "16"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
  static void TearDownTestSuite() { delete directory_; }

  static CommandResult run_export(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), {damon_prof_binary(), "export", trace_});
    return run_command(arguments);
  }

  static const PprofSample* find(const std::vector<PprofSample>& samples, const std::string& leaf) {
    for (const PprofSample& sample : samples) {
      if (sample.leaf_function.find(leaf) != std::string::npos) return &sample;
    }
    return nullptr;
  }

  static inline TempDir* directory_ = nullptr;
  static inline std::string trace_;
};

TEST_F(Export, PprofProfileHasEverySampleTypeAndSymbolizedStacks) {
  std::string path = directory_->file("profile.pb.gz");
  CommandResult result = run_export({"--pprof", path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  perftools::profiles::Profile profile = read_pprof(path);
  ASSERT_GT(profile.string_table_size(), 0);
  EXPECT_EQ(profile.string_table(0), "");
  std::vector<std::pair<std::string, std::string>> types;
  for (const auto& type : profile.sample_type()) {
    types.emplace_back(profile.string_table(type.type()), profile.string_table(type.unit()));
  }
  std::vector<std::pair<std::string, std::string>> expected = {
      {"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"},
      {"inuse_space", "bytes"},   {"hot_space", "bytes"},   {"idle_space", "bytes"}};
  EXPECT_EQ(types, expected);
  EXPECT_EQ(profile.string_table(profile.default_sample_type()), "inuse_space");

  std::vector<PprofSample> samples = pprof_samples(profile);
  const PprofSample* cache = find(samples, "app::Cache::fill");
  const PprofSample* parser = find(samples, "app::Parser::read_block");
  const PprofSample* leak = find(samples, "leak_config");
  ASSERT_NE(cache, nullptr);
  ASSERT_NE(parser, nullptr);
  ASSERT_NE(leak, nullptr);
  EXPECT_EQ(cache->values.at("alloc_objects"), 1);
  EXPECT_EQ(cache->values.at("alloc_space"), 2560 * kKiB);
  EXPECT_EQ(cache->values.at("inuse_objects"), 1);
  EXPECT_EQ(cache->values.at("inuse_space"), 2560 * kKiB);
  EXPECT_EQ(parser->values.at("alloc_objects"), 256);
  EXPECT_EQ(parser->values.at("inuse_objects"), 256);
  EXPECT_EQ(parser->values.at("inuse_space"), 1024 * kKiB);
  EXPECT_EQ(leak->values.at("inuse_space"), 16 * kKiB);
  // Leaf first, down to main; no allocation machinery above the site's own frame.
  EXPECT_EQ(cache->functions.front(), "app::Cache::fill(unsigned long)");
  EXPECT_NE(std::find(cache->functions.begin(), cache->functions.end(), "main"),
            cache->functions.end());
  EXPECT_EQ(std::find(cache->functions.begin(), cache->functions.end(), "malloc"),
            cache->functions.end());

  // Functions carry their source file, lines their numbers, mappings their build ids.
  bool found_source = false;
  for (const auto& function : profile.function()) {
    std::string file = profile.string_table(function.filename());
    found_source = found_source || file.find("footprint.cpp") != std::string::npos;
  }
  EXPECT_TRUE(found_source);
  bool mapped_program = false;
  for (const auto& mapping : profile.mapping()) {
    std::string file = profile.string_table(mapping.filename());
    if (file.find("footprint") == std::string::npos) continue;
    mapped_program = true;
    EXPECT_EQ(profile.string_table(mapping.build_id()).size(), 40u);  // 20 bytes in hex
    EXPECT_LT(mapping.memory_start(), mapping.memory_limit());
    EXPECT_TRUE(mapping.has_functions());
  }
  EXPECT_TRUE(mapped_program);
  for (const auto& location : profile.location()) {
    ASSERT_GT(location.line_size(), 0);
    EXPECT_NE(location.mapping_id(), 0u);
  }
}

// Go's pprof reads it, when Debian's golang-go is installed.
TEST_F(Export, GoToolPprofReadsTheProfile) {
  if (std::system("command -v go >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "go is not installed (Debian's golang-go)";
  }
  std::string path = directory_->file("for_go.pb.gz");
  ASSERT_EQ(run_export({"--pprof", path}).exit_code, 0);
  CommandResult top =
      run_command({"go", "tool", "pprof", "-top", "-sample_index=alloc_space", path},
                  {"HOME=" + directory_->path(), "GOCACHE=" + directory_->file("gocache")});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("Type: alloc_space"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("2560kB"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("app::Cache::fill"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("1024kB"), std::string::npos) << top.out;
}

TEST_F(Export, ChromeTraceHasCountersAndMarkers) {
  std::string path = directory_->file("trace.json");
  CommandResult result = run_export({"--chrome-trace", path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto document = nlohmann::json::parse(read_file(path));
  ASSERT_TRUE(document["traceEvents"].is_array());
  std::map<std::string, int> counters;
  bool named = false;
  bool peak = false;
  bool end = false;
  for (const auto& event : document["traceEvents"]) {
    ASSERT_TRUE(event["ph"].is_string());
    ASSERT_TRUE(event["pid"].is_number());
    if (event["ph"] == "M")
      named = event["args"]["name"].get<std::string>().find("footprint") != std::string::npos;
    if (event["ph"] == "C") {
      ASSERT_TRUE(event["ts"].is_number());
      ++counters[event["name"]];
    }
    if (event["ph"] == "i" && event["name"] == "heap peak") {
      peak = event["args"]["detail"].get<std::string>().find("3.5") == 0;
    }
    if (event["ph"] == "i" && event["name"] == "end") end = true;
  }
  EXPECT_TRUE(named);
  EXPECT_TRUE(peak);
  EXPECT_TRUE(end);
  EXPECT_GE(counters["RSS"], 1);
  EXPECT_GE(counters["heap in use"], 1);
  EXPECT_EQ(counters.count("working set"), 0u);  // recorded without access monitoring
}

TEST_F(Export, FoldedStacksAndTheJsonReport) {
  CommandResult folded = run_export({"--folded", "--weight", "allocs"});
  ASSERT_EQ(folded.exit_code, 0) << folded.err;
  EXPECT_NE(folded.out.find(";main;app::Parser::read_block() 256\n"), std::string::npos)
      << folded.out;
  std::string json_path = directory_->file("report.json");
  CommandResult both = run_export({"--json", json_path, "--folded", "-"});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_NE(both.out.find("app::Cache::fill(unsigned long) 2621440\n"), std::string::npos);
  auto report = nlohmann::json::parse(read_file(json_path));
  EXPECT_EQ(report["schema"], "damon-prof-report");
  EXPECT_GE(report["sites"].size(), 3u);
}

TEST_F(Export, BadInputIsAOneLineErrorWithStatusTwo) {
  for (const auto& arguments :
       std::vector<std::vector<std::string>>{{},
                                             {"--pprof"},
                                             {"--pprof", "/nonexistent-dir/p.pb.gz"},
                                             {"--chrome-trace", "/nonexistent-dir/t.json"},
                                             {"--folded", "--json"},
                                             {"--weight", "size", "--folded"},
                                             {"--svg", "x"}}) {
    CommandResult result = run_export(arguments);
    EXPECT_EQ(result.exit_code, 2) << result.out;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

}  // namespace
