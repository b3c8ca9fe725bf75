// The in-memory items that application threads put into their rings. Fixed layouts, so that the
// allocation path only stores a few words; the writer thread turns them into the compact trace
// encoding. Every item starts with ItemHeader and has a size that is a multiple of 8.
#pragma once

#include <stdint.h>

namespace dprof {

enum class ItemType : uint16_t {
  kPad = 0,
  kAlloc = 1,
  kFree = 2,
  kMmap = 3,
  kMunmap = 4,
  kStack = 5,
  kRawRecord = 6,  // an already encoded trace record, copied verbatim
};

struct ItemHeader {
  ItemType type;
  uint16_t function;  // dprof_alloc_function
  uint32_t size;      // whole item, header included
};

struct AllocItem {
  ItemHeader header;
  uint64_t time_ns;
  uint64_t address;
  uint64_t size;
  uint64_t stack_id;
};

struct FreeItem {
  ItemHeader header;
  uint64_t time_ns;
  uint64_t address;
};

struct MmapItem {
  ItemHeader header;
  uint64_t time_ns;
  uint64_t address;
  uint64_t length;
  uint64_t stack_id;
  uint32_t prot;
  uint32_t flags;
};

struct MunmapItem {
  ItemHeader header;
  uint64_t time_ns;
  uint64_t address;
  uint64_t length;
};

struct StackItem {
  ItemHeader header;
  uint64_t stack_id;
  uint64_t frame_count;
  // followed by frame_count uint64_t return addresses, innermost first
};

struct RawRecordItem {
  ItemHeader header;
  uint64_t byte_count;
  // followed by byte_count bytes, padded to 8
};

constexpr uint32_t item_size_rounded(uint64_t bytes) {
  return static_cast<uint32_t>((bytes + 7) & ~uint64_t{7});
}

}  // namespace dprof
