// Hot and idle attribution: regions joined to the blocks live in them, split by overlap.
#include <gtest/gtest.h>

#include "analysis.h"
#include "attribution.h"
#include "damon_prof/trace_format.h"

using namespace dprof::analyzer;

namespace {

constexpr uint64_t kSecond = 1'000'000'000;

Event alloc(uint64_t time, uint64_t address, uint64_t size, uint64_t stack) {
  Event event;
  event.kind = EventKind::kAlloc;
  event.time_ns = time;
  event.address = address;
  event.size = size;
  event.stack_id = stack;
  return event;
}

Event release(uint64_t time, uint64_t address) {
  Event event;
  event.kind = EventKind::kFree;
  event.time_ns = time;
  event.address = address;
  return event;
}

Event mapping(EventKind kind, uint64_t time, uint64_t address, uint64_t size, uint64_t stack,
              uint8_t function) {
  Event event;
  event.kind = kind;
  event.time_ns = time;
  event.address = address;
  event.size = size;
  event.stack_id = stack;
  event.prot = 3;
  event.function = function;
  return event;
}

// One region per (start, end, nr_accesses, age); one second of aggregation, 10 samples.
RegionSnapshot snapshot(uint64_t time, std::vector<SnapshotRegion> regions) {
  RegionSnapshot result;
  result.time_ns = time;
  result.aggregation_ns = kSecond;
  result.sampling_ns = kSecond / 10;
  result.regions = std::move(regions);
  return result;
}

SnapshotRegion region(uint64_t start, uint64_t end, uint64_t nr_accesses, uint64_t age = 0) {
  SnapshotRegion result;
  result.start = start;
  result.end = end;
  result.nr_accesses = nr_accesses;
  result.age = age;
  return result;
}

}  // namespace

TEST(Attribution, SplitsARegionAmongItsBlocksByOverlap) {
  HeapModel heap;
  AccessAttribution attribution(heap, kSecond);
  heap.apply(alloc(0, 0x10000, 2048, 1));
  heap.apply(alloc(0, 0x10800, 6144, 2));
  heap.apply(alloc(0, 0x20000, 4096, 3));  // outside every region
  SnapshotTotals totals =
      attribution.on_snapshot(snapshot(kSecond, {region(0x10000, 0x12000, 10)}));
  EXPECT_EQ(totals.monitored_bytes, 8192u);
  EXPECT_EQ(totals.working_set_bytes, 8192u);
  const auto& stacks = attribution.stacks();
  EXPECT_DOUBLE_EQ(stacks.at(1).hot_byte_seconds, 2048.0);
  EXPECT_DOUBLE_EQ(stacks.at(2).hot_byte_seconds, 6144.0);
  EXPECT_EQ(stacks.count(3), 0u);
  // Every sample saw an access: no sampling uncertainty.
  EXPECT_DOUBLE_EQ(stacks.at(1).hot_byte_seconds_stderr(), 0.0);
  // Half the samples: half as hot, and now uncertain.
  attribution.on_snapshot(snapshot(2 * kSecond, {region(0x10000, 0x12000, 5)}));
  EXPECT_DOUBLE_EQ(stacks.at(1).hot_byte_seconds, 2048.0 + 1024.0);
  EXPECT_GT(stacks.at(1).hot_byte_seconds_stderr(), 0.0);
  EXPECT_DOUBLE_EQ(stacks.at(2).observed_byte_seconds, 2 * 6144.0);
}

TEST(Attribution, ABlockCountsOnlyForTheTimeItLived) {
  HeapModel heap;
  AccessAttribution attribution(heap, kSecond);
  heap.apply(alloc(kSecond / 2, 0x10000, 4096, 1));  // half of the interval
  attribution.on_snapshot(snapshot(kSecond, {region(0x10000, 0x11000, 10)}));
  EXPECT_DOUBLE_EQ(attribution.stacks().at(1).hot_byte_seconds, 2048.0);
}

TEST(Attribution, IdleNeedsTheRegionAndTheBlockIdleForTheThreshold) {
  HeapModel heap;
  AccessAttribution attribution(heap, kSecond);
  heap.apply(alloc(0, 0x10000, 4096, 1));
  heap.apply(alloc(0, 0x20000, 4096, 2));
  heap.apply(alloc(9 * kSecond / 2, 0x30000, 4096, 3));  // young block in an old idle region
  // Region ages count aggregation intervals after the first: age 0 is one interval (1 s) idle.
  SnapshotTotals totals = attribution.on_snapshot(
      snapshot(5 * kSecond, {region(0x10000, 0x11000, 0, 4), region(0x20000, 0x21000, 3, 4),
                             region(0x30000, 0x31000, 0, 9)}));
  EXPECT_EQ(totals.idle_bytes, 8192u);  // regions: the first and the third
  const auto& stacks = attribution.stacks();
  EXPECT_EQ(stacks.at(1).idle_bytes_peak, 4096u);
  EXPECT_DOUBLE_EQ(stacks.at(1).idle_byte_seconds, 4096.0);
  EXPECT_EQ(stacks.at(2).idle_bytes_peak, 0u);
  EXPECT_EQ(stacks.at(3).idle_bytes_peak, 0u);  // lived half a second: not idle for a second yet

  HeapModel stricter_heap;
  AccessAttribution stricter(stricter_heap, 3 * kSecond);
  stricter_heap.apply(alloc(0, 0x10000, 4096, 1));
  stricter.on_snapshot(snapshot(5 * kSecond, {region(0x10000, 0x11000, 0, 1)}));  // 2 s idle
  EXPECT_EQ(stricter.stacks().at(1).idle_bytes_peak, 0u);
}

TEST(Attribution, NeverTouchedCountsObservedBlocksWithNoAccess) {
  HeapModel heap;
  AccessAttribution attribution(heap, kSecond);
  heap.apply(alloc(0, 0x10000, 4096, 1));  // observed, never accessed
  heap.apply(alloc(0, 0x20000, 4096, 2));  // observed, accessed once
  heap.apply(alloc(0, 0x30000, 100, 3));   // freed before any snapshot: unknown
  heap.apply(release(10, 0x30000));
  attribution.on_snapshot(
      snapshot(kSecond, {region(0x10000, 0x11000, 0), region(0x20000, 0x21000, 0)}));
  attribution.on_snapshot(
      snapshot(2 * kSecond, {region(0x10000, 0x11000, 0), region(0x20000, 0x21000, 1)}));
  heap.apply(release(3 * kSecond, 0x10000));
  attribution.finish();  // 0x20000 still live at the end
  const auto& stacks = attribution.stacks();
  EXPECT_EQ(stacks.at(1).never_touched_bytes, 4096u);
  EXPECT_EQ(stacks.at(1).never_touched_count, 1u);
  EXPECT_EQ(stacks.at(2).never_touched_bytes, 0u);
  EXPECT_EQ(stacks.at(2).observed_blocks, 1u);
  EXPECT_EQ(stacks.count(3), 0u);
}

TEST(Attribution, AccessSamplesTouchTheirBlockAndNameTheInstruction) {
  HeapModel heap;
  AccessAttribution attribution(heap, kSecond);
  heap.apply(alloc(0, 0x10000, 3 * 4096, 7));
  attribution.on_snapshot(snapshot(kSecond, {region(0x10000, 0x13000, 0)}));
  AccessSample sample;
  sample.time_ns = kSecond + 1;
  sample.page = 0x11000;
  sample.pc = 0x401234;
  sample.code = {0x8b, 0x07};
  attribution.on_access_sample(sample);
  sample.page = 0x90000;  // nobody's
  sample.is_write = true;
  attribution.on_access_sample(sample);
  attribution.finish();
  const auto& stacks = attribution.stacks();
  EXPECT_EQ(stacks.at(7).read_samples, 1u);
  EXPECT_EQ(stacks.at(7).never_touched_bytes, 0u);  // the sample touched it
  EXPECT_EQ(attribution.access_sites().at(AccessSiteKey{0x401234, 7}).reads, 1u);
  EXPECT_EQ(attribution.access_sites().at(AccessSiteKey{0x401234, 0}).writes, 1u);
  EXPECT_EQ(attribution.instruction_bytes().at(0x401234).size(), 2u);
}

// Small blocks share pages: the fault's address names the one touched.
TEST(Attribution, AnAccessSampleCreditsTheSmallBlockItsAddressLiesIn) {
  HeapModel heap;
  AccessAttribution attribution(heap, kSecond);
  heap.apply(alloc(0, 0x20000, 48, 1));
  heap.apply(alloc(0, 0x20030, 48, 2));
  heap.apply(alloc(0, 0x20060, 48, 1));
  attribution.on_snapshot(snapshot(kSecond, {region(0x20000, 0x21000, 0)}));
  AccessSample sample;
  sample.time_ns = kSecond + 1;
  sample.page = 0x20000;
  sample.address = 0x20030 + 47;  // the last byte of stack 2's block
  sample.pc = 0x401234;
  attribution.on_access_sample(sample);
  sample.address = 0x20090;  // past every block: the allocator's
  attribution.on_access_sample(sample);
  attribution.finish();
  const auto& stacks = attribution.stacks();
  EXPECT_EQ(stacks.at(2).read_samples, 1u);
  EXPECT_EQ(stacks.at(1).read_samples, 0u);
  EXPECT_EQ(stacks.at(2).never_touched_bytes, 0u);
  EXPECT_EQ(stacks.at(1).never_touched_bytes, 96u);
  EXPECT_EQ(attribution.access_sites().at(AccessSiteKey{0x401234, 0}).reads, 1u);
}

// Two sites' blocks interleaved in one accessed region: the access samples all name stack 1, so
// stack 1 gets the region's frequency, stack 2 a small share, and once the samples have said so
// for as long as the idle threshold, stack 2's bytes are idle and never touched.
TEST(Attribution, SamplesSplitARegionBetweenTheSitesTheyName) {
  HeapModel heap;
  AccessAttribution attribution(heap, kSecond);
  for (uint64_t i = 0; i < 64; ++i) heap.apply(alloc(0, 0x30000 + i * 64, 64, 1 + i % 2));
  for (uint64_t second = 1; second <= 3; ++second) {
    for (uint64_t i = 0; i < 10; ++i) {
      AccessSample sample;
      sample.time_ns = second * kSecond - 1000 + i;
      sample.page = 0x30000;
      sample.address = 0x30000 + (i % 4) * 128 + 8;  // always an even (stack 1) block
      attribution.on_access_sample(sample);
    }
    attribution.on_snapshot(snapshot(second * kSecond, {region(0x30000, 0x31000, 10)}));
  }
  attribution.finish();
  const auto& stacks = attribution.stacks();
  const AccessMetrics& read = stacks.at(1);
  const AccessMetrics& untouched = stacks.at(2);
  EXPECT_GT(read.hot_byte_seconds, 8 * untouched.hot_byte_seconds);
  EXPECT_DOUBLE_EQ(read.hot_byte_seconds, 3 * 2048.0 * 1.0);
  EXPECT_EQ(untouched.idle_bytes_peak, 2048u);
  EXPECT_EQ(read.idle_bytes_peak, 0u);
  EXPECT_EQ(untouched.never_touched_bytes, 2048u);
  EXPECT_EQ(read.never_touched_bytes, 0u);
}

TEST(Attribution, SilenceAddsUpOverShortSnapshotsAndIdlenessOverTheirTime) {
  // Snapshots of 250 ms with two samples each, all naming the even (stack 1) blocks: no single
  // snapshot holds evidence enough that stack 2 was not touched (one sample expected), three do.
  // From then on (that snapshot included) its blocks are quiet, and idle once quiet for the
  // threshold (four snapshots).
  HeapModel heap;
  AccessAttribution attribution(heap, kSecond);
  for (uint64_t i = 0; i < 64; ++i) heap.apply(alloc(0, 0x30000 + i * 64, 64, 1 + i % 2));
  constexpr uint64_t kQuarter = kSecond / 4;
  std::vector<uint64_t> idle_by_snapshot;
  for (uint64_t quarter = 1; quarter <= 12; ++quarter) {
    for (uint64_t i = 0; i < 2; ++i) {
      AccessSample sample;
      sample.time_ns = quarter * kQuarter - 1000 + i;
      sample.page = 0x30000;
      sample.address = 0x30000 + i * 128 + 8;
      attribution.on_access_sample(sample);
    }
    RegionSnapshot quarter_snapshot = snapshot(quarter * kQuarter, {region(0x30000, 0x31000, 10)});
    quarter_snapshot.aggregation_ns = kQuarter;
    quarter_snapshot.sampling_ns = kQuarter / 20;
    uint64_t idle = 0;
    attribution.on_snapshot(quarter_snapshot, [&](const SnapshotShare& share) {
      if (share.stack_id == 2) idle = share.idle_bytes;
    });
    idle_by_snapshot.push_back(idle);
  }
  attribution.finish();
  // Evidence from the third snapshot on; quiet for a second at the end of the sixth.
  for (size_t i = 0; i < idle_by_snapshot.size(); ++i) {
    EXPECT_EQ(idle_by_snapshot[i], i < 5 ? 0u : 2048u) << "snapshot " << i + 1;
  }
  const auto& stacks = attribution.stacks();
  EXPECT_EQ(stacks.at(1).idle_bytes_peak, 0u);
  // The first two snapshots could not tell: "never touched" is never said without evidence.
  EXPECT_EQ(stacks.at(2).never_touched_bytes, 0u);
}

TEST(Attribution, MemoryReadSamplingCouldNotWatchIsNotSampledNeverIdle) {
  // Three blocks: one in a region read sampling watched (idle for good), one in a region it could
  // not watch (no probe, nothing written), and one allocated before read sampling began (in
  // memory it never protects) in a watched region.
  HeapModel heap;
  AccessAttribution attribution(heap, kSecond);
  attribution.set_reads_watched_from(1000);
  heap.apply(alloc(0, 0x50000, 4096, 9));  // before: never watched for reads
  heap.apply(alloc(2000, 0x10000, 4096, 1));
  heap.apply(alloc(2000, 0x20000, 4096, 2));
  for (uint64_t second = 1; second <= 4; ++second) {
    RegionSnapshot seen = snapshot(
        second * kSecond, {region(0x10000, 0x11000, 0, second), region(0x20000, 0x21000, 0, second),
                           region(0x50000, 0x51000, 0, second)});
    seen.read_probes_known = true;
    seen.regions[0].read_probes = 10;
    seen.regions[1].read_probes = 0;
    seen.regions[2].read_probes = 10;
    attribution.on_snapshot(seen);
  }
  attribution.finish();
  const auto& stacks = attribution.stacks();
  EXPECT_EQ(stacks.at(1).idle_bytes_peak, 4096u);
  EXPECT_EQ(stacks.at(1).never_touched_bytes, 4096u);
  EXPECT_DOUBLE_EQ(stacks.at(1).not_sampled_byte_seconds, 0.0);
  for (uint64_t unwatched : {2u, 9u}) {
    const AccessMetrics& metrics = stacks.at(unwatched);
    EXPECT_EQ(metrics.idle_bytes_peak, 0u) << unwatched;
    EXPECT_EQ(metrics.idle_byte_seconds, 0.0) << unwatched;
    EXPECT_EQ(metrics.never_touched_bytes, 0u) << unwatched;
    EXPECT_GT(metrics.not_sampled_byte_seconds, 3.0 * 4096) << unwatched;
  }
  // A trace that does not say (before 1.8, or read sampling stopped): idle as before.
  HeapModel old_heap;
  AccessAttribution old(old_heap, kSecond);
  old_heap.apply(alloc(0, 0x20000, 4096, 2));
  for (uint64_t second = 1; second <= 4; ++second) {
    old.on_snapshot(snapshot(second * kSecond, {region(0x20000, 0x21000, 0, second)}));
  }
  EXPECT_EQ(old.stacks().at(2).idle_bytes_peak, 4096u);
}

TEST(Attribution, MappingsSplitOnPartialUnmapAndKeepWhatWasSeenWhenMoved) {
  HeapModel heap;
  AccessAttribution attribution(heap, kSecond);
  heap.apply(mapping(EventKind::kMmap, 0, 0x100000, 4 * 4096, 5, DPROF_FN_MMAP));
  attribution.on_snapshot(snapshot(kSecond, {region(0x100000, 0x104000, 10)}));
  // The middle two pages go; the ends stay, still touched.
  heap.apply(mapping(EventKind::kMunmap, kSecond + 1, 0x101000, 2 * 4096, 0, DPROF_FN_MUNMAP));
  // The head moves elsewhere.
  heap.apply(mapping(EventKind::kMunmap, kSecond + 2, 0x100000, 4096, 0, DPROF_FN_MREMAP));
  heap.apply(mapping(EventKind::kMmap, kSecond + 2, 0x500000, 4096, 0, DPROF_FN_MREMAP));
  // Regions come in address order, as the trace encodes them.
  attribution.on_snapshot(
      snapshot(2 * kSecond, {region(0x101000, 0x104000, 10), region(0x500000, 0x501000, 10)}));
  const auto& stacks = attribution.stacks();
  // Snapshot 2 saw the moved head (4 KiB) and the tail (4 KiB) of stack 5, not the unmapped middle.
  EXPECT_DOUBLE_EQ(stacks.at(5).hot_byte_seconds, 4 * 4096.0 + 2 * 4096.0);
  attribution.finish();
  EXPECT_EQ(stacks.at(5).never_touched_bytes, 0u);
}

TEST(Timeline, StaysBoundedAndKeepsThePeak) {
  Timeline timeline;
  for (uint64_t i = 0; i < 100000; ++i) {
    TimelinePoint point;
    point.time_ns = i;
    point.rss_bytes = i == 77777 ? 1'000'000 : 10;
    timeline.add(point);
  }
  EXPECT_LE(timeline.points().size(), Timeline::kMaxPoints);
  EXPECT_GE(timeline.points().size(), Timeline::kMaxPoints / 4);
  uint64_t peak = 0;
  for (const TimelinePoint& point : timeline.points()) peak = std::max(peak, point.rss_bytes);
  EXPECT_EQ(peak, 1'000'000u);
  for (size_t i = 1; i < timeline.points().size(); ++i)
    EXPECT_LT(timeline.points()[i - 1].time_ns, timeline.points()[i].time_ns);
}

TEST(LogHistogram, PercentilesWithinTwoPercent) {
  LogHistogram histogram;
  for (uint64_t value = 1; value <= 100000; ++value) histogram.add(value * 1000);
  EXPECT_NEAR(static_cast<double>(histogram.percentile(0.5)), 50'000'000.0, 50'000'000.0 * 0.02);
  EXPECT_NEAR(static_cast<double>(histogram.percentile(0.99)), 99'000'000.0, 99'000'000.0 * 0.02);
  EXPECT_EQ(histogram.max(), 100'000'000u);
  EXPECT_EQ(histogram.count(), 100000u);
}
