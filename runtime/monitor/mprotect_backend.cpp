#include "mprotect_backend.h"

#include <sys/mman.h>
#include <time.h>

#include "../c_library_code.h"
#include "../internal_alloc.h"
#include "../segv_dispatch.h"
#include "../sys.h"
#include "target_discovery.h"

namespace dprof::monitor {
namespace {

constexpr uint64_t kPage = page_guard::kPageSize;
// How far from the random sampling address a safe page is looked for, each way.
constexpr uint64_t kProbePages = 16;

// The blocks allocated before page_guard::enable() were never counted: the memory that holds
// them is pinned for good. Read after enable(), so a block allocated before it lies in memory
// listed here (or in memory since unmapped, with its blocks). Before main() this is little more
// than the dynamic linker's and the C library's first allocations.
bool pin_existing_memory(const AddressRange* runtime_memory, size_t runtime_ranges) {
  constexpr size_t kMaxExisting = 4096;
  auto* existing =
      static_cast<AddressRange*>(internal_alloc::allocate(kMaxExisting * sizeof(AddressRange)));
  if (existing == nullptr) return false;
  size_t found = discover_targets(runtime_memory, runtime_ranges, existing, kMaxExisting);
  for (size_t i = 0; i < found; ++i) page_guard::pin(existing[i].start, existing[i].end);
  internal_alloc::release(existing);
  return found > 0 && found < kMaxExisting;
}

}  // namespace

constexpr size_t kNoEntry = SIZE_MAX;

MprotectBackend::~MprotectBackend() {
  disarm();
  internal_alloc::release(results_);
  internal_alloc::release(armed_);
  internal_alloc::release(next_armed_);
  internal_alloc::release(rearm_page_);
  internal_alloc::release(kept_entry_);
}

bool MprotectBackend::reserve_scratch(size_t regions) {
  if (regions <= scratch_capacity_) return true;
  auto* rearm = static_cast<uint64_t*>(internal_alloc::allocate(regions * sizeof(uint64_t)));
  auto* kept = static_cast<size_t*>(internal_alloc::allocate(regions * sizeof(size_t)));
  if (rearm == nullptr || kept == nullptr) {
    internal_alloc::release(rearm);
    internal_alloc::release(kept);
    return false;
  }
  internal_alloc::release(rearm_page_);
  internal_alloc::release(kept_entry_);
  rearm_page_ = rearm;
  kept_entry_ = kept;
  scratch_capacity_ = regions;
  return true;
}

bool MprotectBackend::open(const AddressRange* runtime_memory, size_t runtime_ranges,
                           const char** reason) {
  results_ = static_cast<page_guard::SampledPage*>(
      internal_alloc::allocate(page_guard::kMaxSampledPages * sizeof(page_guard::SampledPage)));
  armed_ = static_cast<ArmedPage*>(
      internal_alloc::allocate(page_guard::kMaxSampledPages * sizeof(ArmedPage)));
  next_armed_ = static_cast<ArmedPage*>(
      internal_alloc::allocate(page_guard::kMaxSampledPages * sizeof(ArmedPage)));
  if (results_ == nullptr || armed_ == nullptr || next_armed_ == nullptr) {
    *reason = "out of memory";
    return false;
  }
  c_library_code::locate();
  // A fork child inherits the parent's counts, which are true of its memory too.
  bool counting_already = page_guard::enabled();
  if (!page_guard::enable()) {
    *reason = "read sampling was stopped earlier in this process";
    return false;
  }
  if (!counting_already && !pin_existing_memory(runtime_memory, runtime_ranges)) {
    page_guard::disable("read sampling unavailable: the memory that existed at start is unknown");
    *reason = "the process's memory map could not be read";
    return false;
  }
  if (!segv_dispatch::install()) {
    page_guard::disable("read sampling unavailable: the SIGSEGV handler could not be installed");
    *reason = "the SIGSEGV handler could not be installed";
    return false;
  }
  open_ = true;
  return true;
}

uint64_t MprotectBackend::pick_page(const Region& region) const {
  uint64_t first = (region.start + kPage - 1) & ~(kPage - 1);
  uint64_t end = region.end & ~(kPage - 1);
  if (first >= end) return 0;
  uint64_t chosen = region.sampling_address & ~(kPage - 1);
  if (chosen < first || chosen >= end) chosen = first;
  // The kernel samples a random page; only pages holding nothing but the program's own live
  // blocks are safe here, so the nearest such page to the random one stands in for it.
  for (uint64_t step = 0; step <= kProbePages; ++step) {
    uint64_t above = chosen + step * kPage;
    if (above < end && page_guard::eligible(above)) return above;
    if (step > 0 && chosen >= first + step * kPage) {
      uint64_t below = chosen - step * kPage;
      if (page_guard::eligible(below)) return below;
    }
  }
  return 0;
}

void MprotectBackend::prepare_access_checks(Region* regions, size_t count) {
  if (!open_) return;
  if (!reserve_scratch(count)) {
    // No room to match pages to regions: nothing is sampled this interval.
    for (size_t i = 0; i < armed_count_; ++i) page_guard::disarm(armed_[i].slot);
    armed_count_ = 0;
    for (size_t i = 0; i < count; ++i) regions[i].read_sampled = 0;
    return;
  }
  // First every page no region keeps armed is released (before anything is armed: a page is
  // in one slot at a time). Regions and armed pages are both in address order.
  size_t entry = 0;
  for (size_t i = 0; i < count; ++i) {
    Region& region = regions[i];
    region.read_sampled = 0;
    rearm_page_[i] = 0;
    kept_entry_[i] = kNoEntry;
    bool wanted = !(write_silence_ && region.written_recently != 0);
    while (entry < armed_count_ && armed_[entry].sampling_address < region.sampling_address) {
      page_guard::disarm(armed_[entry++].slot);
    }
    if (entry < armed_count_ && armed_[entry].sampling_address == region.sampling_address) {
      const ArmedPage& same = armed_[entry++];
      if (wanted && same.still_protected) {
        kept_entry_[i] = entry - 1;
        continue;
      }
      page_guard::disarm(same.slot);  // touched (or given back): free its slot
      if (wanted) rearm_page_[i] = same.page;
    }
  }
  while (entry < armed_count_) page_guard::disarm(armed_[entry++].slot);
  // Then each region gets its page: the one it keeps, the same one armed again after a touch,
  // or a new one near its new sampling address.
  size_t next = 0;
  for (size_t i = 0; i < count; ++i) {
    Region& region = regions[i];
    if (kept_entry_[i] != kNoEntry) {
      next_armed_[next] = armed_[kept_entry_[i]];
      next_armed_[next++].region = static_cast<uint32_t>(i);
      region.read_sampled = 1;
      ++region.read_probes;
      continue;
    }
    if (write_silence_ && region.written_recently != 0) continue;
    uint64_t page = rearm_page_[i] != 0 && page_guard::eligible(rearm_page_[i]) ? rearm_page_[i]
                                                                                : pick_page(region);
    if (page == 0) continue;
    uint32_t slot = page_guard::arm(page, static_cast<uint32_t>(i));
    if (slot == page_guard::kNoSlot) continue;
    next_armed_[next++] = {region.sampling_address, page, slot, static_cast<uint32_t>(i), true};
    region.read_sampled = 1;
    ++region.read_probes;
  }
  ArmedPage* swap = armed_;
  armed_ = next_armed_;
  next_armed_ = swap;
  armed_count_ = next;
}

void MprotectBackend::check_accesses(Region* regions, size_t count) {
  last_faults_ = 0;
  result_count_ = 0;
  if (!open_) return;
  for (size_t i = 0; i < armed_count_; ++i) {
    ArmedPage& armed = armed_[i];
    page_guard::SampledPage sample;
    armed.still_protected = page_guard::inspect(armed.slot, &sample);
    if (armed.still_protected || armed.region >= count) continue;
    Region& region = regions[armed.region];
    uint32_t outcome = sample.outcome;
    if ((outcome & (page_guard::kOutcomeRead | page_guard::kOutcomeWrite |
                    page_guard::kOutcomeKernel)) == 0) {
      continue;
    }
    region.sample_hit = 1;
    if ((outcome & page_guard::kOutcomeWrite) != 0) {
      ++region.write_samples;
    } else {
      ++region.read_samples;  // a read, or the kernel's access for a system call
    }
    if ((outcome & (page_guard::kOutcomeRead | page_guard::kOutcomeWrite)) != 0) {
      ++last_faults_;
      sample.region = armed.region;
      results_[result_count_++] = sample;  // kept for the access-site records
    }
  }
}

void MprotectBackend::disarm() {
  if (!open_) return;
  open_ = false;
  armed_count_ = 0;
  page_guard::disable(nullptr);  // monitoring ends: no reason to report
}

uint64_t MprotectBackend::measure_fault_cost_ns() {
  constexpr int kTrials = 6;
  void* scratch = sys::map_anonymous(kPage);
  if (scratch == nullptr) return 20000;
  auto page = reinterpret_cast<uint64_t>(scratch);
  auto* cell = static_cast<volatile char*>(scratch);
  *cell = 1;
  page_guard::add_block(page, page + kPage, /*shared=*/false);
  uint64_t best = UINT64_MAX;
  for (int trial = 0; trial < kTrials; ++trial) {
    // A SIGSEGV handler the program installed behind the runtime's back would get this fault.
    if (!segv_dispatch::still_ours()) break;
    page_guard::begin_sampling();
    uint64_t before = sys::monotonic_ns();
    bool armed = page_guard::protect(page, 0);
    char value = *cell;  // faults: the handler restores access
    uint64_t elapsed = sys::monotonic_ns() - before;
    (void)value;
    page_guard::end_sampling(results_, 1);
    if (armed && elapsed < best) best = elapsed;
  }
  page_guard::begin_sampling();
  page_guard::remove_block(page, page + kPage);
  sys::unmap(scratch, kPage);
  // A typical virtual machine's figure when nothing could be measured.
  return best == UINT64_MAX ? 20000 : best;
}

}  // namespace dprof::monitor
