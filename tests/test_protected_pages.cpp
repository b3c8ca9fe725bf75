// The set of pages exact write tracking has protected: how a written page is told to have cost a
// write fault (it was protected) or not (populated since the last check).
#include <gtest/gtest.h>

#include "monitor/protected_pages.h"

using dprof::monitor::ProtectedPages;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kGigabyte = uint64_t{1} << 30;
constexpr uint64_t kBase = uint64_t{0x7f0000000000};

}  // namespace

TEST(ProtectedPages, MarkCountsThePagesAlreadyMarked) {
  ProtectedPages pages;
  EXPECT_EQ(pages.mark(kBase, kBase + 8 * kPage), 0u);
  EXPECT_EQ(pages.mark(kBase + 4 * kPage, kBase + 12 * kPage), 4u);
  EXPECT_EQ(pages.mark(kBase, kBase + 12 * kPage), 12u);
}

TEST(ProtectedPages, ForgottenPagesAreNewAgain) {
  ProtectedPages pages;
  pages.mark(kBase, kBase + 64 * kPage);
  pages.forget(kBase + 10 * kPage, kBase + 20 * kPage);
  EXPECT_EQ(pages.mark(kBase, kBase + 64 * kPage), 54u);
  pages.clear();
  EXPECT_EQ(pages.mark(kBase, kBase + 64 * kPage), 0u);
}

TEST(ProtectedPages, RangesAcrossGigabytesAndFarApart) {
  ProtectedPages pages;
  // Straddles a leaf boundary.
  uint64_t edge = kBase + kGigabyte;
  EXPECT_EQ(pages.mark(edge - 3 * kPage, edge + 5 * kPage), 0u);
  EXPECT_EQ(pages.mark(edge - kPage, edge + kPage), 2u);
  pages.forget(edge - 3 * kPage, edge + 5 * kPage);
  EXPECT_EQ(pages.mark(edge - 3 * kPage, edge + 5 * kPage), 0u);
  // A heap low in the address space and mappings high up, as in a real process.
  EXPECT_EQ(pages.mark(0x555555554000, 0x555555554000 + 2 * kPage), 0u);
  EXPECT_EQ(pages.mark(0x555555554000, 0x555555554000 + 2 * kPage), 2u);
}

TEST(ProtectedPages, BeyondItsLeavesEveryPageCountsAsProtected) {
  ProtectedPages pages;
  for (uint64_t i = 0; i < ProtectedPages::kMaxLeaves; ++i) {
    EXPECT_EQ(pages.mark(kBase + i * kGigabyte, kBase + i * kGigabyte + kPage), 0u);
  }
  // No room to remember this gigabyte: a fault is charged that maybe was not taken (the cost
  // model errs on the side of the program).
  uint64_t beyond = kBase + ProtectedPages::kMaxLeaves * kGigabyte;
  EXPECT_EQ(pages.mark(beyond, beyond + 3 * kPage), 3u);
}
