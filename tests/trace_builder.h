// Writes synthetic trace files for the reader and decoder tests: any records, any framing, and
// the damage (truncation, corruption, future versions) the reader must survive.
#pragma once

#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "damon_prof/trace_format.h"

namespace dprof::testing {

class RecordBody {
 public:
  RecordBody& u(uint64_t value) {
    uint8_t buffer[10];
    size_t length = dprof_put_u64(buffer, value);
    bytes_.insert(bytes_.end(), buffer, buffer + length);
    return *this;
  }
  RecordBody& s(int64_t value) { return u(dprof_zigzag_encode(value)); }
  RecordBody& str(const std::string& text) {
    u(text.size());
    bytes_.insert(bytes_.end(), text.begin(), text.end());
    return *this;
  }
  RecordBody& byte(uint8_t value) {
    bytes_.push_back(value);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class TraceBuilder {
 public:
  // Appends a record to the frame being built.
  TraceBuilder& record(uint32_t type, const RecordBody& body) {
    RecordBody header;
    header.u(type).u(body.bytes().size());
    frame_.insert(frame_.end(), header.bytes().begin(), header.bytes().end());
    frame_.insert(frame_.end(), body.bytes().begin(), body.bytes().end());
    return *this;
  }
  // Appends bytes to the frame being built as they are (the fuzzer's arbitrary payloads).
  TraceBuilder& raw_payload(const uint8_t* data, size_t size) {
    frame_.insert(frame_.end(), data, data + size);
    return *this;
  }
  // Ends the current frame: compresses it and adds its header.
  TraceBuilder& end_frame() {
    std::vector<uint8_t> compressed(ZSTD_compressBound(frame_.size()));
    ZSTD_CCtx* context = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1);
    size_t size =
        ZSTD_compress2(context, compressed.data(), compressed.size(), frame_.data(), frame_.size());
    ZSTD_freeCCtx(context);
    compressed.resize(size);
    dprof_frame_header header{DPROF_FRAME_MAGIC, static_cast<uint32_t>(size),
                              static_cast<uint32_t>(frame_.size()), 0};
    header.header_check =
        dprof_frame_header_check(header.magic, header.compressed_size, header.raw_size);
    frame_offsets_.push_back(body_.size());
    const auto* raw = reinterpret_cast<const uint8_t*>(&header);
    body_.insert(body_.end(), raw, raw + sizeof(header));
    body_.insert(body_.end(), compressed.begin(), compressed.end());
    frame_.clear();
    return *this;
  }
  TraceBuilder& version(uint16_t major, uint16_t minor) {
    major_ = major;
    minor_ = minor;
    return *this;
  }
  std::vector<uint8_t> bytes() const {
    dprof_file_header header{};
    std::memcpy(header.magic, DPROF_FILE_MAGIC, DPROF_FILE_MAGIC_SIZE);
    header.version_major = major_;
    header.version_minor = minor_;
    header.header_size = sizeof(header);
    std::vector<uint8_t> file(reinterpret_cast<const uint8_t*>(&header),
                              reinterpret_cast<const uint8_t*>(&header) + sizeof(header));
    file.insert(file.end(), body_.begin(), body_.end());
    return file;
  }
  // Offset in the file of frame `index`'s header.
  size_t frame_offset(size_t index) const {
    return sizeof(dprof_file_header) + frame_offsets_.at(index);
  }
  void write(const std::string& path) const { write_bytes(path, bytes()); }

  static void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }

 private:
  std::vector<uint8_t> frame_;
  std::vector<uint8_t> body_;
  std::vector<size_t> frame_offsets_;
  uint16_t major_ = DPROF_VERSION_MAJOR;
  uint16_t minor_ = DPROF_VERSION_MINOR;
};

// An EVENTS record body builder that does the delta encoding the runtime's writer does.
class EventsBody {
 public:
  EventsBody(uint32_t thread, uint64_t base_time, uint64_t base_address)
      : time_(base_time), address_(base_address) {
    body_.u(thread).u(base_time).u(base_address);
  }
  EventsBody& alloc(uint64_t time, uint64_t address, uint64_t size, uint64_t stack,
                    uint8_t function = DPROF_FN_MALLOC) {
    head(DPROF_EV_ALLOC, function, time, address);
    body_.u(size).u(stack);
    return *this;
  }
  EventsBody& free(uint64_t time, uint64_t address, uint8_t function = DPROF_FN_FREE) {
    head(DPROF_EV_FREE, function, time, address);
    return *this;
  }
  EventsBody& mmap(uint64_t time, uint64_t address, uint64_t length, uint64_t stack, uint32_t prot,
                   uint32_t flags, uint8_t function = DPROF_FN_MMAP) {
    head(DPROF_EV_MMAP, function, time, address);
    body_.u(length).u(stack).u(prot).u(flags);
    return *this;
  }
  EventsBody& munmap(uint64_t time, uint64_t address, uint64_t length,
                     uint8_t function = DPROF_FN_MUNMAP) {
    head(DPROF_EV_MUNMAP, function, time, address);
    body_.u(length);
    return *this;
  }
  const RecordBody& body() const { return body_; }

 private:
  void head(uint8_t kind, uint8_t function, uint64_t time, uint64_t address) {
    body_.byte(static_cast<uint8_t>((function << 4) | kind));
    body_.u(time - time_);
    body_.s(static_cast<int64_t>(address - address_));
    time_ = time;
    address_ = address;
  }
  RecordBody body_;
  uint64_t time_;
  uint64_t address_;
};

}  // namespace dprof::testing
