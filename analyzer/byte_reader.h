// Bounds-checked reading of trace-format values (varints, zigzag, strings) from a byte span.
// Every read past the end throws TraceError: a corrupt record never reads out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "trace_error.h"

namespace dprof::analyzer {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : cursor_(data), end_(data + size) {}

  bool at_end() const { return cursor_ >= end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - cursor_); }

  uint64_t u64() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (cursor_ >= end_) throw TraceError("record ends inside a number");
      uint8_t byte = *cursor_++;
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    throw TraceError("malformed number (more than 10 bytes)");
  }
  int64_t s64() {
    uint64_t raw = u64();
    return static_cast<int64_t>(raw >> 1) ^ -static_cast<int64_t>(raw & 1);
  }
  uint8_t byte() {
    if (cursor_ >= end_) throw TraceError("record ends early");
    return *cursor_++;
  }
  std::string_view bytes() {
    uint64_t length = u64();
    if (length > remaining()) throw TraceError("string runs past the end of its record");
    std::string_view view(reinterpret_cast<const char*>(cursor_), length);
    cursor_ += length;
    return view;
  }
  std::string str() { return std::string(bytes()); }
  const uint8_t* position() const { return cursor_; }

 private:
  const uint8_t* cursor_;
  const uint8_t* end_;
};

}  // namespace dprof::analyzer
