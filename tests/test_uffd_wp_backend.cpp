// The userfaultfd write-protect backend on this process's own memory: written pages are found
// exactly, once, and kernel-side writes (read(2) into protected memory) still work.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "monitor/kernel_abi.h"
#include "monitor/monitor_core.h"
#include "monitor/uffd_wp_backend.h"

using dprof::monitor::AddressRange;
using dprof::monitor::CoreSettings;
using dprof::monitor::MonitorCore;
using dprof::monitor::Region;
using dprof::monitor::UffdWpBackend;

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kPages = 64;

class UffdWp : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* reason = nullptr;
    if (!backend_.open(&reason)) GTEST_SKIP() << "uffd-wp unavailable here: " << reason;
    memory_ = static_cast<char*>(
        mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(memory_, MAP_FAILED);
    std::memset(memory_, 1, kPages * kPage);  // written before the monitor watched it
    range_ = {reinterpret_cast<uint64_t>(memory_),
              reinterpret_cast<uint64_t>(memory_) + kPages * kPage};
    CoreSettings settings;
    settings.min_nr_regions = 4;
    settings.max_nr_regions = 4;
    core_ = new MonitorCore(settings, 1);
    core_->set_targets(&range_, 1);
    backend_.update_targets(&range_, 1);
  }
  void TearDown() override {
    delete core_;
    if (memory_ != nullptr && memory_ != MAP_FAILED) munmap(memory_, kPages * kPage);
  }
  uint64_t written_in_regions() const {
    uint64_t total = 0;
    for (size_t i = 0; i < core_->count(); ++i) total += core_->regions()[i].written_pages;
    return total;
  }

  UffdWpBackend backend_;
  char* memory_ = nullptr;
  AddressRange range_{};
  MonitorCore* core_ = nullptr;
};

}  // namespace

TEST_F(UffdWp, FindsExactlyThePagesWrittenSinceTheLastCheck) {
  // The pages written before the range was registered count once, at the first check: a block
  // filled before the monitor saw it was touched. They cost the program no fault: the cost model
  // must not charge them.
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), kPages);
  EXPECT_EQ(backend_.last_write_faults(), 0u);
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), 0u);
  core_->reset_and_split();  // a new aggregation interval: the regions' counts start again
  for (size_t page : {3u, 10u, 11u, 40u}) memory_[page * kPage + 17] = 2;
  volatile char sink = memory_[20 * kPage];  // reads are not writes
  (void)sink;
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), 4u);
  EXPECT_EQ(backend_.last_write_faults(), 4u);  // each page faulted on its first write
  EXPECT_EQ(written_in_regions(), 4u);
  // Protected again by the scan: nothing new until the next write.
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), 0u);
  memory_[3 * kPage] = 3;
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), 1u);
}

TEST_F(UffdWp, TheSampledPageCountsAnAccessOnce) {
  backend_.check_accesses(core_->regions(), core_->count());  // the writes made before watching
  core_->count_sample_hits();
  core_->reset_and_split();
  core_->choose_sampling_addresses();
  // Write the sampled page of region 0 only.
  *reinterpret_cast<volatile char*>(core_->regions()[0].sampling_address) = 9;
  backend_.check_accesses(core_->regions(), core_->count());
  core_->count_sample_hits();
  EXPECT_EQ(core_->regions()[0].nr_accesses, 1u);
  EXPECT_EQ(core_->regions()[0].write_samples, 1u);
  for (size_t i = 1; i < core_->count(); ++i) EXPECT_EQ(core_->regions()[i].nr_accesses, 0u);
}

TEST_F(UffdWp, KernelWritesIntoProtectedMemoryStillSucceed) {
  backend_.check_accesses(core_->regions(), core_->count());
  int fd = open("/proc/self/stat", O_RDONLY);
  ASSERT_GE(fd, 0);
  ssize_t got = read(fd, memory_ + 5 * kPage, 2 * kPage);  // the kernel writes protected pages
  close(fd);
  EXPECT_GT(got, 0);  // no EFAULT
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_GE(backend_.last_written_pages(), 1u);
}

TEST_F(UffdWp, NewMemoryIsPickedUpByUpdateTargets) {
  backend_.check_accesses(core_->regions(), core_->count());  // the writes made before watching
  char* more = static_cast<char*>(
      mmap(nullptr, 8 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(more, MAP_FAILED);
  AddressRange ranges[2] = {
      range_, {reinterpret_cast<uint64_t>(more), reinterpret_cast<uint64_t>(more) + 8 * kPage}};
  if (ranges[1].start < ranges[0].start) std::swap(ranges[0], ranges[1]);
  backend_.update_targets(ranges, 2);
  core_->set_targets(ranges, 2);
  more[kPage] = 1;  // never touched before: populated by this write
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), 1u);
  EXPECT_EQ(backend_.last_write_faults(), 0u);  // a fault the program takes anyway
  munmap(more, 8 * kPage);
}

namespace {

long minor_faults_of_this_thread() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

}  // namespace

TEST_F(UffdWp, FirstWritesToNewPagesFaultOnceAndAreNotCharged) {
  backend_.check_accesses(core_->regions(), core_->count());  // the writes made before watching
  constexpr size_t kNew = 32;
  char* fresh = static_cast<char*>(
      mmap(nullptr, kNew * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(fresh, MAP_FAILED);
  AddressRange ranges[2] = {
      range_,
      {reinterpret_cast<uint64_t>(fresh), reinterpret_cast<uint64_t>(fresh) + kNew * kPage}};
  if (ranges[1].start < ranges[0].start) std::swap(ranges[0], ranges[1]);
  backend_.update_targets(ranges, 2);
  core_->set_targets(ranges, 2);
  // Unpopulated pages are not protected: each first write populates its page, one fault, as
  // without the monitor (protecting them made it two: populate write-protected, then unprotect).
  long before = minor_faults_of_this_thread();
  for (size_t page = 0; page < kNew; ++page) fresh[page * kPage] = 1;
  long faults = minor_faults_of_this_thread() - before;
  EXPECT_GE(faults, static_cast<long>(kNew));
  EXPECT_LT(faults, static_cast<long>(2 * kNew));
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), kNew);
  EXPECT_EQ(backend_.last_write_faults(), 0u);
  // Protected by that check: writing them again is a write fault on each, and charged.
  for (size_t page = 0; page < kNew; ++page) fresh[page * kPage] = 2;
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), kNew);
  EXPECT_EQ(backend_.last_write_faults(), kNew);
  munmap(fresh, kNew * kPage);
}

TEST_F(UffdWp, MemoryGivenBackIsNotTakenForWritten) {
  backend_.check_accesses(core_->regions(), core_->count());  // the writes made before watching
  // What free() does with a large block: the pages go, the mapping stays.
  ASSERT_EQ(madvise(memory_, kPages * kPage, MADV_DONTNEED), 0);
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), 0u);
  memory_[2 * kPage] = 1;
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), 1u);
}

namespace {

// Pages of [start, end) still write-protected (not "written" in PAGEMAP_SCAN's terms).
size_t protected_pages(uint64_t start, uint64_t end) {
  int pagemap = open("/proc/self/pagemap", O_RDONLY);
  page_region spans[64];
  pm_scan_arg scan{};
  scan.size = sizeof(scan);
  scan.start = start;
  scan.end = end;
  scan.vec = reinterpret_cast<uint64_t>(spans);
  scan.vec_len = 64;
  scan.category_inverted = PAGE_IS_WRITTEN;
  scan.category_mask = PAGE_IS_WRITTEN;
  scan.return_mask = PAGE_IS_WRITTEN;
  long found = ioctl(pagemap, PAGEMAP_SCAN, &scan);
  close(pagemap);
  size_t pages = 0;
  for (long i = 0; i < found; ++i) pages += (spans[i].end - spans[i].start) / kPage;
  return pages;
}

}  // namespace

TEST_F(UffdWp, SampledModeWatchesOnePagePerRegionAndKeepsUnwrittenPagesArmed) {
  backend_.check_accesses(core_->regions(), core_->count());  // the writes made before watching
  core_->count_sample_hits();
  core_->reset_and_split();
  backend_.set_sampled(true);
  EXPECT_EQ(protected_pages(range_.start, range_.end), 0u);
  core_->choose_sampling_addresses();
  backend_.prepare_access_checks(core_->regions(), core_->count());
  EXPECT_EQ(protected_pages(range_.start, range_.end), core_->count());
  // Write region 0's sampled page, and a page of region 1 that is not its sampled one.
  *reinterpret_cast<volatile char*>(core_->regions()[0].sampling_address) = 1;
  uint64_t other = core_->regions()[1].sampling_address == core_->regions()[1].start
                       ? core_->regions()[1].start + kPage
                       : core_->regions()[1].start;
  *reinterpret_cast<volatile char*>(other) = 1;
  backend_.check_accesses(core_->regions(), core_->count());
  core_->count_sample_hits();
  EXPECT_EQ(core_->regions()[0].nr_accesses, 1u);
  EXPECT_EQ(core_->regions()[1].nr_accesses, 0u);
  EXPECT_EQ(backend_.last_written_pages(), 1u);
  EXPECT_EQ(backend_.last_write_faults(), 1u);
  // The unwritten pages stay protected into the next interval; the written one is not.
  size_t count = core_->count();
  EXPECT_EQ(protected_pages(range_.start, range_.end), count - 1);
  // Next interval, same pages: only the written one is protected again.
  backend_.prepare_access_checks(core_->regions(), core_->count());
  EXPECT_EQ(protected_pages(range_.start, range_.end), count);
  // A region whose sampled page moves: the old page is released, the new one protected.
  Region& moved = core_->regions()[1];
  uint64_t old_page = moved.sampling_address;
  moved.sampling_address = old_page == moved.start ? moved.start + kPage : moved.start;
  moved.sample_intervals = 1;
  backend_.prepare_access_checks(core_->regions(), core_->count());
  EXPECT_EQ(protected_pages(range_.start, range_.end), count);
  EXPECT_EQ(protected_pages(old_page, old_page + kPage), 0u);
  EXPECT_EQ(protected_pages(moved.sampling_address, moved.sampling_address + kPage), 1u);
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), 0u);
  // Back to exact mode: every populated page protected again, and written only when written.
  backend_.set_sampled(false);
  EXPECT_EQ(protected_pages(range_.start, range_.end), kPages);
  backend_.check_accesses(core_->regions(), core_->count());
  EXPECT_EQ(backend_.last_written_pages(), 0u);
}
