// The damon-prof command's contract with its user: exit statuses, one-line errors naming the file
// or option, and the JSON report's schema.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "damon_prof/trace_format.h"
#include "integration_support.h"
#include "trace_builder.h"

using namespace dprof::testing;

namespace {

int line_count(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// One recorded trace shared by the tests that need a real one.
const std::string& recorded_trace() {
  static TempDir* directory = new TempDir();
  static std::string trace = [] {
    std::string path = directory->file("exact.dprof");
    run_command({damon_prof_binary(), "-q", "-o", path, test_program("exact_allocations")});
    return path;
  }();
  return trace;
}

std::vector<char> bytes_of(const std::string& path) {
  std::string content = read_file(path);
  return {content.begin(), content.end()};
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST(Cli, UsageAndVersion) {
  CommandResult none = run_command({damon_prof_binary()});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("usage:"), std::string::npos);
  CommandResult help = run_command({damon_prof_binary(), "help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("damon-prof report"), std::string::npos);
  CommandResult version = run_command({damon_prof_binary(), "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("damon-prof ", 0), 0u);
}

// The launcher hands the analysis verbs to damon-prof-analyze (tools/analyzer_main.cpp) and
// prints the summary after a run with it; when it cannot be found, the error names where it
// looked, and recording still works (without the summary), with the program's own status.
TEST(Cli, AnalysisVerbsRunInTheAnalyzer) {
  CommandResult report = run_command({damon_prof_binary(), "report", recorded_trace()});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("damon-prof report"), std::string::npos);
  CommandResult moved = run_command({damon_prof_binary(), "report", recorded_trace()},
                                    {"DAMON_PROF_ANALYZER=/nonexistent/damon-prof-analyze"});
  EXPECT_EQ(moved.exit_code, 2);
  EXPECT_EQ(moved.err,
            "damon-prof: DAMON_PROF_ANALYZER=/nonexistent/damon-prof-analyze: cannot read the "
            "analyzer\n");
  TempDir directory;
  std::string trace = directory.file("run.dprof");
  CommandResult recorded =
      run_command({damon_prof_binary(), "-o", trace, test_program("crasher"), "exit", "3"},
                  {"DAMON_PROF_ANALYZER=/nonexistent/damon-prof-analyze"});
  EXPECT_EQ(recorded.exit_code, 3);
  EXPECT_NE(recorded.err.find("no summary"), std::string::npos) << recorded.err;
  EXPECT_EQ(run_command({damon_prof_binary(), "report", trace}).exit_code, 0);
  CommandResult summarized = run_command({damon_prof_binary(), "-o", directory.file("second.dprof"),
                                          test_program("crasher"), "exit", "0"});
  EXPECT_EQ(summarized.exit_code, 0);
  EXPECT_NE(summarized.err.find("trace written to " + directory.file("second.dprof")),
            std::string::npos)
      << summarized.err;
  EXPECT_TRUE(summarized.out.empty()) << summarized.out;
}

TEST(Cli, MissingProgramIsAClearError) {
  TempDir directory;
  CommandResult result =
      run_command({damon_prof_binary(), "no-such-program-xyz"}, {}, directory.path());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "damon-prof: no-such-program-xyz: no such program (not found in PATH)\n");
  EXPECT_TRUE(directory.files_ending_with(".dprof").empty());
  CommandResult path = run_command({damon_prof_binary(), "./nothing-here"}, {}, directory.path());
  EXPECT_EQ(path.exit_code, 2);
  EXPECT_EQ(line_count(path.err), 1);
  EXPECT_NE(path.err.find("./nothing-here"), std::string::npos);
}

TEST(Cli, StaticBinaryCannotBePreloaded) {
  CommandResult result = run_command({damon_prof_binary(), test_program("static_program")});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(line_count(result.err), 1);
  EXPECT_NE(result.err.find("statically linked"), std::string::npos) << result.err;
}

TEST(Cli, NonExecutableAndNotAProgram) {
  TempDir directory;
  std::string text = directory.file("notes.txt");
  write_bytes(text, {'h', 'i', '\n'});
  CommandResult result = run_command({damon_prof_binary(), text});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("not executable"), std::string::npos) << result.err;
}

TEST(Cli, NeverOverwritesAnExistingFile) {
  TempDir directory;
  std::string existing = directory.file("keep.dprof");
  write_bytes(existing, {'k', 'e', 'e', 'p'});
  CommandResult result =
      run_command({damon_prof_binary(), "-o", existing, test_program("crasher"), "exit", "0"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("already exists"), std::string::npos);
  EXPECT_EQ(read_file(existing), "keep");
}

TEST(Cli, DefaultTraceNameIsProgramDotPidInTheCurrentDirectory) {
  TempDir directory;
  CommandResult result = run_command({damon_prof_binary(), test_program("crasher"), "exit", "0"},
                                     {}, directory.path());
  EXPECT_EQ(result.exit_code, 0);
  auto traces = directory.files_ending_with(".dprof");
  ASSERT_EQ(traces.size(), 1u);
  std::string name = traces[0].substr(traces[0].rfind('/') + 1);
  EXPECT_EQ(name.rfind("crasher.", 0), 0u) << name;
  EXPECT_NE(result.err.find(name), std::string::npos);
}

TEST(Cli, BadOptionsNameTheOption) {
  CommandResult format =
      run_command({damon_prof_binary(), "report", recorded_trace(), "--format", "xml"});
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_NE(format.err.find("--format xml"), std::string::npos);
  CommandResult top =
      run_command({damon_prof_binary(), "report", recorded_trace(), "--top", "ten"});
  EXPECT_EQ(top.exit_code, 2);
  EXPECT_NE(top.err.find("--top ten"), std::string::npos);
  CommandResult unknown = run_command({damon_prof_binary(), "--frobnicate", "ls"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("--frobnicate"), std::string::npos);
  CommandResult flush = run_command({damon_prof_binary(), "--flush-interval", "0", "ls"});
  EXPECT_EQ(flush.exit_code, 2);
  EXPECT_NE(flush.err.find("--flush-interval"), std::string::npos);
}

TEST(Cli, ReportRejectsWhatIsNotATrace) {
  TempDir directory;
  std::string text = directory.file("notes.txt");
  write_bytes(text, {'n', 'o', 't', ' ', 'a', ' ', 't', 'r', 'a', 'c', 'e', '\n'});
  CommandResult result = run_command({damon_prof_binary(), "report", text});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "damon-prof: " + text + ": not a damon-prof trace (no trace header)\n");
  CommandResult missing =
      run_command({damon_prof_binary(), "report", directory.file("gone.dprof")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(line_count(missing.err), 1);
  EXPECT_NE(missing.err.find("gone.dprof"), std::string::npos);
}

TEST(Cli, CorruptFrameFailsUnlessSalvaging) {
  TempDir directory;
  auto bytes = bytes_of(recorded_trace());
  ASSERT_GT(bytes.size(), 200u);
  std::string damaged = directory.file("damaged.dprof");
  bytes[sizeof(dprof_file_header) + sizeof(dprof_frame_header) + 40] ^= 0x55;
  write_bytes(damaged, bytes);
  CommandResult result = run_command({damon_prof_binary(), "report", damaged});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(line_count(result.err), 1);
  EXPECT_NE(result.err.find("corrupt"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(damaged), std::string::npos);
  CommandResult salvaged = run_command({damon_prof_binary(), "report", "--salvage", damaged});
  EXPECT_EQ(salvaged.exit_code, 0) << salvaged.err;
  EXPECT_NE(salvaged.out.find("corrupt frames skipped"), std::string::npos);
}

TEST(Cli, FutureFormatVersionIsRefused) {
  TempDir directory;
  auto bytes = bytes_of(recorded_trace());
  bytes[offsetof(dprof_file_header, version_major)] = DPROF_VERSION_MAJOR + 1;
  std::string future = directory.file("future.dprof");
  write_bytes(future, bytes);
  CommandResult result = run_command({damon_prof_binary(), "report", future});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(line_count(result.err), 1);
  EXPECT_NE(result.err.find("newer than this damon-prof reads"), std::string::npos);
}

TEST(Cli, TruncatedTraceIsReportedWithAWarning) {
  TempDir directory;
  auto bytes = bytes_of(recorded_trace());
  bytes.resize(bytes.size() - 7);
  std::string cut = directory.file("cut.dprof");
  write_bytes(cut, bytes);
  CommandResult result = run_command({damon_prof_binary(), "report", cut});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.err.find("incomplete"), std::string::npos) << result.err;
}

TEST(Cli, JsonReportFollowsTheDocumentedSchema) {
  CommandResult result =
      run_command({damon_prof_binary(), "report", recorded_trace(), "--format", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto report = nlohmann::json::parse(result.out);
  const auto& summary = report["summary"];
  for (const char* field :
       {"total_alloc_count", "total_alloc_bytes", "peak_heap_bytes", "peak_time_ns", "leaked_bytes",
        "leaked_count", "temporary_count", "peak_rss_bytes"}) {
    ASSERT_TRUE(summary.contains(field)) << field;
    EXPECT_TRUE(summary[field].is_number_unsigned()) << field;
  }
  EXPECT_GT(summary["peak_rss_bytes"].get<uint64_t>(), 0u);
  ASSERT_TRUE(report["monitor"].is_object());
  EXPECT_TRUE(report["monitor"]["backend"].is_string());
  EXPECT_TRUE(report["monitor"]["snapshots"].is_number_unsigned());
  ASSERT_TRUE(report["sites"].is_array());
  ASSERT_FALSE(report["sites"].empty());
  bool found = false;
  for (const auto& site : report["sites"]) {
    for (const char* field : {"alloc_count", "alloc_bytes", "peak_bytes", "leaked_bytes",
                              "leaked_count", "temporary_count"}) {
      ASSERT_TRUE(site[field].is_number_unsigned()) << field;
    }
    const auto& frames = site["frames"];
    ASSERT_TRUE(frames.is_array());
    for (const auto& frame : frames) {
      for (const char* field : {"function", "file", "line", "module"}) {
        ASSERT_TRUE(frame.contains(field)) << field;
      }
    }
    if (site["alloc_count"] == 5 && site["alloc_bytes"] == 500) {
      // via_calloc: innermost first, so via_calloc comes before main.
      found = true;
      std::vector<std::string> functions;
      for (const auto& frame : frames) {
        functions.push_back(frame["function"].is_string() ? frame["function"].get<std::string>()
                                                          : "");
      }
      auto callee = std::find_if(functions.begin(), functions.end(), [](const std::string& f) {
        return f.find("via_calloc") != std::string::npos;
      });
      auto caller = std::find(functions.begin(), functions.end(), "main");
      ASSERT_NE(callee, functions.end());
      ASSERT_NE(caller, functions.end());
      EXPECT_LT(callee, caller);
      EXPECT_NE(site["name"].get<std::string>().find("via_calloc"), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
  CommandResult top = run_command(
      {damon_prof_binary(), "report", recorded_trace(), "--format", "json", "--top", "3"});
  EXPECT_EQ(nlohmann::json::parse(top.out)["sites"].size(), 3u);
}

TEST(Cli, TextReportToAFile) {
  TempDir directory;
  std::string out = directory.file("report.txt");
  CommandResult result = run_command({damon_prof_binary(), "report", recorded_trace(), "-o", out});
  EXPECT_EQ(result.exit_code, 0);
  std::string text = read_file(out);
  EXPECT_NE(text.find("TOP SITES BY PEAK HEAP"), std::string::npos);
  EXPECT_NE(text.find("TOP SITES BY LEAKED BYTES"), std::string::npos);
  EXPECT_NE(text.find("leak_in_thread"), std::string::npos);
  EXPECT_EQ(text.find("\033["), std::string::npos);  // no colour in files
  // Allocation machinery above a site's frame is folded into one line unless asked for.
  CommandResult all = run_command({damon_prof_binary(), "report", recorded_trace(), "--top", "0"});
  EXPECT_NE(all.out.find("more allocation frames; --full-stacks shows them"), std::string::npos);
  EXPECT_EQ(all.out.find("std::vector<void*, std::allocator<void*> >::reserve"), std::string::npos);
  CommandResult full =
      run_command({damon_prof_binary(), "report", recorded_trace(), "--top", "0", "--full-stacks"});
  EXPECT_EQ(full.out.find("more allocation frames"), std::string::npos);
  EXPECT_NE(full.out.find("std::vector<void*, std::allocator<void*> >::reserve"),
            std::string::npos);
}

TEST(Cli, MonitorOptionsAreValidatedBeforeAnythingRuns) {
  TempDir directory;
  std::string program = test_program("crasher");
  struct Case {
    std::vector<std::string> options;
    std::string expected;
  };
  std::vector<Case> cases = {
      {{"--backend", "magic"}, "--backend magic"},
      {{"--sampling", "5"}, "--sampling 5"},
      {{"--sampling", "5ms", "--aggregation", "1ms"}, "--aggregation must be at least --sampling"},
      {{"--max-regions", "5000"}, "--max-regions 5000"},
      {{"--min-regions", "50", "--max-regions", "20"}, "below --min-regions"},
      {{"--overhead", "0%"}, "--overhead 0%"},
      {{"--update", "1h"}, "--update 1h"},
      {{"--sample-rate", "lots"}, "--sample-rate lots"},
      {{"--sample-rate", "2TiB"}, "--sample-rate 2TiB"},
      {{"--unwind", "guess"}, "--unwind guess: expected dwarf or fp"},
  };
  for (const Case& bad : cases) {
    std::vector<std::string> argv = {damon_prof_binary()};
    argv.insert(argv.end(), bad.options.begin(), bad.options.end());
    argv.push_back(program);
    argv.push_back("exit");
    CommandResult result = run_command(argv, {}, directory.path());
    EXPECT_EQ(result.exit_code, 2) << bad.expected;
    EXPECT_EQ(line_count(result.err), 1) << result.err;
    EXPECT_NE(result.err.find(bad.expected), std::string::npos) << result.err;
  }
  EXPECT_TRUE(directory.files_ending_with(".dprof").empty());
}

TEST(Cli, RegionsViewAsJsonAndAsAHeatmap) {
  TempDir directory;
  std::string trace = directory.file("pattern.dprof");
  CommandResult recorded = run_command(
      {damon_prof_binary(), "-q", "-o", trace, "--sampling", "5ms", "--aggregation", "50ms",
       "--overhead", "100%", test_program("access_pattern"), "2", "4", "400", "write", "1,0"});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  CommandResult json_result = run_command({damon_prof_binary(), "report", trace, "--view",
                                           "regions", "--format", "json", "--min-size", "1MiB"});
  ASSERT_EQ(json_result.exit_code, 0) << json_result.err;
  auto regions = nlohmann::json::parse(json_result.out);
  ASSERT_FALSE(regions["monitor"].empty());
  std::string backend = regions["monitor"][0]["backend"];
  ASSERT_TRUE(regions["allocations"].is_array());
  // Only the generator's two 4 MiB buffers are at least 1 MiB; never unmapped.
  ASSERT_EQ(regions["allocations"].size(), 2u);
  for (const auto& allocation : regions["allocations"]) {
    EXPECT_EQ(allocation["size"], 4u << 20);
    EXPECT_TRUE(allocation["free_time_ns"].is_null());
    EXPECT_TRUE(allocation["alloc_time_ns"].is_number_unsigned());
    EXPECT_EQ(allocation["site"], "main");
  }
  if (backend == "none") GTEST_SKIP() << "no monitoring backend on this kernel";
  ASSERT_GE(regions["snapshots"].size(), 3u);
  // The intervals asked for, unless the monitor's measured cost went over the budget's target
  // (exact write tracking of 4 MiB written all over can cost most of a CPU on a loaded VM): then
  // they stretch by powers of two, and the snapshot under way at a retune ends early.
  uint64_t highest_cost_ppm = 0;
  for (const auto& settings : regions["monitor"])
    highest_cost_ppm =
        std::max(highest_cost_ppm, settings["measured_overhead_ppm"].get<uint64_t>());
  for (const auto& snapshot : regions["snapshots"]) {
    uint64_t sampling_ns = snapshot["sampling_ns"];
    uint64_t aggregation_ns = snapshot["aggregation_ns"];
    if (sampling_ns != 5000000u || aggregation_ns != 50000000u) {
      EXPECT_GT(highest_cost_ppm, 800000u) << sampling_ns << " " << aggregation_ns;
      EXPECT_EQ(sampling_ns % 5000000u, 0u);
      EXPECT_LE(aggregation_ns, 10 * sampling_ns);
    }
    ASSERT_FALSE(snapshot["regions"].empty());
    uint64_t previous_end = 0;
    for (const auto& region : snapshot["regions"]) {
      EXPECT_LT(region["start"].get<uint64_t>(), region["end"].get<uint64_t>());
      EXPECT_GE(region["start"].get<uint64_t>(), previous_end);
      // At most one access per sampling interval of the snapshot.
      EXPECT_LE(region["nr_accesses"].get<uint64_t>(),
                (aggregation_ns + sampling_ns - 1) / sampling_ns);
      EXPECT_TRUE(region["age"].is_number_unsigned());
      previous_end = region["end"];
    }
  }
  CommandResult text = run_command({damon_prof_binary(), "report", trace, "--view", "regions"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("access monitor: uffd-wp"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("snapshots"), std::string::npos);
  // Something was written in more than a fifth of a snapshot's intervals, shown darker than the
  // faintest shades. (Not the darkest: on a loaded machine the program, and the monitor, may not
  // run in every 5 ms interval.)
  EXPECT_NE(text.out.find_first_of("-=+*#%@"), std::string::npos) << text.out;
  CommandResult bad_view = run_command({damon_prof_binary(), "report", trace, "--view", "pie"});
  EXPECT_EQ(bad_view.exit_code, 2);
}

TEST(Cli, BackendNoneRecordsThatNothingWasMonitored) {
  TempDir directory;
  std::string trace = directory.file("none.dprof");
  CommandResult recorded = run_command({damon_prof_binary(), "-q", "-o", trace, "--backend", "none",
                                        test_program("crasher"), "exit", "0"});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  CommandResult text = run_command({damon_prof_binary(), "report", trace});
  EXPECT_NE(text.out.find("monitor       none (access monitoring was not asked for"),
            std::string::npos)
      << text.out;
}

// The runtime preloaded by hand cannot refuse a bad access monitor setting (the launcher does:
// Security.TheLauncherRefusesBadEnvironmentValues): it uses the default and notes the problem.
TEST(Cli, InvalidMonitorEnvironmentIsNotedInTheTrace) {
  TempDir directory;
  CommandResult recorded =
      run_command({test_program("crasher"), "exit", "0"},
                  {std::string("LD_PRELOAD=") + DAMON_PROF_RUNTIME_LIBRARY,
                   "DAMON_PROF_OUTPUT_DIR=" + directory.path(), "DAMON_PROF_SAMPLING_NS=soon"});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_EQ(recorded.err, "");  // nothing on the program's stderr
  auto traces = directory.files_ending_with(".dprof");
  ASSERT_EQ(traces.size(), 1u);
  auto report = nlohmann::json::parse(
      run_command({damon_prof_binary(), "report", traces.front(), "--format", "json"}).out);
  bool noted = false;
  for (const auto& warning : report["warnings"]) {
    noted = noted || warning.get<std::string>() ==
                         "DAMON_PROF_SAMPLING_NS=soon: expected nanoseconds from 100000 to "
                         "10000000000";
  }
  EXPECT_TRUE(noted) << report["warnings"].dump();
}

TEST(Cli, LostSampledBlocksAreReported) {
  // A sampled trace whose runtime could not follow two sampled blocks to their release: the text
  // report warns that they count as leaked, and the JSON report carries the count.
  TempDir directory;
  TraceBuilder builder;
  RecordBody process;
  process.u(42).u(1).u(0).u(4096).u(0).str("host").str("/bin/app").str("app").str("test").str("");
  process.u(524288);
  builder.record(DPROF_REC_PROCESS, process);
  EventsBody events(0, 1000, 0);
  events.alloc(2000, 0x10000, 1 << 20, 0);
  builder.record(DPROF_REC_EVENTS, events.body());
  builder.record(DPROF_REC_ALLOCATION_TOTALS, RecordBody().u(3000).u(10).u(4 << 20).u(8).u(2));
  builder.record(DPROF_REC_END, RecordBody().u(4000).u(1).s(0).u(0));
  builder.end_frame();
  std::string trace = directory.file("lost.dprof");
  builder.write(trace);

  CommandResult text = run_command({damon_prof_binary(), "report", trace});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("2 sampled blocks were never followed to their release"),
            std::string::npos)
      << text.out;
  CommandResult json = run_command({damon_prof_binary(), "report", trace, "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto summary = nlohmann::json::parse(json.out)["summary"];
  EXPECT_EQ(summary["lost_sampled_blocks"], 2);
  EXPECT_EQ(summary["allocation_sample_rate"], 524288);
}

// A program that ends before the monitor's first cost window has no measured cost: the report
// says so rather than printing 0% of a CPU.
TEST(Cli, AProgramShorterThanACostWindowHasItsCostUnmeasured) {
  TempDir directory;
  std::string trace = directory.file("short.dprof");
  CommandResult recorded = run_command({damon_prof_binary(), "-q", "-o", trace, "/bin/true"});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  CommandResult report = run_command({damon_prof_binary(), "report", trace});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  if (report.out.find("monitor       none") != std::string::npos) {
    GTEST_SKIP() << "no monitoring backend here";
  }
  EXPECT_NE(report.out.find("cost not measured yet (budget 2.00%)"), std::string::npos)
      << report.out;
}
