// Which pages exact write tracking has write-protected, so that a written page it finds can be
// told apart: a page that was protected took a write fault (the monitor's cost), a page that was
// not was populated by the program since the last check (a fault the program takes anyway).
//
// One bit per 4 KiB page, in leaves of 32 KiB that cover 1 GiB of address space each, allocated
// as memory in that gigabyte is first marked. At most kMaxLeaves of them (2 MiB): a page in a
// gigabyte beyond them counts as protected, which over-charges rather than under-charges.
// Used by the monitor thread alone.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace dprof::monitor {

class ProtectedPages {
 public:
  static constexpr size_t kMaxLeaves = 64;

  ProtectedPages() = default;
  ~ProtectedPages();
  ProtectedPages(const ProtectedPages&) = delete;
  ProtectedPages& operator=(const ProtectedPages&) = delete;

  // Marks [start, end) protected; returns how many of its pages already were.
  uint64_t mark(uint64_t start, uint64_t end);
  // Forgets [start, end) (unprotected, or unmapped).
  void forget(uint64_t start, uint64_t end);
  // Forgets everything.
  void clear();

 private:
  struct Leaf {
    uint64_t gigabyte = 0;  // address >> 30
    uint64_t* bits = nullptr;
  };
  // The leaf for `gigabyte`, created if `create` (nullptr when absent, or when out of leaves or
  // memory).
  uint64_t* leaf_for(uint64_t gigabyte, bool create);
  // Calls visit(bits, first index, page count) for each leaf's part of [start, end) (bits nullptr
  // where there is no leaf).
  template <typename Visit>
  void for_each_leaf_span(uint64_t start, uint64_t end, bool create, Visit&& visit);

  Leaf leaves_[kMaxLeaves];
  size_t leaf_count_ = 0;
  size_t last_used_ = 0;  // consecutive pages mostly share a leaf
};

}  // namespace dprof::monitor
