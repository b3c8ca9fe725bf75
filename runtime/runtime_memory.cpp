#include "runtime_memory.h"

#include <sys/mman.h>

#include "internal_alloc.h"
#include "monitor/page_guard.h"
#include "sampled_blocks.h"
#include "stack_table.h"
#include "sys.h"
#include "thread_ring.h"

namespace dprof::runtime_memory {
namespace {

constexpr uint64_t kPage = 4096;
constexpr size_t kChunkPages = 4096;  // 16 MiB per mincore() call

uint64_t resident_in(uint64_t start, uint64_t end) {
  start &= ~(kPage - 1);
  end = (end + kPage - 1) & ~(kPage - 1);
  unsigned char residency[kChunkPages];
  uint64_t resident = 0;
  for (uint64_t chunk = start; chunk < end; chunk += kChunkPages * kPage) {
    uint64_t chunk_end = end - chunk > kChunkPages * kPage ? chunk + kChunkPages * kPage : end;
    size_t pages = (chunk_end - chunk) / kPage;
    if (sys::raw_syscall(SYS_mincore, static_cast<long>(chunk),
                         static_cast<long>(chunk_end - chunk),
                         reinterpret_cast<long>(residency)) != 0) {
      continue;
    }
    for (size_t i = 0; i < pages; ++i) resident += residency[i] & 1;
  }
  return resident * kPage;
}

}  // namespace

uint64_t resident_bytes() {
  uint64_t total = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  internal_alloc::used_range(&start, &end);
  if (end > start) total += resident_in(start, end);
  stack_table::memory_range(&start, &end);
  if (end > start) total += resident_in(start, end);
  sampled_blocks::memory_range(&start, &end);
  if (end > start) total += resident_in(start, end);
  // Rings as far as they were ever written, and what libraries mapped for the runtime.
  total += ring_registry::resident_bytes();
  constexpr size_t kRanges = 512;
  uint64_t ranges[kRanges][2];
  size_t count = page_guard::memory_ranges(ranges, kRanges);
  for (size_t i = 0; i < count; ++i) total += resident_in(ranges[i][0], ranges[i][1]);
  return total;
}

}  // namespace dprof::runtime_memory
