// Exact page-level write detection with no signal handler: userfaultfd in asynchronous
// write-protect mode (the kernel resolves each first write to a protected page itself, so writes
// made by the kernel on the program's behalf are unaffected) plus PAGEMAP_SCAN, which reports the
// pages written since the last scan and protects them again in the same call. Linux >= 6.7;
// unprivileged through UFFD_USER_MODE_ONLY.
#pragma once

#include <stddef.h>

#include "access_backend.h"

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
  void check_accesses(Region* regions, size_t count) override;
  void disarm() override;

  // What one write fault on a protected page costs here, measured on a scratch mapping: the
  // monitor's cost model charges it for every written page a check finds.
  uint64_t measure_fault_cost_ns();

  // Pages the last check found written, over all registered memory.
  uint64_t last_written_pages() const { return last_written_pages_; }

 private:
  bool register_range(const AddressRange& range);
  void attribute(const page_region* spans, size_t span_count, Region* regions, size_t count);

  int uffd_ = -1;
  int pagemap_ = -1;
  AddressRange* registered_ = nullptr;
  size_t registered_count_ = 0;
  size_t registered_capacity_ = 0;
  page_region* spans_ = nullptr;
  size_t span_capacity_ = 0;
  uint64_t last_written_pages_ = 0;
};

}  // namespace dprof::monitor
