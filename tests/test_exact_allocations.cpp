// Runs tests/programs/exact_allocations under damon-prof: every figure of every site must be
// exactly what the program did.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "damon_prof/trace_format.h"
#include "integration_support.h"

using namespace dprof::testing;

namespace {

class ExactAllocations : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new TempDir();
    trace_ = directory_->file("exact.dprof");
    result_ = new CommandResult(
        run_command({damon_prof_binary(), "-o", trace_, test_program("exact_allocations")}));
    analysis_ = new dprof::analyzer::Analysis(analyze_symbolized(trace_));
  }
  static void TearDownTestSuite() {
    delete analysis_;
    delete result_;
    delete directory_;
  }
  static SiteTotals site(const std::string& function) { return totals_for(*analysis_, function); }

  static TempDir* directory_;
  static std::string trace_;
  static CommandResult* result_;
  static dprof::analyzer::Analysis* analysis_;
};

TempDir* ExactAllocations::directory_ = nullptr;
std::string ExactAllocations::trace_;
CommandResult* ExactAllocations::result_ = nullptr;
dprof::analyzer::Analysis* ExactAllocations::analysis_ = nullptr;

}  // namespace

TEST_F(ExactAllocations, ProgramRanNormally) {
  EXPECT_EQ(result_->exit_code, 0) << result_->err;
  EXPECT_EQ(result_->out, "exact_allocations done\n");
  EXPECT_NE(result_->err.find("trace written to"), std::string::npos) << result_->err;
  ASSERT_TRUE(analysis_->end.has_value());
  EXPECT_EQ(analysis_->end->how, static_cast<uint32_t>(DPROF_END_EXIT));
  EXPECT_EQ(analysis_->end->code, 0);
  EXPECT_EQ(analysis_->end->dropped_events, 0u);
  EXPECT_FALSE(analysis_->decode.truncated);
  EXPECT_EQ(analysis_->totals.unmatched_frees, 0u);
  EXPECT_EQ(analysis_->totals.replaced_blocks, 0u);
  EXPECT_TRUE(analysis_->warnings.empty()) << analysis_->warnings.front();
}

TEST_F(ExactAllocations, TraceFileIsPrivate) {
  struct stat status;
  ASSERT_EQ(stat(trace_.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600u);
}

TEST_F(ExactAllocations, MallocAndCalloc) {
  SiteTotals malloc_site = site("via_malloc");
  EXPECT_EQ(malloc_site.alloc_count, 10u);
  EXPECT_EQ(malloc_site.alloc_bytes, 1000u);
  EXPECT_EQ(malloc_site.leaked_bytes, 0u);
  // Freed in allocation order: only the last block was freed with no allocation in between.
  EXPECT_EQ(malloc_site.temporary_count, 1u);
  SiteTotals calloc_site = site("via_calloc");
  EXPECT_EQ(calloc_site.alloc_count, 5u);
  EXPECT_EQ(calloc_site.alloc_bytes, 500u);
  EXPECT_EQ(calloc_site.leaked_count, 0u);
}

TEST_F(ExactAllocations, ReallocChainsCountEachCall) {
  SiteTotals chain = site("via_realloc_chain");
  EXPECT_EQ(chain.sites, 4u);  // four call sites
  EXPECT_EQ(chain.alloc_count, 4u);
  EXPECT_EQ(chain.alloc_bytes, 10u + 20u + 4000u + 100000u);
  EXPECT_EQ(chain.leaked_bytes, 0u);
  SiteTotals array = site("via_reallocarray");
  EXPECT_EQ(array.alloc_count, 2u);  // glibc's reallocarray calls realloc: counted once
  EXPECT_EQ(array.alloc_bytes, 8u * 16 + 16u * 16);
  EXPECT_EQ(array.leaked_bytes, 0u);
}

TEST_F(ExactAllocations, AlignedAllocationFunctions) {
  SiteTotals aligned = site("via_aligned_functions");
  EXPECT_EQ(aligned.alloc_count, 9u);
  EXPECT_EQ(aligned.alloc_bytes, 3u * 300 + 2u * 500 + 2u * 512 + 1000u + 1000u);
  EXPECT_EQ(aligned.leaked_bytes, 0u);
}

TEST_F(ExactAllocations, EveryOperatorNewFormIsAttributedToItsCaller) {
  SiteTotals news = site("via_operator_new");
  EXPECT_EQ(news.alloc_count, 4u + 3u + 2u + 1u);
  EXPECT_EQ(news.alloc_bytes, 4u * 700 + 3u * 48 + 2u * 256 + 90u);
  EXPECT_EQ(news.leaked_bytes, 0u);
  EXPECT_EQ(news.temporary_count, 10u);
  // Failing news threw (through the runtime's operator new) and were caught: only the exception
  // objects were allocated, and freed.
  SiteTotals failing = site("failing_new");
  EXPECT_LE(failing.alloc_count, 2u);
  EXPECT_EQ(failing.leaked_bytes, 0u);
}

TEST_F(ExactAllocations, Temporaries) {
  SiteTotals temporaries = site("make_temporaries");
  EXPECT_EQ(temporaries.alloc_count, 7u);
  EXPECT_EQ(temporaries.alloc_bytes, 231u);
  EXPECT_EQ(temporaries.temporary_count, 7u);
}

TEST_F(ExactAllocations, LeaksFromSeveralThreads) {
  SiteTotals leaks = site("leak_in_thread");
  EXPECT_EQ(leaks.alloc_count, 12u);
  EXPECT_EQ(leaks.alloc_bytes, 12000u);
  EXPECT_EQ(leaks.leaked_bytes, 12000u);
  EXPECT_EQ(leaks.leaked_count, 12u);
  // The global peak came earlier, at the 100000-byte realloc: these blocks were not live then.
  EXPECT_EQ(leaks.peak_bytes, 0u);
  EXPECT_EQ(site("via_realloc_chain").peak_bytes, 100000u);
  EXPECT_GE(analysis_->thread_count, 5u);
}

TEST_F(ExactAllocations, AnonymousMappingsAndPartialUnmaps) {
  long page = sysconf(_SC_PAGESIZE);
  SiteTotals maps = site("via_mmap");
  EXPECT_EQ(maps.alloc_count, 2u);
  EXPECT_EQ(maps.mmap_count, 2u);
  EXPECT_EQ(maps.alloc_bytes, static_cast<uint64_t>(12 * page));
  EXPECT_EQ(maps.leaked_bytes, static_cast<uint64_t>(2 * page));
  EXPECT_EQ(maps.leaked_count, 1u);
}

TEST_F(ExactAllocations, FreedInAnAtexitHandlerIsNotALeak) {
  SiteTotals at_exit = site("allocate_freed_at_exit");
  EXPECT_EQ(at_exit.alloc_count, 6u + 2u);  // the blocks, the vector and its storage
  EXPECT_EQ(at_exit.alloc_bytes, 6ull * 64 + sizeof(std::vector<void*>) + 6 * sizeof(void*));
  EXPECT_EQ(at_exit.leaked_bytes, 0u);
}

TEST_F(ExactAllocations, SitesAddUpToTheTotals) {
  uint64_t count = 0;
  uint64_t bytes = 0;
  uint64_t leaked = 0;
  uint64_t at_peak = 0;
  for (const auto& one : analysis_->sites) {
    count += one.alloc_count;
    bytes += one.alloc_bytes;
    leaked += one.leaked_bytes;
    at_peak += one.peak_bytes;
  }
  EXPECT_EQ(count, analysis_->totals.alloc_count);
  EXPECT_EQ(bytes, analysis_->totals.alloc_bytes);
  EXPECT_EQ(leaked, analysis_->totals.live_bytes);
  EXPECT_EQ(at_peak, analysis_->totals.peak_bytes);
}

TEST_F(ExactAllocations, StacksAreSymbolizedInnermostFirst) {
  for (const auto& one : analysis_->sites) {
    if (one.frames.empty() ||
        one.frames[one.name_frame].function.find("via_calloc") == std::string::npos) {
      continue;
    }
    const auto& named = one.frames[one.name_frame];
    EXPECT_NE(named.file.find("exact_allocations.cpp"), std::string::npos);
    EXPECT_GT(named.line, 0u);
    // The caller of via_calloc is main, further out.
    bool main_after = false;
    for (size_t i = one.name_frame + 1; i < one.frames.size(); ++i) {
      if (one.frames[i].function == "main") main_after = true;
    }
    EXPECT_TRUE(main_after);
    // The runtime's own frames never show.
    for (const auto& frame : one.frames) {
      EXPECT_EQ(frame.module.find("libdamon_prof"), std::string::npos) << frame.function;
    }
  }
}

// The same program with its debug information in a separate file named by .gnu_debuglink (and not
// under /usr/lib/debug/.build-id): its sites still get files and lines.
TEST(SplitDebugInfo, FoundThroughTheDebugLink) {
  std::string program = test_program("split_debug/exact_allocations");
  ASSERT_TRUE(file_exists(program + ".debug"));
  TempDir directory;
  std::string trace = directory.file("split.dprof");
  CommandResult result = run_command({damon_prof_binary(), "-q", "-o", trace, program});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  dprof::analyzer::Analysis analysis = analyze_symbolized(trace);
  bool found = false;
  for (const auto& one : analysis.sites) {
    if (one.frames.empty() ||
        one.frames[one.name_frame].function.find("via_calloc") == std::string::npos) {
      continue;
    }
    found = true;
    EXPECT_NE(one.frames[one.name_frame].file.find("exact_allocations.cpp"), std::string::npos);
    EXPECT_GT(one.frames[one.name_frame].line, 0u);
  }
  EXPECT_TRUE(found);
}

// Its compressed debug file is inflated by the first report and kept in the cache
// (analyzer/debug_file_cache.h); later reports read the copy and say the same. A damaged entry is
// not trusted: the report is still the same and the entry is made again.
TEST(SplitDebugInfo, InflatedOnceThenReadFromTheCache) {
  std::string program = test_program("split_debug/exact_allocations");
  TempDir directory;
  TempDir cache;
  std::string trace = directory.file("split.dprof");
  CommandResult recorded = run_command({damon_prof_binary(), "-q", "-o", trace, program});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  auto report = [&](const std::string& cache_dir) {
    CommandResult result = run_command({damon_prof_binary(), "report", trace, "--top", "50"},
                                       {"DAMON_PROF_CACHE_DIR=" + cache_dir});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out;
  };
  std::string uncached = report("");
  EXPECT_NE(uncached.find("exact_allocations.cpp"), std::string::npos) << uncached;
  std::string entries = cache.path() + "/debuginfo-v1";
  EXPECT_FALSE(file_exists(entries));  // turned off: nothing written
  EXPECT_EQ(report(cache.path()), uncached);
  // The split debug file's entry, named by its build-id.
  std::string build_id =
      run_command({"sh", "-c", "readelf -n '" + program + ".debug' | sed -n 's/.*Build ID: //p'"})
          .out;
  ASSERT_GT(build_id.size(), 8u);
  build_id.pop_back();  // the newline
  std::string entry = run_command({"sh", "-c", "ls " + entries + "/" + build_id + "-*"}).out;
  ASSERT_FALSE(entry.empty()) << run_command({"ls", "-la", entries}).out;
  entry.pop_back();
  std::string stored = read_file(entry);
  EXPECT_EQ(report(cache.path()), uncached);
  EXPECT_EQ(read_file(entry), stored);  // read, not made again
  ASSERT_EQ(truncate(entry.c_str(), 64), 0);
  EXPECT_EQ(report(cache.path()), uncached);
  EXPECT_EQ(read_file(entry), stored);
}
