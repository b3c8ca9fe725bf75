// Reading a file at an offset without moving its descriptor's position.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace dprof::analyzer {

// Reads exactly `length` bytes at `offset` (pread, resumed after short reads); false when the file
// ends first or cannot be read.
inline bool read_at(int fd, void* buffer, size_t length, uint64_t offset) {
  auto* bytes = static_cast<uint8_t*>(buffer);
  while (length > 0) {
    ssize_t got = pread(fd, bytes, length, static_cast<off_t>(offset));
    if (got <= 0) return false;
    bytes += got;
    length -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

}  // namespace dprof::analyzer
