#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "analysis.h"
#include "byte_reader.h"
#include "test_support.h"
#include "trace_builder.h"
#include "trace_decoder.h"

using dprof::analyzer::ByteReader;
using dprof::analyzer::decode_trace;
using dprof::analyzer::Event;
using dprof::analyzer::EventKind;
using dprof::analyzer::TraceConsumer;
using dprof::testing::EventsBody;
using dprof::testing::RecordBody;
using dprof::testing::TempDir;
using dprof::testing::TraceBuilder;

namespace {

struct Recorder : TraceConsumer {
  std::vector<Event> events;
  std::vector<dprof::analyzer::StackInfo> stacks;
  std::vector<dprof::analyzer::ModuleInfo> modules;
  dprof::analyzer::ProcessInfo process;
  void on_event(const Event& event) override { events.push_back(event); }
  void on_stack(const dprof::analyzer::StackInfo& stack) override { stacks.push_back(stack); }
  void on_module_load(const dprof::analyzer::ModuleInfo& module) override {
    modules.push_back(module);
  }
  void on_process(const dprof::analyzer::ProcessInfo& info) override { process = info; }
};

}  // namespace

TEST(TraceDecoder, MergesThreadsIntoOneTimeOrderAtWatermarks) {
  TempDir dir;
  TraceBuilder builder;
  // Thread 1's events were written before thread 0's, though thread 0's came first in time:
  // thread 0 frees a block that thread 1 then gets again.
  builder.record(DPROF_REC_EVENTS, EventsBody(1, 20, 0x5000).alloc(20, 0x5000, 8, 2).body());
  builder.record(DPROF_REC_EVENTS,
                 EventsBody(0, 10, 0x5000).alloc(10, 0x5000, 8, 1).free(20, 0x5000).body());
  builder.record(DPROF_REC_WATERMARK, RecordBody().u(15));
  builder.end_frame();
  builder.record(DPROF_REC_WATERMARK, RecordBody().u(100));
  builder.end_frame();
  builder.write(dir.file("t.dprof"));
  Recorder recorder;
  decode_trace(dir.file("t.dprof"), recorder);
  ASSERT_EQ(recorder.events.size(), 3u);
  EXPECT_EQ(recorder.events[0].time_ns, 10u);
  EXPECT_EQ(recorder.events[0].thread_index, 0u);
  // Same instant, two threads: the release goes first.
  EXPECT_EQ(recorder.events[1].kind, EventKind::kFree);
  EXPECT_EQ(recorder.events[2].kind, EventKind::kAlloc);
  EXPECT_EQ(recorder.events[2].stack_id, 2u);
}

TEST(TraceDecoder, DecodesDefinitionsAndDeltaEncodedFields) {
  TempDir dir;
  TraceBuilder builder;
  std::string command_line("prog\0--flag", 11);
  builder.record(DPROF_REC_PROCESS, RecordBody()
                                        .u(42)
                                        .u(1)
                                        .u(1700000000000000000ull)
                                        .u(4096)
                                        .u(DPROF_PROCESS_FORKED)
                                        .str("host")
                                        .str("/bin/prog")
                                        .str(command_line)
                                        .str("0.1.0")
                                        .str("a=1"));
  builder.record(DPROF_REC_STACK, RecordBody().u(7).u(3).u(0x401000).s(0x100).s(-0x50));
  builder.record(DPROF_REC_MODULE_LOAD, RecordBody()
                                            .u(1)
                                            .u(0)
                                            .u(0x400000)
                                            .str("/bin/prog")
                                            .str("\x01\x02")
                                            .u(1)
                                            .u(0x400000)
                                            .u(0x402000)
                                            .u(1));
  builder.record(DPROF_REC_EVENTS, EventsBody(0, 5, 0x7f0000000000)
                                       .mmap(5, 0x7f0000000000, 8192, 7, 3, 0x22)
                                       .munmap(9, 0x7f0000001000, 4096)
                                       .alloc(12, 0x600000, 48, 7, DPROF_FN_CALLOC)
                                       .body());
  builder.end_frame();
  builder.write(dir.file("t.dprof"));
  Recorder recorder;
  decode_trace(dir.file("t.dprof"), recorder);
  EXPECT_EQ(recorder.process.pid, 42u);
  ASSERT_EQ(recorder.process.command_line.size(), 2u);
  EXPECT_EQ(recorder.process.command_line[1], "--flag");
  ASSERT_EQ(recorder.stacks.size(), 1u);
  EXPECT_EQ(recorder.stacks[0].frames, (std::vector<uint64_t>{0x401000, 0x401100, 0x4010b0}));
  ASSERT_EQ(recorder.modules.size(), 1u);
  EXPECT_EQ(recorder.modules[0].segments[0].end, 0x402000u);
  EXPECT_TRUE(recorder.modules[0].segments[0].executable);
  ASSERT_EQ(recorder.events.size(), 3u);
  EXPECT_EQ(recorder.events[0].kind, EventKind::kMmap);
  EXPECT_EQ(recorder.events[0].prot, 3u);
  EXPECT_EQ(recorder.events[1].address, 0x7f0000001000u);
  EXPECT_EQ(recorder.events[2].address, 0x600000u);
  EXPECT_EQ(recorder.events[2].function, DPROF_FN_CALLOC);
  EXPECT_EQ(recorder.events[2].size, 48u);
}

// A snapshot must meet the heap as it was at the snapshot's time: an allocation made before it
// but written to the file after it is delivered first, one made after it is delivered after.
TEST(TraceDecoder, SnapshotsAreDeliveredInTimeOrderWithEvents) {
  struct Order : dprof::analyzer::TraceConsumer {
    std::vector<std::string> seen;
    void on_event(const Event& event) override {
      seen.push_back("event@" + std::to_string(event.time_ns));
    }
    void on_region_snapshot(const dprof::analyzer::RegionSnapshot& snapshot) override {
      seen.push_back("snapshot@" + std::to_string(snapshot.time_ns));
    }
    void on_memory_sample(const dprof::analyzer::MemorySample& sample) override {
      seen.push_back("sample@" + std::to_string(sample.time_ns));
    }
  };
  TempDir dir;
  TraceBuilder builder;
  builder.record(DPROF_REC_REGION_SNAPSHOT,
                 RecordBody().u(100).u(10).u(50).u(1).u(0x1000).u(0x1000).u(1).u(0).u(0).u(0).u(0));
  builder.record(DPROF_REC_MEMORY_SAMPLE, RecordBody().u(60).u(4096).u(0).u(0));
  builder.record(
      DPROF_REC_EVENTS,
      EventsBody(0, 50, 0x1000).alloc(50, 0x1000, 64, 1).alloc(150, 0x2000, 8, 1).body());
  builder.record(DPROF_REC_WATERMARK, RecordBody().u(200));
  builder.end_frame();
  builder.write(dir.file("t.dprof"));
  Order order;
  decode_trace(dir.file("t.dprof"), order);
  std::vector<std::string> expected = {"event@50", "sample@60", "snapshot@100", "event@150"};
  EXPECT_EQ(order.seen, expected);
}

// Since 1.8 a snapshot taken while read sampling ran ends with each region's read probes; one
// without them (older traces, or read sampling stopped) says nothing of them.
TEST(TraceDecoder, SnapshotsCarryReadProbesWhenTheRuntimeWroteThem) {
  struct Seen {
    bool known;
    std::vector<uint64_t> probes;
    std::vector<uint64_t> ages;
  };
  struct Snapshots : dprof::analyzer::TraceConsumer {
    std::vector<Seen> seen;
    void on_region_snapshot(const dprof::analyzer::RegionSnapshot& snapshot) override {
      Seen one{snapshot.read_probes_known, {}, {}};
      for (const auto& region : snapshot.regions) {
        one.probes.push_back(region.read_probes);
        one.ages.push_back(region.age);
      }
      seen.push_back(one);
    }
  };
  TempDir dir;
  TraceBuilder builder;
  builder.record(DPROF_REC_REGION_SNAPSHOT, RecordBody()
                                                .u(100)
                                                .u(10)
                                                .u(50)
                                                .u(2)
                                                .u(0x1000)
                                                .u(0x1000)
                                                .u(1)
                                                .u(0)
                                                .u(1)
                                                .u(0)
                                                .u(0)
                                                .u(0)
                                                .u(0x1000)
                                                .u(0)
                                                .u(3)
                                                .u(0)
                                                .u(0)
                                                .u(0)
                                                .u(5)
                                                .u(0));
  builder.record(DPROF_REC_REGION_SNAPSHOT,
                 RecordBody().u(200).u(10).u(50).u(1).u(0x1000).u(0x1000).u(1).u(0).u(0).u(0).u(0));
  builder.record(DPROF_REC_WATERMARK, RecordBody().u(300));
  builder.end_frame();
  builder.write(dir.file("t.dprof"));
  Snapshots snapshots;
  decode_trace(dir.file("t.dprof"), snapshots);
  ASSERT_EQ(snapshots.seen.size(), 2u);
  EXPECT_TRUE(snapshots.seen[0].known);
  EXPECT_EQ(snapshots.seen[0].probes, (std::vector<uint64_t>{5, 0}));
  EXPECT_EQ(snapshots.seen[0].ages, (std::vector<uint64_t>{0, 3}));
  EXPECT_FALSE(snapshots.seen[1].known);
}

// Annotations come from every thread's ring, so out of order in the file; they are delivered in
// time order with the events, and a kind from a newer version is skipped.
TEST(TraceDecoder, AnnotationsAreDeliveredInTimeOrderWithEvents) {
  struct Order : dprof::analyzer::TraceConsumer {
    std::vector<std::string> seen;
    void on_event(const Event& event) override {
      seen.push_back("event@" + std::to_string(event.time_ns));
    }
    void on_annotation(const dprof::analyzer::Annotation& annotation) override {
      seen.push_back(annotation.name + "@" + std::to_string(annotation.time_ns));
    }
  };
  TempDir dir;
  TraceBuilder builder;
  builder.record(DPROF_REC_ANNOTATION,
                 RecordBody().u(120).u(2).u(DPROF_ANNOTATION_PHASE_END).str("load"));
  builder.record(DPROF_REC_ANNOTATION,
                 RecordBody().u(40).u(1).u(DPROF_ANNOTATION_PHASE_BEGIN).str("load"));
  builder.record(DPROF_REC_ANNOTATION, RecordBody().u(90).u(1).u(99).str("future"));
  builder.record(
      DPROF_REC_EVENTS,
      EventsBody(0, 50, 0x1000).alloc(50, 0x1000, 64, 1).alloc(150, 0x2000, 8, 1).body());
  builder.record(DPROF_REC_WATERMARK, RecordBody().u(100));
  builder.record(DPROF_REC_ANNOTATION,
                 RecordBody().u(110).u(1).u(DPROF_ANNOTATION_MARKER).str("mark"));
  builder.record(DPROF_REC_WATERMARK, RecordBody().u(200));
  builder.end_frame();
  builder.write(dir.file("t.dprof"));
  Order order;
  dprof::analyzer::DecodeSummary summary = decode_trace(dir.file("t.dprof"), order);
  std::vector<std::string> expected = {"load@40", "event@50", "mark@110", "load@120", "event@150"};
  EXPECT_EQ(order.seen, expected);
  EXPECT_EQ(summary.unknown_records, 1u);
}

// The runtime's writer and monitor threads are not counted as the program's; a program thread
// whose name merely starts like theirs (the demo's main thread, "damon-prof-demo") is.
TEST(TraceDecoder, OnlyTheRuntimesOwnThreadsAreLeftOutOfTheThreadCount) {
  TempDir dir;
  TraceBuilder builder;
  uint64_t index = 0;
  for (const char* name : {"damon-prof-demo", "damon-prof-wr", "damon-prof-mon", "worker"}) {
    builder.record(DPROF_REC_THREAD, RecordBody().u(index).u(1000 + index).u(index).str(name));
    ++index;
  }
  builder.record(DPROF_REC_WATERMARK, RecordBody().u(100));
  builder.end_frame();
  builder.write(dir.file("t.dprof"));
  dprof::analyzer::Analysis analysis = dprof::analyzer::analyze_trace(dir.file("t.dprof"));
  EXPECT_EQ(analysis.thread_count, 2u);
}

namespace {

void append_varint(std::vector<uint8_t>& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<uint8_t>(value));
}

}  // namespace

// Numbers of every length, read where 8 bytes are at hand (all at once) and where fewer are (the
// last bytes of a record: byte by byte), come out as written and leave the reader just past them.
TEST(ByteReader, NumbersOfEveryLengthAnywhereInARecord) {
  std::vector<uint64_t> values = {0, 1, 127, 128, 255, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
  for (unsigned bits = 1; bits <= 64; ++bits) {
    uint64_t top = bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1;
    values.push_back(top);
    values.push_back(top >> 1);
    values.push_back(top & 0x5555555555555555ull);
  }
  std::mt19937_64 random(7);
  for (int i = 0; i < 2000; ++i) values.push_back(random() >> (random() % 64));
  for (size_t padding = 0; padding <= 10; ++padding) {
    std::vector<uint8_t> bytes;
    for (uint64_t value : values) append_varint(bytes, value);
    size_t numbers_end = bytes.size();
    bytes.insert(bytes.end(), padding, 0xff);  // what follows the numbers: not part of them
    ByteReader reader(bytes.data(), bytes.size());
    for (uint64_t value : values) {
      std::vector<uint8_t> alone;
      append_varint(alone, value);
      const uint8_t* before = reader.position();
      ASSERT_EQ(reader.u64(), value) << "padding " << padding;
      ASSERT_EQ(static_cast<size_t>(reader.position() - before), alone.size()) << value;
    }
    EXPECT_EQ(static_cast<size_t>(reader.position() - bytes.data()), numbers_end);
  }
  // Zigzag: small magnitudes of either sign stay short.
  std::vector<uint8_t> zigzag;
  for (int64_t value :
       {int64_t{0}, int64_t{-1}, int64_t{1}, int64_t{-64}, int64_t{63}, INT64_MIN, INT64_MAX}) {
    append_varint(zigzag, (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63));
  }
  ByteReader signed_reader(zigzag.data(), zigzag.size());
  for (int64_t value :
       {int64_t{0}, int64_t{-1}, int64_t{1}, int64_t{-64}, int64_t{63}, INT64_MIN, INT64_MAX}) {
    EXPECT_EQ(signed_reader.s64(), value);
  }
}

TEST(ByteReader, ANumberCutShortOrTooLongIsAnError) {
  // Cut short, with more and with fewer than 8 bytes left.
  for (size_t length : {3u, 9u}) {
    std::vector<uint8_t> bytes(length, 0x80);
    ByteReader reader(bytes.data(), bytes.size());
    EXPECT_THROW(reader.u64(), dprof::analyzer::TraceError) << length;
  }
  // Eleven bytes with the continuation bit set: no number is that long.
  std::vector<uint8_t> endless(12, 0xff);
  endless.back() = 0;
  ByteReader reader(endless.data(), endless.size());
  EXPECT_THROW(reader.u64(), dprof::analyzer::TraceError);
}
