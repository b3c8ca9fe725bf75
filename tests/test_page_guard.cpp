// The safety protocol of read sampling (runtime/monitor/page_guard.h), driven directly: only
// pages holding the program's own blocks, untainted, unpinned, are ever protected; a taint, a free,
// a pin or a pause makes a protected page accessible before it returns; the fault handler restores
// access and reports the access; and under a race between a sampler and threads handing pages to
// the kernel, no system call ever fails with EFAULT.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "monitor/page_guard.h"

namespace page_guard = dprof::page_guard;

namespace {

constexpr uint64_t kPage = page_guard::kPageSize;

void on_segv(int, siginfo_t* info, void* context) {
  auto* user_context = static_cast<ucontext_t*>(context);
#if defined(__x86_64__)
  bool is_write = (user_context->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  auto pc = static_cast<uint64_t>(user_context->uc_mcontext.gregs[REG_RIP]);
#else
  bool is_write = false;
  auto pc = static_cast<uint64_t>(user_context->uc_mcontext.pc);
#endif
  if (!page_guard::handle_fault(reinterpret_cast<uint64_t>(info->si_addr), is_write, pc)) abort();
}

class PageGuard : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(page_guard::enable());
    struct sigaction action {};
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &action, &previous_);
    memory_ = static_cast<char*>(
        mmap(nullptr, 16 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(memory_, MAP_FAILED);
    memset(memory_, 5, 16 * kPage);
    start_ = reinterpret_cast<uint64_t>(memory_);
  }
  void TearDown() override {
    page_guard::SampledPage results[16];
    page_guard::end_sampling(results, 16);
    page_guard::remove_block(start_, start_ + 16 * kPage);
    munmap(memory_, 16 * kPage);
    sigaction(SIGSEGV, &previous_, nullptr);
  }
  uint64_t page(int index) const { return start_ + static_cast<uint64_t>(index) * kPage; }
  uint32_t state(int index) const {
    return (page_guard::page_word(page(index)) & page_guard::kStateMask) >> page_guard::kStateShift;
  }

  struct sigaction previous_ {};
  char* memory_ = nullptr;
  uint64_t start_ = 0;
};

}  // namespace

TEST_F(PageGuard, PagesHoldingProgramBlocksAreProtected) {
  // A block that starts and ends inside pages counts on every page it touches.
  page_guard::add_block(page(2) + 100, page(5) + 100, false);
  page_guard::begin_sampling();
  EXPECT_TRUE(page_guard::protect(page(2), 0));
  EXPECT_TRUE(page_guard::protect(page(3), 1));
  EXPECT_TRUE(page_guard::protect(page(5), 2));
  EXPECT_FALSE(page_guard::protect(page(6), 3));  // no block there
  EXPECT_FALSE(page_guard::protect(page(9), 4));  // never held one
  EXPECT_FALSE(page_guard::protect(page(3), 5));  // already protected
  EXPECT_EQ(state(3), page_guard::kProtected);
  page_guard::SampledPage results[8];
  ASSERT_EQ(page_guard::end_sampling(results, 8), 3u);
  EXPECT_EQ(state(3), page_guard::kIdle);
  EXPECT_EQ(results[0].outcome, 0u);  // nobody touched them
  EXPECT_EQ(memory_[3 * kPage], 5);   // accessible again
  page_guard::remove_block(page(2) + 100, page(5) + 100);
}

// Small blocks share pages: a page is a candidate while any block lies on it, and stops being one
// (and is made accessible) when its last block goes, not before.
TEST_F(PageGuard, APageCountsItsBlocksUntilTheLastOneGoes) {
  page_guard::add_block(page(3) + 16, page(3) + 64, false);
  page_guard::add_block(page(3) + 80, page(3) + 128, false);
  page_guard::add_block(page(3) + 4000, page(4) + 40, false);  // straddles two pages
  EXPECT_TRUE(page_guard::has_blocks(page(3)));
  EXPECT_EQ(page_guard::blocks_of(page_guard::page_word(page(3))), 3u);
  EXPECT_EQ(page_guard::blocks_of(page_guard::page_word(page(4))), 1u);
  page_guard::begin_sampling();
  ASSERT_TRUE(page_guard::protect(page(3), 0));
  page_guard::remove_block(page(3) + 16, page(3) + 64);
  EXPECT_EQ(state(3), page_guard::kProtected);  // two blocks left
  page_guard::remove_block(page(3) + 4000, page(4) + 40);
  EXPECT_EQ(state(3), page_guard::kProtected);
  EXPECT_FALSE(page_guard::has_blocks(page(4)));
  page_guard::remove_block(page(3) + 80, page(3) + 128);
  EXPECT_EQ(state(3), page_guard::kIdle);  // the last one: restored before the allocator reuses it
  EXPECT_FALSE(page_guard::has_blocks(page(3)));
  EXPECT_FALSE(page_guard::has_blocks(0));  // no leaf there at all
  page_guard::SampledPage results[8];
  ASSERT_EQ(page_guard::end_sampling(results, 8), 1u);
  EXPECT_EQ(results[0].outcome, static_cast<uint32_t>(page_guard::kOutcomeDropped));
  // Never below zero: a release of a block counted nowhere changes nothing.
  page_guard::remove_block(page(7) + 8, page(7) + 64);
  EXPECT_EQ(page_guard::blocks_of(page_guard::page_word(page(7))), 0u);
}

// A block the C library made for itself (a FILE, a stdio buffer) may be handed to the kernel by
// calls no hook sees: its pages are never protected, and a protected one is released at once.
// SHARED lasts until the page holds no block at all.
TEST_F(PageGuard, ABlockOfTheCLibraryKeepsItsPagesUnprotected) {
  page_guard::add_block(page(6) + 16, page(6) + 64, false);
  page_guard::begin_sampling();
  ASSERT_TRUE(page_guard::protect(page(6), 0));
  page_guard::add_block(page(6) + 256, page(6) + 1024, /*shared=*/true);
  EXPECT_EQ(state(6), page_guard::kIdle);
  EXPECT_FALSE(page_guard::eligible(page(6)));
  page_guard::remove_block(page(6) + 256, page(6) + 1024);
  EXPECT_FALSE(page_guard::eligible(page(6)));  // which block ended is not known: still shared
  page_guard::remove_block(page(6) + 16, page(6) + 64);
  page_guard::add_block(page(6) + 16, page(6) + 64, false);
  EXPECT_TRUE(page_guard::eligible(page(6)));  // emptied once: shared no more
  page_guard::remove_block(page(6) + 16, page(6) + 64);
  page_guard::SampledPage results[8];
  page_guard::end_sampling(results, 8);
}

// Pinned pages count no block, so that a block allocated before the runtime counted (on pinned
// memory) is not removed from a count it never joined.
TEST_F(PageGuard, PinnedPagesCountNothing) {
  page_guard::pin(page(8), page(9));
  page_guard::add_block(page(8) + 16, page(8) + 64, false);
  EXPECT_EQ(page_guard::blocks_of(page_guard::page_word(page(8))), 0u);
  EXPECT_FALSE(page_guard::eligible(page(8)));
}

TEST_F(PageGuard, AFaultRestoresAccessAndReportsTheAccess) {
  page_guard::add_block(page(0), page(16), false);
  page_guard::begin_sampling();
  ASSERT_TRUE(page_guard::protect(page(1), 7));
  ASSERT_TRUE(page_guard::protect(page(2), 8));
  volatile char* cells = memory_;
  EXPECT_EQ(cells[kPage + 10], 5);  // a read: faults, handled
  cells[2 * kPage + 20] = 9;        // a write
  EXPECT_EQ(cells[2 * kPage + 20], 9);
  page_guard::SampledPage results[8];
  ASSERT_EQ(page_guard::end_sampling(results, 8), 2u);
  EXPECT_EQ(results[0].region, 7u);
  EXPECT_EQ(results[0].outcome, static_cast<uint32_t>(page_guard::kOutcomeRead));
  EXPECT_NE(results[0].pc, 0u);
  EXPECT_GT(results[0].code_length, 0u);
  EXPECT_EQ(results[0].tid, static_cast<uint32_t>(gettid()));
#if defined(__x86_64__)
  EXPECT_EQ(results[1].outcome, static_cast<uint32_t>(page_guard::kOutcomeWrite));
#endif
}

TEST_F(PageGuard, TaintedPagesAreNeverProtectedAndTaintingReleases) {
  page_guard::add_block(page(0), page(16), false);
  page_guard::begin_sampling();
  ASSERT_TRUE(page_guard::taint_begin(page(4), page(4) + 10));
  EXPECT_FALSE(page_guard::protect(page(4), 0));
  page_guard::taint_end(page(4), page(4) + 10);
  ASSERT_TRUE(page_guard::protect(page(4), 0));
  // A system call into a protected page would fail with EFAULT: tainting first restores it.
  int pipe_ends[2];
  ASSERT_EQ(pipe(pipe_ends), 0);
  ASSERT_EQ(write(pipe_ends[1], "abcdef", 6), 6);
  ASSERT_TRUE(page_guard::taint_begin(page(4), page(4) + 6));
  EXPECT_EQ(state(4), page_guard::kIdle);
  EXPECT_EQ(read(pipe_ends[0], memory_ + 4 * kPage, 6), 6);
  page_guard::taint_end(page(4), page(4) + 6);
  close(pipe_ends[0]);
  close(pipe_ends[1]);
  page_guard::SampledPage results[8];
  ASSERT_EQ(page_guard::end_sampling(results, 8), 1u);
  EXPECT_EQ(results[0].outcome, static_cast<uint32_t>(page_guard::kOutcomeKernel));
  EXPECT_EQ(memcmp(memory_ + 4 * kPage, "abcdef", 6), 0);
}

TEST_F(PageGuard, FreeingPinningAndPausingRestoreAccess) {
  page_guard::add_block(page(0), page(16), false);
  page_guard::begin_sampling();
  ASSERT_TRUE(page_guard::protect(page(1), 0));
  ASSERT_TRUE(page_guard::protect(page(2), 1));
  ASSERT_TRUE(page_guard::protect(page(3), 2));
  page_guard::remove_block(page(0), page(16));  // the block freed, another on pages 2-15
  page_guard::add_block(page(2), page(16), false);
  EXPECT_EQ(state(1), page_guard::kIdle);
  EXPECT_FALSE(page_guard::eligible(page(1)));
  page_guard::pin(page(2) + 8, page(2) + 16);  // a signal stack, say
  EXPECT_EQ(state(2), page_guard::kIdle);
  EXPECT_FALSE(page_guard::eligible(page(2)));
  page_guard::pause_begin();
  EXPECT_EQ(state(3), page_guard::kIdle);
  EXPECT_FALSE(page_guard::protect(page(5), 3));  // nothing is protected while paused
  page_guard::pause_end();
  EXPECT_TRUE(page_guard::protect(page(5), 3));
  page_guard::SampledPage results[8];
  size_t count = page_guard::end_sampling(results, 8);
  ASSERT_EQ(count, 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(results[i].outcome, static_cast<uint32_t>(page_guard::kOutcomeDropped)) << i;
  }
}

// A sampler protecting and releasing pages as fast as it can, against threads that keep handing
// the same pages to the kernel (read(2) from a pipe) and touching them: no EFAULT, no short read,
// no lost data, whatever the interleaving.
TEST_F(PageGuard, NoSystemCallEverSeesAProtectedPage) {
  page_guard::add_block(page(0), page(16), false);
  std::atomic<bool> stop{false};
  std::atomic<long> failures{0};
  std::thread sampler([&] {
    page_guard::SampledPage results[16];
    while (!stop.load()) {
      page_guard::begin_sampling();
      for (int i = 0; i < 16; ++i) page_guard::protect(page(i), static_cast<uint32_t>(i));
      page_guard::end_sampling(results, 16);
    }
  });
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      int pipe_ends[2];
      if (pipe2(pipe_ends, O_NONBLOCK) != 0) {  // a failed read must not block a write
        ++failures;
        return;
      }
      char message[64];
      memset(message, 'a' + w, sizeof(message));
      for (int round = 0; round < 20000; ++round) {
        char* target = memory_ + ((round * 3 + w) % 16) * kPage + w * 100;
        if (write(pipe_ends[1], message, sizeof(message)) != sizeof(message)) ++failures;
        uint64_t start = reinterpret_cast<uint64_t>(target);
        bool marked = page_guard::taint_begin(start, start + sizeof(message));
        ssize_t got = read(pipe_ends[0], target, sizeof(message));
        if (marked) page_guard::taint_end(start, start + sizeof(message));
        if (got != sizeof(message) || memcmp(target, message, sizeof(message)) != 0) ++failures;
      }
      close(pipe_ends[0]);
      close(pipe_ends[1]);
    });
  }
  for (auto& worker : workers) worker.join();
  stop = true;
  sampler.join();
  EXPECT_EQ(failures.load(), 0);
}

// A secondary glibc arena starts each heap (64 MiB-aligned) with its header and mutex, on a page
// its first chunks share: never protected, whatever its blocks.
TEST_F(PageGuard, APageThatMayHoldAnArenaHeaderIsNeverProtected) {
  constexpr uint64_t kHeapAlignment = uint64_t{64} << 20;
  void* reserved = mmap(nullptr, 2 * kHeapAlignment, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(reserved, MAP_FAILED);
  uint64_t aligned =
      (reinterpret_cast<uint64_t>(reserved) + kHeapAlignment - 1) & ~(kHeapAlignment - 1);
  page_guard::add_block(aligned + 2300, aligned + 2400, false);
  page_guard::add_block(aligned + kPage + 16, aligned + kPage + 64, false);
  EXPECT_FALSE(page_guard::eligible(aligned));
  EXPECT_TRUE(page_guard::eligible(aligned + kPage));
  page_guard::begin_sampling();
  EXPECT_FALSE(page_guard::protect(aligned, 0));
  page_guard::remove_block(aligned + 2300, aligned + 2400);
  page_guard::remove_block(aligned + kPage + 16, aligned + kPage + 64);
  munmap(reserved, 2 * kHeapAlignment);
}

TEST_F(PageGuard, AnUntouchedPageStaysArmedUntilTouchedOrDisarmed) {
  page_guard::add_block(page(0), page(16), false);
  page_guard::begin_sampling();
  uint32_t quiet = page_guard::arm(page(10), 0);
  uint32_t read = page_guard::arm(page(11), 1);
  ASSERT_NE(quiet, page_guard::kNoSlot);
  ASSERT_NE(read, page_guard::kNoSlot);
  page_guard::SampledPage sample;
  // Nothing touched either: both stay protected from one look to the next.
  EXPECT_TRUE(page_guard::inspect(quiet, &sample));
  EXPECT_EQ(sample.outcome, 0u);
  EXPECT_EQ(state(10), page_guard::kProtected);
  EXPECT_EQ(static_cast<volatile char*>(memory_)[11 * kPage + 100], 5);  // faults
  EXPECT_FALSE(page_guard::inspect(read, &sample));
  EXPECT_EQ(sample.outcome, static_cast<uint32_t>(page_guard::kOutcomeRead));
  EXPECT_EQ(sample.address, page(11) + 100);
  EXPECT_TRUE(page_guard::inspect(quiet, &sample));
  EXPECT_EQ(state(10), page_guard::kProtected);
  // The touched page's slot is freed and taken again by the next page armed.
  page_guard::disarm(read);
  EXPECT_EQ(page_guard::arm(page(11), 1), read);
  // A pause restores every armed page, whatever interval armed it.
  page_guard::pause_begin();
  EXPECT_FALSE(page_guard::inspect(quiet, &sample));
  EXPECT_EQ(sample.outcome, static_cast<uint32_t>(page_guard::kOutcomeDropped));
  EXPECT_EQ(state(10), page_guard::kIdle);
  EXPECT_EQ(state(11), page_guard::kIdle);
  page_guard::pause_end();
  page_guard::disarm_all();
  EXPECT_FALSE(page_guard::inspect(quiet, &sample));
  EXPECT_EQ(sample.page, 0u);  // a free slot holds nothing
}

TEST_F(PageGuard, ThePagesTheSamplerMayProtectAreKnownFromTheirWords) {
  // (Pins are for good: pages no other test uses.)
  page_guard::add_block(page(13), page(15), false);
  EXPECT_TRUE(page_guard::sampler_may_protect(page(13), page(15)));
  EXPECT_FALSE(page_guard::sampler_may_protect(page(12), page(14)));  // page 12 holds no block
  page_guard::pin(page(14), page(15));
  EXPECT_FALSE(page_guard::sampler_may_protect(page(13), page(15)));  // the program's PROT_NONE
  page_guard::remove_block(page(13), page(15));
}
