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

template <typename Visit>
void ProtectedPages::for_each_leaf_span(uint64_t start, uint64_t end, bool create, Visit&& visit) {
  constexpr uint64_t kLeafPageShift = kLeafShift - kPageShift;
  uint64_t last = end >> kPageShift;
  for (uint64_t page = start >> kPageShift; page < last;) {
    uint64_t leaf_end = ((page >> kLeafPageShift) + 1) << kLeafPageShift;
    uint64_t stop = leaf_end < last ? leaf_end : last;
    visit(leaf_for(page >> kLeafPageShift, create), page & (kPagesPerLeaf - 1), stop - page);
    page = stop;
  }
}

uint64_t ProtectedPages::mark(uint64_t start, uint64_t end) {
  uint64_t already = 0;
  for_each_leaf_span(start, end, true, [&](uint64_t* bits, uint64_t first, uint64_t pages) {
    if (bits == nullptr) {
      // No room to remember: count them as protected (a fault charged that maybe was not).
      already += pages;
      return;
    }
    for (uint64_t index = first; index < first + pages; ++index) {
      uint64_t bit = uint64_t{1} << (index & 63);
      if ((bits[index >> 6] & bit) != 0) {
        ++already;
      } else {
        bits[index >> 6] |= bit;
      }
    }
  });
  return already;
}

void ProtectedPages::forget(uint64_t start, uint64_t end) {
  for_each_leaf_span(start, end, false, [](uint64_t* bits, uint64_t first, uint64_t pages) {
    if (bits == nullptr) return;  // nothing there was ever marked
    for (uint64_t index = first; index < first + pages; ++index) {
      bits[index >> 6] &= ~(uint64_t{1} << (index & 63));
    }
  });
}

void ProtectedPages::clear() {
  for (size_t i = 0; i < leaf_count_; ++i) memset(leaves_[i].bits, 0, kLeafBytes);
}

}  // namespace dprof::monitor
