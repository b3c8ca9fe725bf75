// The DAMON rules of the monitor core, driven deterministically: targets, split, merge, age, and
// adaptation to a known access pattern through a fake backend.
#include <gtest/gtest.h>

#include <vector>

#include "monitor/monitor_core.h"

using dprof::monitor::AddressRange;
using dprof::monitor::CoreSettings;
using dprof::monitor::MonitorCore;
using dprof::monitor::Region;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kBase = 0x7f0000000000ull;

void expect_well_formed(const MonitorCore& core, const std::vector<AddressRange>& targets) {
  uint64_t covered = 0;
  for (size_t i = 0; i < core.count(); ++i) {
    const Region& region = core.regions()[i];
    ASSERT_LT(region.start, region.end);
    ASSERT_EQ(region.start % kPage, 0u);
    ASSERT_EQ(region.end % kPage, 0u);
    if (i > 0) {
      ASSERT_LE(core.regions()[i - 1].end, region.start);
    }
    bool inside = false;
    for (const AddressRange& target : targets) {
      inside = inside || (region.start >= target.start && region.end <= target.end);
    }
    ASSERT_TRUE(inside) << std::hex << region.start;
    covered += region.size();
  }
  uint64_t wanted = 0;
  for (const AddressRange& target : targets) wanted += target.end - target.start;
  EXPECT_EQ(covered, wanted);
}

// Accessed pages: every sampling interval, a region counts an access when its sampled page lies
// in one of these ranges (what a real backend would observe for a program touching them).
struct FakeAccessPattern {
  std::vector<AddressRange> hot;
  void check(MonitorCore& core) const {
    for (size_t i = 0; i < core.count(); ++i) {
      Region& region = core.regions()[i];
      for (const AddressRange& range : hot) {
        if (region.sampling_address >= range.start && region.sampling_address < range.end) {
          ++region.nr_accesses;
          break;
        }
      }
    }
  }
};

void run_aggregation(MonitorCore& core, const FakeAccessPattern& pattern, int samples) {
  for (int sample = 0; sample < samples; ++sample) {
    core.choose_sampling_addresses();
    pattern.check(core);
  }
  core.merge_regions();
}

}  // namespace

TEST(MonitorCore, TargetsAreCoveredAndSplitToTheMinimum) {
  CoreSettings settings;
  settings.min_nr_regions = 10;
  settings.max_nr_regions = 100;
  MonitorCore core(settings, 1);
  std::vector<AddressRange> targets = {{kBase, kBase + 1024 * kPage},
                                       {kBase + 2048 * kPage, kBase + 2052 * kPage}};
  ASSERT_TRUE(core.set_targets(targets.data(), targets.size()));
  EXPECT_GE(core.count(), 10u);
  expect_well_formed(core, targets);
}

TEST(MonitorCore, NewTargetsKeepWhatIsKnownAndTrimTheRest) {
  CoreSettings settings;
  settings.min_nr_regions = 4;
  MonitorCore core(settings, 2);
  std::vector<AddressRange> first = {{kBase, kBase + 400 * kPage}};
  core.set_targets(first.data(), first.size());
  for (size_t i = 0; i < core.count(); ++i) {
    core.regions()[i].age = 7;
    core.regions()[i].nr_accesses = 3;
  }
  // The first 100 pages go away, 200 new pages follow, and a separate range appears.
  std::vector<AddressRange> second = {{kBase + 100 * kPage, kBase + 600 * kPage},
                                      {kBase + 1000 * kPage, kBase + 1010 * kPage}};
  core.set_targets(second.data(), second.size());
  expect_well_formed(core, second);
  for (size_t i = 0; i < core.count(); ++i) {
    const Region& region = core.regions()[i];
    bool was_known = region.end <= kBase + 400 * kPage;
    EXPECT_EQ(region.age, was_known ? 7u : 0u) << i;
    EXPECT_EQ(region.nr_accesses, was_known ? 3u : 0u) << i;
  }
  // Everything can go.
  core.set_targets(nullptr, 0);
  EXPECT_EQ(core.count(), 0u);
}

TEST(MonitorCore, MergesNeighboursWithSimilarCountsButNotAcrossGaps) {
  CoreSettings settings;
  settings.min_nr_regions = 1;
  settings.max_nr_regions = 100;
  // Four adjacent 10-page regions (adjacent targets become adjacent regions), then a gap and a
  // fifth region.
  std::vector<AddressRange> pieces;
  for (uint64_t i = 0; i < 4; ++i) {
    pieces.push_back({kBase + i * 10 * kPage, kBase + (i + 1) * 10 * kPage});
  }
  pieces.push_back({kBase + 50 * kPage, kBase + 60 * kPage});
  MonitorCore core(settings, 3);
  core.set_targets(pieces.data(), pieces.size());
  ASSERT_EQ(core.count(), 5u);
  uint32_t counts[] = {20, 21, 50, 50, 20};
  for (size_t i = 0; i < 5; ++i) {
    core.regions()[i].nr_accesses = counts[i];
    core.regions()[i].last_nr_accesses = counts[i];
  }
  // threshold = max(50) / 10 = 5: 20~21 merge, 50~50 merge, 21 vs 50 do not; the gap keeps the
  // last region apart even though its count matches its neighbour's.
  core.merge_regions();
  ASSERT_EQ(core.count(), 3u);
  EXPECT_EQ(core.regions()[0].end, kBase + 20 * kPage);
  EXPECT_EQ(core.regions()[0].nr_accesses, 20u);  // size-weighted (20 + 21) / 2, rounded down
  EXPECT_EQ(core.regions()[1].start, kBase + 20 * kPage);
  EXPECT_EQ(core.regions()[1].nr_accesses, 50u);
  EXPECT_EQ(core.regions()[2].start, kBase + 50 * kPage);
  // The size limit (total / min_nr_regions) keeps regions apart however similar they are.
  MonitorCore limited(CoreSettings{5, 100, kPage}, 3);
  limited.set_targets(pieces.data(), pieces.size());
  for (size_t i = 0; i < 5; ++i) limited.regions()[i].nr_accesses = 20;
  limited.merge_regions();
  EXPECT_EQ(limited.count(), 5u);
}

TEST(MonitorCore, AgeGrowsWhileCountsHoldAndResetsWhenTheyChange) {
  CoreSettings settings;
  settings.min_nr_regions = 2;
  settings.max_nr_regions = 2;  // no splitting: keep two regions to watch
  MonitorCore core(settings, 4);
  std::vector<AddressRange> targets = {{kBase, kBase + 2 * kPage}};
  core.set_targets(targets.data(), targets.size());
  ASSERT_EQ(core.count(), 2u);
  for (int interval = 0; interval < 5; ++interval) {
    core.regions()[0].nr_accesses = 10;
    core.regions()[1].nr_accesses = interval == 4 ? 0 : 40;
    core.merge_regions();
    if (interval < 4) core.reset_and_split();
  }
  ASSERT_EQ(core.count(), 2u);
  // The first interval differs from the zero before it; the next four match.
  EXPECT_EQ(core.regions()[0].age, 4u);
  EXPECT_EQ(core.regions()[1].age, 0u);  // 40 -> 0 is more than the threshold (4)
}

TEST(MonitorCore, SplitsOnlyWhileAtMostHalfTheMaximumAndNeverBelowAPage) {
  CoreSettings settings;
  settings.min_nr_regions = 1;
  settings.max_nr_regions = 40;
  MonitorCore core(settings, 5);
  std::vector<AddressRange> targets = {{kBase, kBase + 64 * kPage}};
  core.set_targets(targets.data(), targets.size());
  ASSERT_EQ(core.count(), 1u);
  core.regions()[0].age = 9;
  core.reset_and_split();
  EXPECT_EQ(core.count(), 2u);
  for (size_t i = 0; i < core.count(); ++i) EXPECT_EQ(core.regions()[i].age, 9u);
  // The count did not change since the last split and is below a third: three pieces each.
  size_t before = core.count();
  core.reset_and_split();
  EXPECT_GT(core.count(), before);
  for (int round = 0; round < 10; ++round) core.reset_and_split();
  // Splitting stops above max/2 (a split at <= 20 regions can give at most 60, but never below
  // a page each).
  EXPECT_LE(core.count(), 64u);
  size_t settled = core.count();
  EXPECT_GT(settled, 20u);
  core.reset_and_split();
  EXPECT_EQ(core.count(), settled);
  expect_well_formed(core, targets);
}

namespace {

// 32 adjacent one-page targets: 32 regions, with the access counts `count_of(i)`.
template <typename CountOf>
void set_32_one_page_regions(MonitorCore& core, CountOf count_of) {
  std::vector<AddressRange> targets;
  for (uint64_t i = 0; i < 32; ++i) targets.push_back({kBase + i * kPage, kBase + (i + 1) * kPage});
  core.set_targets(targets.data(), targets.size());
  ASSERT_EQ(core.count(), 32u);
  for (size_t i = 0; i < 32; ++i) core.regions()[i].nr_accesses = count_of(i);
}

}  // namespace

TEST(MonitorCore, MergesDownToTheMaximum) {
  CoreSettings settings;
  settings.min_nr_regions = 1;
  settings.max_nr_regions = 8;
  MonitorCore core(settings, 6);
  set_32_one_page_regions(core, [](size_t i) { return static_cast<uint32_t>(i); });
  core.merge_regions();
  EXPECT_LE(core.count(), 8u);
  std::vector<AddressRange> whole = {{kBase, kBase + 32 * kPage}};
  expect_well_formed(core, whole);
}

TEST(MonitorCore, ALowerLimitMergesAtOnce) {
  // The tuner cuts the regions to cut its cost now, not at the end of the aggregation interval.
  CoreSettings settings;
  settings.min_nr_regions = 1;
  settings.max_nr_regions = 64;
  MonitorCore core(settings, 7);
  set_32_one_page_regions(core, [](size_t i) { return static_cast<uint32_t>(i % 4); });
  core.set_region_limits(1, 8);
  EXPECT_LE(core.count(), 8u);
  std::vector<AddressRange> whole = {{kBase, kBase + 32 * kPage}};
  expect_well_formed(core, whole);
  for (size_t i = 0; i < core.count(); ++i) EXPECT_EQ(core.regions()[i].age, 0u);  // not aged
  core.set_region_limits(1, 64);  // a higher one changes nothing until the next split
  EXPECT_LE(core.count(), 8u);
}

TEST(MonitorCore, SameSeedSameRegions) {
  CoreSettings settings;
  std::vector<AddressRange> targets = {{kBase, kBase + 4096 * kPage}};
  FakeAccessPattern pattern{{{kBase + 1000 * kPage, kBase + 1100 * kPage}}};
  auto run = [&](uint64_t seed) {
    MonitorCore core(settings, seed);
    core.set_targets(targets.data(), targets.size());
    for (int interval = 0; interval < 10; ++interval) {
      run_aggregation(core, pattern, 20);
      core.reset_and_split();
    }
    std::vector<uint64_t> bounds;
    for (size_t i = 0; i < core.count(); ++i) bounds.push_back(core.regions()[i].start);
    return bounds;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(MonitorCore, RegionsConvergeOnAHotRange) {
  CoreSettings settings;
  settings.min_nr_regions = 10;
  settings.max_nr_regions = 200;
  MonitorCore core(settings, 7);
  // 64 MiB of target, of which 4 MiB in the middle is touched on every sample.
  std::vector<AddressRange> targets = {{kBase, kBase + 16384 * kPage}};
  AddressRange hot = {kBase + 6000 * kPage, kBase + 7024 * kPage};
  FakeAccessPattern pattern{{hot}};
  core.set_targets(targets.data(), targets.size());
  constexpr int kSamples = 20;
  uint64_t misclassified = 0;
  for (int interval = 0; interval < 30; ++interval) {
    run_aggregation(core, pattern, kSamples);
    if (interval == 29) {
      // After warm-up the regions say which bytes are hot: count bytes put on the wrong side.
      for (size_t i = 0; i < core.count(); ++i) {
        const Region& region = core.regions()[i];
        bool called_hot = region.nr_accesses > kSamples / 2;
        uint64_t overlap_start = region.start > hot.start ? region.start : hot.start;
        uint64_t overlap_end = region.end < hot.end ? region.end : hot.end;
        uint64_t hot_bytes = overlap_end > overlap_start ? overlap_end - overlap_start : 0;
        misclassified += called_hot ? region.size() - hot_bytes : hot_bytes;
      }
    }
    core.reset_and_split();
  }
  EXPECT_LT(misclassified, (hot.end - hot.start) / 4) << misclassified / kPage << " pages wrong";
  EXPECT_LE(core.count(), settings.max_nr_regions);
}

TEST(MonitorCore, ASampledPageMovesOnlyByChanceOrWhenItLeavesItsRegion) {
  using dprof::monitor::kSampleMoveOdds;
  using dprof::monitor::sample_moves;
  Region region{};
  region.start = kBase;
  region.end = kBase + 16 * kPage;
  region.sampling_address = kBase + 4 * kPage;
  region.sample_intervals = 3;
  struct Row {
    const char* what;
    uint64_t address;
    uint32_t intervals;
    uint64_t draw;
    bool moves;
  };
  const Row rows[] = {
      {"kept by the draw", kBase + 4 * kPage, 3, 1, false},
      {"moved by the draw", kBase + 4 * kPage, 3, kSampleMoveOdds, true},
      {"a placeholder always moves", kBase + 4 * kPage, 0, 1, true},
      {"left outside by a split", kBase + 16 * kPage, 3, 1, true},
      {"below the region", kBase - kPage, 3, 1, true},
  };
  for (const Row& row : rows) {
    region.sampling_address = row.address;
    region.sample_intervals = row.intervals;
    EXPECT_EQ(sample_moves(region, kPage, row.draw), row.moves) << row.what;
  }
}

TEST(MonitorCore, SampledPagesStayWithTheRegionsThatHoldThem) {
  CoreSettings settings;
  settings.min_nr_regions = 4;
  settings.max_nr_regions = 64;
  MonitorCore core(settings, 11);
  std::vector<AddressRange> targets = {{kBase, kBase + 1024 * kPage}};
  core.set_targets(targets.data(), targets.size());
  core.choose_sampling_addresses();
  std::vector<uint64_t> first;
  for (size_t i = 0; i < core.count(); ++i) first.push_back(core.regions()[i].sampling_address);
  // Over many intervals about one page in kSampleMoveOdds moves each time.
  size_t kept = 0;
  size_t chances = 0;
  for (int interval = 0; interval < 200; ++interval) {
    std::vector<uint64_t> before;
    for (size_t i = 0; i < core.count(); ++i) before.push_back(core.regions()[i].sampling_address);
    core.choose_sampling_addresses();
    for (size_t i = 0; i < core.count(); ++i) {
      const Region& region = core.regions()[i];
      EXPECT_GE(region.sampling_address, region.start);
      EXPECT_LT(region.sampling_address, region.end);
      kept += region.sample_kept() ? 1 : 0;
      ++chances;
      if (region.sample_kept()) {
        EXPECT_EQ(region.sampling_address, before[i]);
      }
    }
  }
  double kept_share = static_cast<double>(kept) / static_cast<double>(chances);
  EXPECT_NEAR(kept_share, 1.0 - 1.0 / static_cast<double>(dprof::monitor::kSampleMoveOdds), 0.05);
  // A split: the part holding a region's page keeps it (still kept); the others start afresh.
  core.merge_regions();
  core.reset_and_split();
  core.choose_sampling_addresses();
  for (size_t i = 0; i < core.count(); ++i) {
    const Region& region = core.regions()[i];
    EXPECT_GE(region.sampling_address, region.start);
    EXPECT_LT(region.sampling_address, region.end);
  }
}

TEST(MonitorCore, ANewLargeBlockStartsAsARegionOfItsOwn) {
  CoreSettings settings;
  settings.min_nr_regions = 1;
  settings.max_nr_regions = 100;
  MonitorCore core(settings, 5);
  // One target holding two large blocks back to back: the kernel's DAMON would see one range.
  const uint64_t edges[] = {kBase + 100 * kPage, kBase + 300 * kPage, kBase + 700 * kPage};
  ASSERT_TRUE(core.set_boundaries(edges, 3));
  std::vector<AddressRange> targets = {{kBase, kBase + 1024 * kPage}};
  core.set_targets(targets.data(), targets.size());
  std::vector<uint64_t> starts;
  for (size_t i = 0; i < core.count(); ++i) starts.push_back(core.regions()[i].start);
  EXPECT_EQ(starts, (std::vector<uint64_t>{kBase, edges[0], edges[1], edges[2]}));
  expect_well_formed(core, targets);
  // Edges already known cut nothing more when the targets are looked up again.
  core.merge_regions();  // young regions: nothing merges across an edge
  EXPECT_EQ(core.count(), 4u);
  ASSERT_TRUE(core.set_boundaries(edges, 3));
  core.set_targets(targets.data(), targets.size());
  EXPECT_EQ(core.count(), 4u);
}

TEST(MonitorCore, AnEdgeHoldsRegionsApartUntilTheyAgreedForAWhileAndComesBackAtASplit) {
  CoreSettings settings;
  settings.min_nr_regions = 1;
  settings.max_nr_regions = 3;
  MonitorCore core(settings, 9);
  const uint64_t edges[] = {kBase + 512 * kPage};
  ASSERT_TRUE(core.set_boundaries(edges, 1));
  // Two targets apart (their regions never merge): with the edge cut, three regions.
  std::vector<AddressRange> targets = {{kBase - 2048 * kPage, kBase - 1024 * kPage},
                                       {kBase, kBase + 1024 * kPage}};
  core.set_targets(targets.data(), targets.size());
  ASSERT_EQ(core.count(), 3u);
  // All idle: the two sides of the edge merge only once both are kBoundaryMergeAge intervals old.
  uint32_t merged_after = 0;
  for (uint32_t interval = 1; interval <= 10 && merged_after == 0; ++interval) {
    core.merge_regions();
    bool apart = false;
    for (size_t i = 0; i < core.count(); ++i) apart |= core.regions()[i].start == edges[0];
    if (!apart) merged_after = interval;
    core.reset_and_split();
    if (!apart) {
      // Two regions are more than half the maximum: the kernel's rule splits nothing now, but
      // the edge is cut again.
      bool cut = false;
      for (size_t i = 0; i < core.count(); ++i) cut |= core.regions()[i].start == edges[0];
      EXPECT_TRUE(cut);
      EXPECT_EQ(core.count(), 3u);
    }
  }
  EXPECT_EQ(merged_after, dprof::monitor::kBoundaryMergeAge);
}
