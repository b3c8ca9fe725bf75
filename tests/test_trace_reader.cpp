#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "trace_builder.h"
#include "trace_decoder.h"
#include "trace_error.h"
#include "trace_reader.h"

using dprof::analyzer::decode_trace;
using dprof::analyzer::ReaderOptions;
using dprof::analyzer::TraceConsumer;
using dprof::analyzer::TraceError;
using dprof::testing::EventsBody;
using dprof::testing::RecordBody;
using dprof::testing::TempDir;
using dprof::testing::TraceBuilder;

namespace {

struct Counting : TraceConsumer {
  int events = 0;
  int ends = 0;
  void on_event(const dprof::analyzer::Event&) override { ++events; }
  void on_end(const dprof::analyzer::EndInfo&) override { ++ends; }
};

// Three frames of two events each, and an end record in the last.
TraceBuilder three_frames() {
  TraceBuilder builder;
  for (int frame = 0; frame < 3; ++frame) {
    uint64_t base = 1000 * static_cast<uint64_t>(frame + 1);
    builder.record(DPROF_REC_EVENTS, EventsBody(0, base, 0x1000)
                                         .alloc(base, 0x1000 + base, 16, 1)
                                         .free(base + 1, 0x1000 + base)
                                         .body());
    builder.record(DPROF_REC_WATERMARK, RecordBody().u(base + 10));
    if (frame == 2) builder.record(DPROF_REC_END, RecordBody().u(5000).u(DPROF_END_EXIT).s(0).u(0));
    builder.end_frame();
  }
  return builder;
}

std::string error_of(const std::string& path, ReaderOptions options = {}) {
  Counting consumer;
  try {
    decode_trace(path, consumer, options);
  } catch (const TraceError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST(TraceReader, ReadsEveryFrame) {
  TempDir dir;
  three_frames().write(dir.file("t.dprof"));
  Counting consumer;
  auto summary = decode_trace(dir.file("t.dprof"), consumer);
  EXPECT_EQ(summary.frames, 3u);
  EXPECT_EQ(consumer.events, 6);
  EXPECT_EQ(consumer.ends, 1);
  EXPECT_FALSE(summary.truncated);
  EXPECT_TRUE(summary.has_end);
}

TEST(TraceReader, TruncatedFileKeepsEveryCompleteFrame) {
  TempDir dir;
  TraceBuilder builder = three_frames();
  auto bytes = builder.bytes();
  bytes.resize(builder.frame_offset(2) + 20);  // cut inside the third frame
  TraceBuilder::write_bytes(dir.file("t.dprof"), bytes);
  Counting consumer;
  auto summary = decode_trace(dir.file("t.dprof"), consumer);
  EXPECT_TRUE(summary.truncated);
  EXPECT_FALSE(summary.has_end);
  EXPECT_EQ(summary.frames, 2u);
  EXPECT_EQ(consumer.events, 4);
  // Cut inside a frame header too.
  bytes.resize(builder.frame_offset(1) + 5);
  TraceBuilder::write_bytes(dir.file("t2.dprof"), bytes);
  Counting second;
  summary = decode_trace(dir.file("t2.dprof"), second);
  EXPECT_TRUE(summary.truncated);
  EXPECT_EQ(second.events, 2);
}

TEST(TraceReader, CorruptFrameIsAnErrorUnlessSalvaging) {
  TempDir dir;
  TraceBuilder builder = three_frames();
  auto bytes = builder.bytes();
  bytes[builder.frame_offset(1) + sizeof(dprof_frame_header) + 6] ^= 0x5a;  // damage the payload
  TraceBuilder::write_bytes(dir.file("t.dprof"), bytes);
  std::string error = error_of(dir.file("t.dprof"));
  EXPECT_NE(error.find("frame 2"), std::string::npos) << error;
  EXPECT_NE(error.find("corrupt"), std::string::npos) << error;
  Counting consumer;
  ReaderOptions salvage;
  salvage.salvage = true;
  auto summary = decode_trace(dir.file("t.dprof"), consumer, salvage);
  EXPECT_EQ(summary.corrupt_frames_skipped, 1u);
  EXPECT_EQ(consumer.events, 4);
  EXPECT_EQ(consumer.ends, 1);
}

TEST(TraceReader, DamagedFrameHeaderIsFoundAndSkippedWhenSalvaging) {
  TempDir dir;
  TraceBuilder builder = three_frames();
  auto bytes = builder.bytes();
  bytes[builder.frame_offset(0) + 4] ^= 0xff;  // compressed_size of frame 1
  TraceBuilder::write_bytes(dir.file("t.dprof"), bytes);
  EXPECT_NE(error_of(dir.file("t.dprof")).find("bad frame header"), std::string::npos);
  ReaderOptions salvage;
  salvage.salvage = true;
  Counting consumer;
  auto summary = decode_trace(dir.file("t.dprof"), consumer, salvage);
  EXPECT_EQ(summary.frames, 2u);
  EXPECT_EQ(consumer.events, 4);
}

TEST(TraceReader, RejectsFilesThatAreNotTraces) {
  TempDir dir;
  TraceBuilder::write_bytes(dir.file("empty"), {});
  EXPECT_NE(error_of(dir.file("empty")).find("empty file"), std::string::npos);
  TraceBuilder::write_bytes(dir.file("text"), {'h', 'e', 'l', 'l', 'o', '\n'});
  EXPECT_NE(error_of(dir.file("text")).find("not a damon-prof trace"), std::string::npos);
  EXPECT_NE(error_of(dir.file("missing")).find("cannot open"), std::string::npos);
  EXPECT_NE(error_of(dir.path()).find("directory"), std::string::npos);
}

TEST(TraceReader, RefusesANewerMajorVersionAndAcceptsANewerMinor) {
  TempDir dir;
  three_frames().version(DPROF_VERSION_MAJOR + 1, 0).write(dir.file("future.dprof"));
  std::string error = error_of(dir.file("future.dprof"));
  EXPECT_NE(error.find("newer than this damon-prof reads"), std::string::npos) << error;
  TraceBuilder minor = three_frames();
  minor.version(DPROF_VERSION_MAJOR, DPROF_VERSION_MINOR + 3);
  minor.record(200, RecordBody().u(1).str("a record type from the future")).end_frame();
  minor.write(dir.file("minor.dprof"));
  Counting consumer;
  auto summary = decode_trace(dir.file("minor.dprof"), consumer);
  EXPECT_EQ(summary.unknown_records, 1u);
  EXPECT_EQ(consumer.events, 6);
}

TEST(TraceReader, CorruptRecordInsideAValidFrameIsReported) {
  TempDir dir;
  TraceBuilder builder;
  // A stack record claiming more frames than its body holds.
  builder.record(DPROF_REC_STACK, RecordBody().u(1).u(3).u(0x1234)).end_frame();
  builder.write(dir.file("t.dprof"));
  std::string error = error_of(dir.file("t.dprof"));
  EXPECT_NE(error.find("corrupt record"), std::string::npos) << error;
}

// A rejected file is closed: rejecting thousands (as a fuzzer or a directory scan does) must not
// run out of file descriptors.
TEST(TraceReader, RejectedFilesAreClosed) {
  TempDir dir;
  std::string not_a_trace = dir.file("text.dprof");
  std::ofstream(not_a_trace) << "this is not a damon-prof trace at all, just text\n";
  TraceBuilder future;
  future.version(DPROF_VERSION_MAJOR + 1, 0).end_frame();
  future.write(dir.file("future.dprof"));
  auto open_descriptors = [] {
    size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/self/fd")) {
      ++count;
    }
    return count;
  };
  size_t before = open_descriptors();
  for (int i = 0; i < 100; ++i) {
    for (const std::string& path : {not_a_trace, dir.file("future.dprof")}) {
      EXPECT_THROW(dprof::analyzer::TraceReader(path, {}), dprof::analyzer::TraceError);
    }
  }
  EXPECT_EQ(open_descriptors(), before);
}

namespace {

// A trace whose first frame starts with a PROCESS record of `command_line`, then `padding`
// bytes of events.
std::string process_trace(const TempDir& dir, const std::string& name,
                          const std::string& command_line, int events) {
  TraceBuilder builder;
  builder.record(DPROF_REC_PROCESS, RecordBody()
                                        .u(4242)
                                        .u(1)
                                        .u(1700000000000000000ull)
                                        .u(4096)
                                        .u(0)
                                        .str("host")
                                        .str("/bin/prog")
                                        .str(command_line)
                                        .str("0.1.0")
                                        .str("a=1"));
  EventsBody body(0, 1000, 0x1000);
  for (int i = 0; i < events; ++i) {
    body.alloc(1000 + 2 * static_cast<uint64_t>(i), 0x100000 + 64 * static_cast<uint64_t>(i), 48,
               1);
  }
  builder.record(DPROF_REC_EVENTS, body.body());
  builder.end_frame();
  std::string path = dir.file(name);
  builder.write(path);
  return path;
}

}  // namespace

TEST(TraceReader, TheStartOfTheFirstFrameAloneCanBeRead) {
  TempDir dir;
  std::string path = process_trace(dir, "big.dprof", "prog", 100000);
  std::vector<uint8_t> whole_frame;
  {
    dprof::analyzer::TraceReader reader(path, {});
    ASSERT_TRUE(reader.next_frame(whole_frame));
  }
  ASSERT_GT(whole_frame.size(), 200000u);
  std::vector<uint8_t> start;
  bool whole = true;
  dprof::analyzer::TraceReader reader(path, {});
  ASSERT_TRUE(reader.first_frame_start(start, 4096, &whole));
  EXPECT_FALSE(whole);
  ASSERT_EQ(start.size(), 4096u);
  EXPECT_TRUE(std::equal(start.begin(), start.end(), whole_frame.begin()));
  // A limit past the frame's end gives all of it.
  dprof::analyzer::TraceReader again(path, {});
  ASSERT_TRUE(again.first_frame_start(start, 1 << 24, &whole));
  EXPECT_TRUE(whole);
  EXPECT_TRUE(start == whole_frame);
}

TEST(TraceReader, TheProcessIsReadEvenWhenItsRecordOutrunsTheFirstBytes) {
  TempDir dir;
  std::string short_line("prog\0--flag", 11);
  std::string long_line = "prog" + std::string(1, '\0') + std::string(200000, 'x');
  for (const std::string& line : {short_line, long_line}) {
    std::string path = process_trace(dir, "process.dprof", line, 20000);
    std::optional<dprof::analyzer::ProcessInfo> process = dprof::analyzer::read_process_info(path);
    ASSERT_TRUE(process.has_value());
    EXPECT_EQ(process->pid, 4242u);
    EXPECT_EQ(process->executable, "/bin/prog");
    ASSERT_EQ(process->command_line.size(), 2u);
    EXPECT_EQ(process->command_line[1].size(), line.size() - 5);
  }
  // A damaged first frame header is an error, as any reader reports it.
  std::string path = process_trace(dir, "damaged.dprof", short_line, 20000);
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[sizeof(dprof_file_header)] ^= 0xff;  // the frame's magic
  TraceBuilder::write_bytes(path, bytes);
  EXPECT_THROW(dprof::analyzer::read_process_info(path), TraceError);
}
