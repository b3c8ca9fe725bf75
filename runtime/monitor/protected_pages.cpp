#include "protected_pages.h"

#include <string.h>

#include "../internal_alloc.h"

namespace dprof::monitor {
namespace {

constexpr uint64_t kPageShift = 12;
constexpr uint64_t kLeafShift = 30;
constexpr uint64_t kPagesPerLeaf = uint64_t{1} << (kLeafShift - kPageShift);
constexpr size_t kLeafBytes = kPagesPerLeaf / 8;

}  // namespace

ProtectedPages::~ProtectedPages() {
  for (size_t i = 0; i < leaf_count_; ++i) internal_alloc::release(leaves_[i].bits);
}

uint64_t* ProtectedPages::leaf_for(uint64_t gigabyte, bool create) {
  if (last_used_ < leaf_count_ && leaves_[last_used_].gigabyte == gigabyte) {
    return leaves_[last_used_].bits;
  }
  for (size_t i = 0; i < leaf_count_; ++i) {
    if (leaves_[i].gigabyte == gigabyte) {
      last_used_ = i;
      return leaves_[i].bits;
    }
  }
  if (!create || leaf_count_ == kMaxLeaves) return nullptr;
  auto* bits = static_cast<uint64_t*>(internal_alloc::allocate_zeroed(kLeafBytes, 1));
  if (bits == nullptr) return nullptr;
  leaves_[leaf_count_] = {gigabyte, bits};
  last_used_ = leaf_count_++;
  return bits;
}

uint64_t ProtectedPages::mark(uint64_t start, uint64_t end) {
  uint64_t already = 0;
  for (uint64_t page = start >> kPageShift; page < (end >> kPageShift);) {
    uint64_t* bits = leaf_for(page >> (kLeafShift - kPageShift), true);
    uint64_t leaf_end = ((page >> (kLeafShift - kPageShift)) + 1) << (kLeafShift - kPageShift);
    uint64_t stop = leaf_end < (end >> kPageShift) ? leaf_end : (end >> kPageShift);
    if (bits == nullptr) {
      // No room to remember: count them as protected (a fault charged that maybe was not).
      already += stop - page;
      page = stop;
      continue;
    }
    for (; page < stop; ++page) {
      uint64_t index = page & (kPagesPerLeaf - 1);
      uint64_t bit = uint64_t{1} << (index & 63);
      if ((bits[index >> 6] & bit) != 0) {
        ++already;
      } else {
        bits[index >> 6] |= bit;
      }
    }
  }
  return already;
}

void ProtectedPages::forget(uint64_t start, uint64_t end) {
  for (uint64_t page = start >> kPageShift; page < (end >> kPageShift);) {
    uint64_t* bits = leaf_for(page >> (kLeafShift - kPageShift), false);
    uint64_t leaf_end = ((page >> (kLeafShift - kPageShift)) + 1) << (kLeafShift - kPageShift);
    uint64_t stop = leaf_end < (end >> kPageShift) ? leaf_end : (end >> kPageShift);
    if (bits != nullptr) {
      for (; page < stop; ++page) {
        uint64_t index = page & (kPagesPerLeaf - 1);
        bits[index >> 6] &= ~(uint64_t{1} << (index & 63));
      }
    }
    page = stop;
  }
}

void ProtectedPages::clear() {
  for (size_t i = 0; i < leaf_count_; ++i) memset(leaves_[i].bits, 0, kLeafBytes);
}

}  // namespace dprof::monitor
