// Write detection with no signal handler: userfaultfd in asynchronous write-protect mode (the
// kernel resolves each first write to a protected page itself, so writes made by the kernel on the
// program's behalf are unaffected) plus PAGEMAP_SCAN. Linux >= 6.7; unprivileged through
// UFFD_USER_MODE_ONLY. Two modes:
//  - exact: all watched memory is protected; each check reports every page written since the last
//    one and protects them again in the same call. Costs a fault per written page per interval
//    and a page-table walk over all watched memory: it grows with what the program writes.
//  - sampled: only each region's sampled page is protected (as the kernel DAMON samples one page
//    per region); costs a few system calls per region per interval, whatever the memory size.
#pragma once

#include <stddef.h>

#include "access_backend.h"
#include "protected_pages.h"

struct page_region;

namespace dprof::monitor {

class UffdWpBackend final : public AccessBackend {
 public:
  UffdWpBackend() = default;
  ~UffdWpBackend();
  UffdWpBackend(const UffdWpBackend&) = delete;
  UffdWpBackend& operator=(const UffdWpBackend&) = delete;

  // False, with a static string saying why, when the kernel or permissions do not allow it.
  bool open(const char** reason);

  const char* name() const override { return "uffd-wp"; }
  BackendCapabilities capabilities() const override { return {false, true, true, false}; }
  void update_targets(const AddressRange* ranges, size_t count) override;
  void prepare_access_checks(Region* regions, size_t count) override;
  void check_accesses(Region* regions, size_t count) override;
  void disarm() override;

  // Switches between exact and sampled mode (see above); leaving exact mode unprotects all.
  void set_sampled(bool sampled);
  bool sampled() const { return sampled_; }

  // What one write fault on a protected page costs here, measured on a scratch mapping: the
  // monitor's cost model charges it for every written page a check finds.
  uint64_t measure_fault_cost_ns();

  // Pages the last check found written, over all registered memory.
  uint64_t last_written_pages() const { return last_written_pages_; }
  // Write faults the program took on protected pages since the check before: the written pages
  // less those that were not protected (populated since the check before, or before their range
  // was registered: those faults the program takes without the monitor). The cost model charges
  // these, not the written pages: a buffer of thousands of pages filled before its first check
  // cost no fault, yet was once charged as if it had, and pushed a monitor with a generous budget
  // into stretching its intervals.
  uint64_t last_write_faults() const { return last_write_faults_; }

 private:
  bool register_range(const AddressRange& range);
  bool protect(uint64_t start, uint64_t length, bool on);
  void check_sampled_pages(Region* regions, size_t count);
  // Counts `spans` (written pages) into the regions they overlap; `protected_before`: those of
  // them marked in protected_ took a write fault.
  void attribute(const page_region* spans, size_t span_count, Region* regions, size_t count,
                 bool protected_before);
  // Exact mode: finds the pages of [start, end) written since they were last protected, protects
  // them again, and counts them into `regions` (or, without regions, only marks them protected).
  void scan_written(uint64_t start, uint64_t end, Region* regions, size_t count);

  int uffd_ = -1;
  int pagemap_ = -1;
  AddressRange* registered_ = nullptr;
  size_t registered_count_ = 0;
  size_t registered_capacity_ = 0;
  page_region* spans_ = nullptr;
  size_t span_capacity_ = 0;
  // Sampled mode: pages already populated when their range was registered (the program touched
  // them before the monitor could watch). They count as written at the next check, so that a block
  // filled once and left alone is not taken for never touched. (Exact mode's next scan finds them
  // itself.)
  page_region* pending_ = nullptr;
  size_t pending_count_ = 0;
  // Records the populated pages of `range` in pending_ (before it is protected).
  void remember_populated(const AddressRange& range);
  // The pages exact mode has protected: a written page found among them took a write fault.
  ProtectedPages protected_;
  uint64_t last_written_pages_ = 0;
  uint64_t last_write_faults_ = 0;
  bool sampled_ = false;
  // Sampled mode's write-protected pages, one per region read sampling leaves to this backend,
  // in address order. An unwritten page stays protected into the next interval while its region
  // keeps it (monitor_core.h, kSampleMoveOdds): an idle region costs one scan, no protection.
  struct WatchedPage {
    uint64_t address;
    uint32_t region;       // its index in the current interval
    bool still_protected;  // not written in the last interval
  };
  WatchedPage* watched_ = nullptr;
  WatchedPage* next_watched_ = nullptr;
  size_t watched_count_ = 0;
  size_t watched_capacity_ = 0;
  bool reserve_watched(size_t count);
  void forget_watched_pages();
};

}  // namespace dprof::monitor
