// Reads a trace file frame by frame: checks the file header and version, validates each frame's
// header, decompresses it (zstd verifies its checksum) and hands out its payload. Memory use is
// one frame, whatever the file's length.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "damon_prof/trace_format.h"

namespace dprof::analyzer {

struct ReaderOptions {
  // Skip corrupt frames (resynchronising on the next frame header) instead of failing.
  bool salvage = false;
  // Told after each frame how far into the file the reading is (bytes read, file size).
  std::function<void(uint64_t, uint64_t)> progress;
};

class TraceReader {
 public:
  // Throws TraceError when the file cannot be opened, is not a trace, or is from a newer major
  // version.
  TraceReader(const std::string& path, ReaderOptions options);
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  // Next frame's decompressed payload; false at the end of the file. A corrupt frame throws
  // TraceError unless salvaging. An incomplete last frame (the process was killed while writing
  // it) ends the file and sets truncated().
  bool next_frame(std::vector<uint8_t>& payload);
  // Instead of next_frame, as the first call: the first `limit` bytes of the first frame's
  // payload (fewer when it is shorter), without decompressing the rest, and whether that is all
  // of it. Enough to tell which process wrote a trace (its first record) when a report looks
  // for a trace's children among every trace beside it. The frame's checksum is not verified.
  bool first_frame_start(std::vector<uint8_t>& payload, size_t limit, bool* whole);

  bool truncated() const { return truncated_; }
  uint64_t frames_read() const { return frames_read_; }
  uint64_t corrupt_frames_skipped() const { return corrupt_frames_skipped_; }
  uint16_t version_major() const { return version_major_; }
  uint16_t version_minor() const { return version_minor_; }
  uint64_t file_size() const { return file_size_; }
  uint64_t offset() const { return offset_; }

 private:
  bool resynchronise();
  enum class FrameRead { kRead, kEnd, kCorrupt };
  // The frame at offset_: its header checked and its compressed bytes in compressed_ (kRead);
  // kEnd at the end of the file or of its last complete frame; kCorrupt with the problem.
  FrameRead read_frame(dprof_frame_header& header, std::string& problem);
  // Checks the file header and seeks past it; throws TraceError.
  void read_header();

  std::FILE* file_ = nullptr;
  ReaderOptions options_;
  uint64_t file_size_ = 0;
  uint64_t offset_ = 0;
  uint16_t version_major_ = 0;
  uint16_t version_minor_ = 0;
  bool truncated_ = false;
  uint64_t frames_read_ = 0;
  uint64_t corrupt_frames_skipped_ = 0;
  std::vector<uint8_t> compressed_;
  void* decompressor_ = nullptr;
};

}  // namespace dprof::analyzer
