// Appends trace-format values (varints, zigzag varints, strings) to a caller-owned buffer.
// Callers size the buffer for the worst case; `overflowed()` reports when they did not.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "damon_prof/trace_format.h"

namespace dprof {

class ByteWriter {
 public:
  ByteWriter(uint8_t* buffer, size_t capacity) : buffer_(buffer), capacity_(capacity) {}

  void u64(uint64_t value) {
    if (!room(10)) return;
    size_ += dprof_put_u64(buffer_ + size_, value);
  }
  void s64(int64_t value) { u64(dprof_zigzag_encode(value)); }
  void bytes(const void* data, size_t length) {
    u64(length);
    if (!room(length)) return;
    memcpy(buffer_ + size_, data, length);
    size_ += length;
  }
  void str(const char* text) { bytes(text, text == nullptr ? 0 : strlen(text)); }
  void raw(const void* data, size_t length) {
    if (!room(length)) return;
    memcpy(buffer_ + size_, data, length);
    size_ += length;
  }

  size_t size() const { return size_; }
  bool overflowed() const { return overflowed_; }
  uint8_t* data() const { return buffer_; }

 private:
  bool room(size_t length) {
    if (size_ + length > capacity_) overflowed_ = true;
    return !overflowed_;
  }
  uint8_t* buffer_;
  size_t capacity_;
  size_t size_ = 0;
  bool overflowed_ = false;
};

}  // namespace dprof
