#include "uffd_wp_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../internal_alloc.h"
#include "kernel_abi.h"

namespace dprof::monitor {
namespace {

constexpr uint64_t kPage = 4096;
constexpr size_t kSpanBatch = 1024;

}  // namespace

UffdWpBackend::~UffdWpBackend() {
  disarm();
  if (uffd_ >= 0) ::close(uffd_);
  if (pagemap_ >= 0) ::close(pagemap_);
  internal_alloc::release(registered_);
  internal_alloc::release(spans_);
  internal_alloc::release(pending_);
  internal_alloc::release(watched_);
  internal_alloc::release(next_watched_);
}

bool UffdWpBackend::reserve_watched(size_t count) {
  if (count <= watched_capacity_) return true;
  auto* grown = static_cast<WatchedPage*>(internal_alloc::allocate(count * sizeof(WatchedPage)));
  auto* next = static_cast<WatchedPage*>(internal_alloc::allocate(count * sizeof(WatchedPage)));
  if (grown == nullptr || next == nullptr) {
    internal_alloc::release(grown);
    internal_alloc::release(next);
    return false;
  }
  for (size_t i = 0; i < watched_count_; ++i) grown[i] = watched_[i];
  internal_alloc::release(watched_);
  internal_alloc::release(next_watched_);
  watched_ = grown;
  next_watched_ = next;
  watched_capacity_ = count;
  return true;
}

void UffdWpBackend::forget_watched_pages() {
  for (size_t i = 0; i < watched_count_; ++i) {
    if (watched_[i].still_protected) protect(watched_[i].address, kPage, false);
  }
  watched_count_ = 0;
}

bool UffdWpBackend::open(const char** reason) {
  uffd_ = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
  if (uffd_ < 0) {
    *reason = errno == ENOSYS
                  ? "the kernel has no userfaultfd"
                  : "userfaultfd is not permitted (vm.unprivileged_userfaultfd, seccomp)";
    return false;
  }
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
  if (ioctl(uffd_, UFFDIO_API, &api) != 0) {
    *reason = "the kernel lacks asynchronous userfaultfd write-protect (Linux >= 6.7)";
    return false;
  }
  pagemap_ = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap_ < 0) {
    *reason = "/proc/self/pagemap cannot be opened";
    return false;
  }
  // A scan of an empty range tells whether the ioctl exists (ENOTTY: unknown ioctl).
  pm_scan_arg probe{};
  probe.size = sizeof(probe);
  if (ioctl(pagemap_, PAGEMAP_SCAN, &probe) < 0 && errno == ENOTTY) {
    *reason = "the kernel lacks PAGEMAP_SCAN (Linux >= 6.7)";
    return false;
  }
  span_capacity_ = kSpanBatch;
  spans_ =
      static_cast<page_region*>(internal_alloc::allocate(span_capacity_ * sizeof(page_region)));
  if (spans_ == nullptr) {
    *reason = "out of memory";
    return false;
  }
  return true;
}

bool UffdWpBackend::protect(uint64_t start, uint64_t length, bool on) {
  uffdio_writeprotect request{};
  request.range.start = start;
  request.range.len = length;
  request.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
  return ioctl(uffd_, UFFDIO_WRITEPROTECT, &request) == 0;
}

bool UffdWpBackend::register_range(const AddressRange& range) {
  uffdio_register registration{};
  registration.range.start = range.start;
  registration.range.len = range.end - range.start;
  registration.mode = UFFDIO_REGISTER_MODE_WP;
  if (ioctl(uffd_, UFFDIO_REGISTER, &registration) != 0) return false;
  // Nothing is protected here. Exact mode's next check reports the pages already populated as
  // written (they were, before the monitor could watch) and protects them; pages populated later
  // are found the same way. Protecting the whole range now would also mark its unpopulated pages
  // (WP_UNPOPULATED), and the program's first write to each would then fault twice: once to
  // populate it, write-protected, and once more to lift the protection.
  // Sampled mode protects only the sampled pages, so it notes the populated pages instead.
  if (sampled_) remember_populated(range);
  return true;
}

void UffdWpBackend::remember_populated(const AddressRange& range) {
  if (pagemap_ < 0) return;
  if (pending_ == nullptr) {
    pending_ =
        static_cast<page_region*>(internal_alloc::allocate(span_capacity_ * sizeof(page_region)));
    if (pending_ == nullptr) return;
  }
  // Beyond the buffer's capacity the rest is dropped: their first writes go unseen, as before.
  if (pending_count_ >= span_capacity_) return;
  pm_scan_arg scan{};
  scan.size = sizeof(scan);
  scan.start = range.start;
  scan.end = range.end;
  scan.vec = reinterpret_cast<uint64_t>(pending_ + pending_count_);
  scan.vec_len = span_capacity_ - pending_count_;
  scan.category_mask = PAGE_IS_PRESENT;
  scan.return_mask = PAGE_IS_PRESENT;
  long found = ioctl(pagemap_, PAGEMAP_SCAN, &scan);
  if (found > 0) pending_count_ += static_cast<size_t>(found);
}

void UffdWpBackend::set_sampled(bool sampled) {
  if (sampled == sampled_) return;
  sampled_ = sampled;
  watched_count_ = 0;  // exact mode protects (sampled mode then releases) every page anyway
  if (sampled) {
    // Leaving exact mode: nothing stays protected.
    for (size_t i = 0; i < registered_count_; ++i) {
      protect(registered_[i].start, registered_[i].end - registered_[i].start, false);
    }
    protected_.clear();
  } else {
    // Entering it: every populated page is protected now (and counts as written only when it
    // is written again).
    for (size_t i = 0; i < registered_count_; ++i) {
      scan_written(registered_[i].start, registered_[i].end, nullptr, 0);
    }
  }
}

void UffdWpBackend::prepare_access_checks(Region* regions, size_t count) {
  if (!sampled_ || uffd_ < 0) return;
  if (!reserve_watched(count)) {
    forget_watched_pages();
    return;
  }
  // Regions and watched pages are both in address order: walk them together. A region whose
  // page the mprotect backend watches needs no second watcher: its fault says whether the access
  // wrote. (Each protection costs a TLB shootdown: on a virtual machine, tens of microseconds.)
  size_t entry = 0;
  size_t next = 0;
  for (size_t i = 0; i < count; ++i) {
    const Region& region = regions[i];
    bool kept = false;
    while (entry < watched_count_ && watched_[entry].address <= region.sampling_address) {
      const WatchedPage& page = watched_[entry++];
      if (page.address == region.sampling_address && region.read_sampled == 0 &&
          page.still_protected) {
        kept = true;
      } else if (page.still_protected) {
        protect(page.address, kPage, false);
      }
    }
    if (region.read_sampled != 0) continue;
    if (!kept && !protect(region.sampling_address, kPage, true)) continue;
    next_watched_[next++] = {region.sampling_address, static_cast<uint32_t>(i), true};
  }
  for (; entry < watched_count_; ++entry) {
    if (watched_[entry].still_protected) protect(watched_[entry].address, kPage, false);
  }
  WatchedPage* swap = watched_;
  watched_ = next_watched_;
  next_watched_ = swap;
  watched_count_ = next;
}

// Sampled mode: was each watched page written since it was protected? A written page is no
// longer protected (asynchronous write-protect lifts it on the write); an unwritten one stays
// protected for the next interval, or prepare_access_checks releases it.
void UffdWpBackend::check_sampled_pages(Region* regions, size_t count) {
  for (size_t w = 0; w < watched_count_; ++w) {
    WatchedPage& page = watched_[w];
    if (!page.still_protected || page.region >= count) continue;
    Region& region = regions[page.region];
    pm_scan_arg scan{};
    scan.size = sizeof(scan);
    scan.start = page.address;
    scan.end = page.address + kPage;
    scan.vec = reinterpret_cast<uint64_t>(spans_);
    scan.vec_len = 1;
    // Present too: an unpopulated page (unmapped by the program's allocator meanwhile) reads as
    // written otherwise.
    scan.category_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT;
    scan.return_mask = PAGE_IS_WRITTEN;
    long found = ioctl(pagemap_, PAGEMAP_SCAN, &scan);
    if (found > 0) {
      page.still_protected = false;
      region.sample_hit = 1;
      region.written_recently = 1;
      ++region.write_samples;
      ++last_written_pages_;
      ++last_write_faults_;  // (written_pages is exact mode's figure: regions keep none here)
    }
  }
}

void UffdWpBackend::update_targets(const AddressRange* ranges, size_t count) {
  if (uffd_ < 0) return;
  if (count > registered_capacity_) {
    auto* grown = static_cast<AddressRange*>(
        internal_alloc::reallocate(registered_, count * sizeof(AddressRange)));
    if (grown == nullptr) return;
    registered_ = grown;
    registered_capacity_ = count;
  }
  // Ranges already registered stay; new memory is registered and protected. (Unmapped memory
  // loses its registration with its mapping.)
  size_t kept = 0;
  auto* previous = static_cast<AddressRange*>(
      internal_alloc::allocate((registered_count_ + 1) * sizeof(AddressRange)));
  if (previous == nullptr) return;
  for (size_t i = 0; i < registered_count_; ++i) previous[i] = registered_[i];
  size_t previous_count = registered_count_;
  for (size_t i = 0; i < count; ++i) {
    const AddressRange& range = ranges[i];
    // Register the parts of `range` not covered by a previous registration.
    uint64_t cursor = range.start;
    for (size_t p = 0; p < previous_count && cursor < range.end; ++p) {
      if (previous[p].end <= cursor || previous[p].start >= range.end) continue;
      if (previous[p].start > cursor) register_range({cursor, previous[p].start});
      cursor = previous[p].end;
    }
    if (cursor < range.end) register_range({cursor, range.end});
    registered_[kept++] = range;
  }
  registered_count_ = kept;
  // Memory no longer watched (unmapped, or no longer a target) is no longer protected either: a
  // page mapped there later is new.
  for (size_t p = 0; p < previous_count; ++p) {
    uint64_t cursor = previous[p].start;
    for (size_t i = 0; i < count && cursor < previous[p].end; ++i) {
      if (ranges[i].end <= cursor || ranges[i].start >= previous[p].end) continue;
      if (ranges[i].start > cursor) protected_.forget(cursor, ranges[i].start);
      cursor = ranges[i].end;
    }
    if (cursor < previous[p].end) protected_.forget(cursor, previous[p].end);
  }
  internal_alloc::release(previous);
}

void UffdWpBackend::attribute(const page_region* spans, size_t span_count, Region* regions,
                              size_t count, bool protected_before) {
  // Both lists are sorted by address: walk them together.
  size_t r = 0;
  for (size_t s = 0; s < span_count; ++s) {
    const page_region& span = spans[s];
    uint64_t pages = (span.end - span.start) / kPage;
    last_written_pages_ += pages;
    // A written page that was protected took a write fault; one that was not (populated since
    // the last check, or before its range was registered) took none of ours.
    if (protected_before) last_write_faults_ += protected_.mark(span.start, span.end);
    while (r < count && regions[r].end <= span.start) ++r;
    for (size_t k = r; k < count && regions[k].start < span.end; ++k) {
      Region& region = regions[k];
      uint64_t from = region.start > span.start ? region.start : span.start;
      uint64_t to = region.end < span.end ? region.end : span.end;
      if (from >= to) continue;
      region.written_pages += (to - from) / kPage;
      region.written_recently = 1;
      if (region.sampling_address >= span.start && region.sampling_address < span.end) {
        region.sample_hit = 1;
        ++region.write_samples;
      }
    }
  }
}

void UffdWpBackend::check_accesses(Region* regions, size_t count) {
  last_written_pages_ = 0;
  last_write_faults_ = 0;
  for (size_t i = 0; i < count; ++i) regions[i].written_recently = 0;
  if (pagemap_ < 0) return;
  if (pending_count_ > 0) {
    attribute(pending_, pending_count_, regions, count, false);
    pending_count_ = 0;
  }
  if (sampled_) {
    check_sampled_pages(regions, count);
    return;
  }
  for (size_t i = 0; i < registered_count_; ++i) {
    scan_written(registered_[i].start, registered_[i].end, regions, count);
  }
}

void UffdWpBackend::scan_written(uint64_t start, uint64_t end, Region* regions, size_t count) {
  while (start < end) {
    pm_scan_arg scan{};
    scan.size = sizeof(scan);
    scan.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
    scan.start = start;
    scan.end = end;
    scan.vec = reinterpret_cast<uint64_t>(spans_);
    scan.vec_len = span_capacity_;
    // Written *and present*: asking for written pages alone takes the kernel's fast path, which
    // reports every unpopulated page of a page table as written and protects it (a marker, so
    // that the first write to it later faults twice): memory the allocator gave back read as
    // written at the next check.
    scan.category_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT;
    scan.return_mask = PAGE_IS_WRITTEN;
    long found = ioctl(pagemap_, PAGEMAP_SCAN, &scan);
    if (found < 0) break;  // unmapped meanwhile, or not registered: skip the rest
    if (regions != nullptr) {
      attribute(spans_, static_cast<size_t>(found), regions, count, true);
    } else {
      for (long s = 0; s < found; ++s) protected_.mark(spans_[s].start, spans_[s].end);
    }
    if (scan.walk_end <= start) break;
    start = scan.walk_end;
  }
}

uint64_t UffdWpBackend::measure_fault_cost_ns() {
  // Few pages and trials: this runs while the program starts, and takes CPU, the address space's
  // lock and TLB shootdowns from it (128 pages five times took 11 ms on a virtual machine).
  constexpr size_t kPages = 32;
  auto* scratch = static_cast<volatile char*>(
      mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (scratch == MAP_FAILED) return 2000;
  auto elapsed_writing = [&] {
    timespec before;
    timespec after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    for (size_t page = 0; page < kPages; ++page) scratch[page * kPage] = 1;
    clock_gettime(CLOCK_MONOTONIC, &after);
    return static_cast<uint64_t>((after.tv_sec - before.tv_sec) * 1000000000ll +
                                 (after.tv_nsec - before.tv_nsec));
  };
  elapsed_writing();  // populate: the cost of first touch is not ours
  AddressRange range{reinterpret_cast<uint64_t>(scratch),
                     reinterpret_cast<uint64_t>(scratch) + kPages * kPage};
  // The least of a few trials: a trial during which this thread was preempted measures the
  // scheduler, not the fault.
  uint64_t plain = UINT64_MAX;
  uint64_t faulting = UINT64_MAX;
  bool registered = register_range(range) && protect(range.start, range.end - range.start, true);
  for (int trial = 0; registered && trial < 3; ++trial) {
    uint64_t protected_run = elapsed_writing();  // every page faults once, then is writable
    uint64_t plain_run = elapsed_writing();
    if (protected_run < faulting) faulting = protected_run;
    if (plain_run < plain) plain = plain_run;
    uffdio_writeprotect protect{};
    protect.range.start = range.start;
    protect.range.len = range.end - range.start;
    protect.mode = UFFDIO_WRITEPROTECT_MODE_WP;
    if (ioctl(uffd_, UFFDIO_WRITEPROTECT, &protect) != 0) break;
  }
  uint64_t cost = 2000;  // a typical virtual machine's figure when nothing could be measured
  if (registered && faulting != UINT64_MAX) {
    cost = faulting > plain ? (faulting - plain) / kPages : 0;
    uffdio_range registration{range.start, range.end - range.start};
    ioctl(uffd_, UFFDIO_UNREGISTER, &registration);
  }
  munmap(const_cast<char*>(scratch), kPages * kPage);
  pending_count_ = 0;  // the scratch pages were never the program's
  return cost;
}

void UffdWpBackend::disarm() {
  if (uffd_ < 0) return;
  for (size_t i = 0; i < registered_count_; ++i) {
    uffdio_range range{registered_[i].start, registered_[i].end - registered_[i].start};
    ioctl(uffd_, UFFDIO_UNREGISTER, &range);
  }
  registered_count_ = 0;
  watched_count_ = 0;  // unregistered: nothing is protected any more
  protected_.clear();
}

}  // namespace dprof::monitor
