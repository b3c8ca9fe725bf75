// Read (and write) sampling the way the kernel's DAMON samples: one page per region is made
// inaccessible; the first touch faults, the SIGSEGV handler (segv_dispatch.h) restores access and
// notes the faulting instruction. A page nothing touched stays armed into the next interval while
// its region keeps it (monitor_core.h, kSampleMoveOdds), so an idle region costs no system call.
// Only pages that page_guard.h says are safe are ever protected; see there for the contract.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "access_backend.h"
#include "page_guard.h"

namespace dprof::monitor {

class MprotectBackend final : public AccessBackend {
 public:
  MprotectBackend() = default;
  ~MprotectBackend();
  MprotectBackend(const MprotectBackend&) = delete;
  MprotectBackend& operator=(const MprotectBackend&) = delete;

  // Takes SIGSEGV over and turns the page bookkeeping on; false with a reason if it cannot.
  // Pins the memory the process already has (its blocks were never counted), less
  // `runtime_memory` (the runtime's own, which holds no block and may be vast reservations).
  bool open(const AddressRange* runtime_memory, size_t runtime_ranges, const char** reason);

  const char* name() const override { return "mprotect"; }
  BackendCapabilities capabilities() const override { return {true, true, false, true}; }
  void prepare_access_checks(Region* regions, size_t count) override;
  void check_accesses(Region* regions, size_t count) override;
  void disarm() override;

  // uffd-wp runs too: regions it saw written are not read-sampled.
  void set_write_silence(bool on) { write_silence_ = on; }
  // Faults the program took in the last check (each costs it a signal round trip).
  uint64_t last_faults() const { return last_faults_; }
  // The last check's sampled pages that the program touched (access sites).
  page_guard::SampledPage* last_results(size_t* count) const {
    *count = result_count_;
    return results_;
  }
  // A protect + fault + restore round trip, measured on a scratch page.
  uint64_t measure_fault_cost_ns();

 private:
  uint64_t pick_page(const Region& region) const;
  bool reserve_scratch(size_t regions);

  // A region's sampled page, in region (so address) order.
  struct ArmedPage {
    uint64_t sampling_address;  // the region's, when it was armed
    uint64_t page;              // the page protected (the eligible one nearest to it)
    uint32_t slot;
    uint32_t region;       // its index in the current interval
    bool still_protected;  // nothing touched it in the last interval
  };
  ArmedPage* armed_ = nullptr;
  ArmedPage* next_armed_ = nullptr;
  size_t armed_count_ = 0;
  // Per region, while preparing: the page to arm again, or the armed page it keeps.
  uint64_t* rearm_page_ = nullptr;
  size_t* kept_entry_ = nullptr;
  size_t scratch_capacity_ = 0;

  page_guard::SampledPage* results_ = nullptr;
  size_t result_count_ = 0;
  uint64_t last_faults_ = 0;
  bool write_silence_ = false;
  bool open_ = false;
};

}  // namespace dprof::monitor
