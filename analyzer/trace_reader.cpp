#include "trace_reader.h"

#include <sys/stat.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "damon_prof/trace_format.h"
#include "trace_error.h"

namespace dprof::analyzer {

TraceReader::TraceReader(const std::string& path, ReaderOptions options) : options_(options) {
  struct stat status;
  if (stat(path.c_str(), &status) != 0) {
    throw TraceError(std::string("cannot open: ") + std::strerror(errno));
  }
  if (S_ISDIR(status.st_mode)) throw TraceError("is a directory, not a trace");
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) throw TraceError(std::string("cannot open: ") + std::strerror(errno));
  file_size_ = static_cast<uint64_t>(status.st_size);
  try {
    read_header();
  } catch (...) {
    // No destructor runs for an object whose constructor throws: the file is closed here, or
    // every rejected file would leak a descriptor (the fuzzer ran out of them).
    std::fclose(file_);
    file_ = nullptr;
    throw;
  }
  decompressor_ = ZSTD_createDCtx();
}

void TraceReader::read_header() {
  if (file_size_ == 0) throw TraceError("empty file, not a damon-prof trace");
  dprof_file_header header{};
  size_t got = std::fread(&header, 1, sizeof(header), file_);
  if (got < DPROF_FILE_MAGIC_SIZE ||
      std::memcmp(header.magic, DPROF_FILE_MAGIC, DPROF_FILE_MAGIC_SIZE) != 0) {
    throw TraceError("not a damon-prof trace (no trace header)");
  }
  if (got < sizeof(header)) throw TraceError("trace header is cut short");
  version_major_ = header.version_major;
  version_minor_ = header.version_minor;
  if (version_major_ > DPROF_VERSION_MAJOR) {
    throw TraceError("trace format version " + std::to_string(version_major_) + "." +
                     std::to_string(version_minor_) + " is newer than this damon-prof reads (" +
                     std::to_string(DPROF_VERSION_MAJOR) + ".x); upgrade damon-prof");
  }
  if (header.header_size < sizeof(header) || header.header_size > 4096) {
    throw TraceError("trace header has an invalid size");
  }
  offset_ = header.header_size;
  if (std::fseek(file_, static_cast<long>(offset_), SEEK_SET) != 0) {
    throw TraceError("cannot seek past the trace header");
  }
}

TraceReader::~TraceReader() {
  if (file_ != nullptr) std::fclose(file_);
  ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(decompressor_));
}

bool TraceReader::resynchronise() {
  // Look for the next plausible frame header after the corrupt one.
  uint64_t search_from = offset_ + 1;
  std::vector<uint8_t> window(1 << 16);
  while (search_from + sizeof(dprof_frame_header) <= file_size_) {
    std::fseek(file_, static_cast<long>(search_from), SEEK_SET);
    size_t got = std::fread(window.data(), 1, window.size(), file_);
    if (got < sizeof(dprof_frame_header)) break;
    for (size_t i = 0; i + sizeof(dprof_frame_header) <= got; ++i) {
      dprof_frame_header header;
      std::memcpy(&header, window.data() + i, sizeof(header));
      if (header.magic == DPROF_FRAME_MAGIC &&
          header.header_check ==
              dprof_frame_header_check(header.magic, header.compressed_size, header.raw_size)) {
        offset_ = search_from + i;
        std::fseek(file_, static_cast<long>(offset_), SEEK_SET);
        return true;
      }
    }
    search_from += got - sizeof(dprof_frame_header) + 1;
  }
  offset_ = file_size_;
  return false;
}

TraceReader::FrameRead TraceReader::read_frame(dprof_frame_header& header, std::string& problem) {
  if (offset_ >= file_size_) return FrameRead::kEnd;
  if (file_size_ - offset_ < sizeof(dprof_frame_header)) {
    truncated_ = true;
    offset_ = file_size_;
    return FrameRead::kEnd;
  }
  std::fseek(file_, static_cast<long>(offset_), SEEK_SET);
  if (std::fread(&header, 1, sizeof(header), file_) != sizeof(header)) {
    truncated_ = true;
    return FrameRead::kEnd;
  }
  if (header.magic != DPROF_FRAME_MAGIC ||
      header.header_check !=
          dprof_frame_header_check(header.magic, header.compressed_size, header.raw_size)) {
    problem = "bad frame header";
    return FrameRead::kCorrupt;
  }
  if (header.raw_size > DPROF_MAX_FRAME_RAW_SIZE) {
    problem = "frame claims an impossible size";
    return FrameRead::kCorrupt;
  }
  if (offset_ + sizeof(header) + header.compressed_size > file_size_) {
    // The writer was stopped mid-frame: everything before is complete.
    truncated_ = true;
    offset_ = file_size_;
    return FrameRead::kEnd;
  }
  compressed_.resize(header.compressed_size);
  if (std::fread(compressed_.data(), 1, compressed_.size(), file_) != compressed_.size()) {
    truncated_ = true;
    return FrameRead::kEnd;
  }
  return FrameRead::kRead;
}

bool TraceReader::next_frame(std::vector<uint8_t>& payload) {
  for (;;) {
    dprof_frame_header header;
    std::string problem;
    FrameRead read = read_frame(header, problem);
    if (read == FrameRead::kEnd) return false;
    if (read == FrameRead::kRead) {
      payload.resize(header.raw_size);
      size_t result = ZSTD_decompressDCtx(static_cast<ZSTD_DCtx*>(decompressor_), payload.data(),
                                          payload.size(), compressed_.data(), compressed_.size());
      if (ZSTD_isError(result)) {
        problem = std::string("cannot decompress (") + ZSTD_getErrorName(result) + ")";
      } else if (result != header.raw_size) {
        problem = "decompressed size does not match its header";
      }
    }
    if (problem.empty()) {
      offset_ += sizeof(header) + header.compressed_size;
      ++frames_read_;
      return true;
    }
    std::string where = "frame " + std::to_string(frames_read_ + corrupt_frames_skipped_ + 1) +
                        " at byte " + std::to_string(offset_) + " is corrupt: " + problem;
    if (!options_.salvage) {
      throw TraceError(where + " (use --salvage to report what can still be read)");
    }
    ++corrupt_frames_skipped_;
    if (!resynchronise()) return false;
  }
}

bool TraceReader::first_frame_start(std::vector<uint8_t>& payload, size_t limit, bool* whole) {
  dprof_frame_header header;
  std::string problem;
  FrameRead read = read_frame(header, problem);
  if (read == FrameRead::kEnd) return false;
  if (read == FrameRead::kCorrupt) throw TraceError("first frame is corrupt: " + problem);
  auto* decompressor = static_cast<ZSTD_DCtx*>(decompressor_);
  ZSTD_DCtx_reset(decompressor, ZSTD_reset_session_only);
  payload.resize(std::min<size_t>(limit, header.raw_size));
  ZSTD_outBuffer out{payload.data(), payload.size(), 0};
  ZSTD_inBuffer in{compressed_.data(), compressed_.size(), 0};
  while (out.pos < out.size) {
    size_t result = ZSTD_decompressStream(decompressor, &out, &in);
    if (ZSTD_isError(result)) {
      throw TraceError(std::string("first frame cannot be decompressed (") +
                       ZSTD_getErrorName(result) + ")");
    }
    if (result == 0 || (in.pos == in.size && out.pos < out.size)) break;  // the frame ended
  }
  payload.resize(out.pos);
  *whole = header.raw_size <= limit && out.pos == header.raw_size;
  ZSTD_DCtx_reset(decompressor, ZSTD_reset_session_only);
  return true;
}

}  // namespace dprof::analyzer
