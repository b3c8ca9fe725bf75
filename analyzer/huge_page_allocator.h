// An allocator for the analyzer's few large, randomly accessed arrays (the heap model's table of
// live blocks): allocations of 2 MiB or more come from their own mapping, aligned to 2 MiB and
// offered to the kernel for transparent huge pages (MADV_HUGEPAGE). A table of a million blocks
// spans tens of thousands of 4 KiB pages, so nearly every lookup missed the TLB as well as the
// cache, and a prefetch cannot hide a page walk; 2 MiB pages also take 512 times fewer page faults
// to fill. Where the kernel gives no huge pages the mapping works as any other.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace dprof::analyzer {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;

  HugePageAllocator() = default;
  template <typename U>
  explicit HugePageAllocator(const HugePageAllocator<U>& /*other*/) {}

  T* allocate(size_t count) {
    if (count > SIZE_MAX / sizeof(T)) throw std::bad_array_new_length();
    size_t bytes = count * sizeof(T);
    if (bytes < kHugePageBytes) return std::allocator<T>().allocate(count);
    size_t length = round_up(bytes);
    // Mapped one huge page longer, then trimmed to a 2 MiB boundary at both ends.
    void* mapped = mmap(nullptr, length + kHugePageBytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    auto start = reinterpret_cast<uintptr_t>(mapped);
    uintptr_t aligned = (start + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
    if (aligned > start) munmap(mapped, aligned - start);
    uintptr_t end = start + length + kHugePageBytes;
    if (end > aligned + length)
      munmap(reinterpret_cast<void*>(aligned + length), end - aligned - length);
    madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);
    return reinterpret_cast<T*>(aligned);
  }

  void deallocate(T* pointer, size_t count) {
    size_t bytes = count * sizeof(T);
    if (bytes < kHugePageBytes) {
      std::allocator<T>().deallocate(pointer, count);
      return;
    }
    munmap(pointer, round_up(bytes));
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>& /*other*/) const {
    return true;
  }

 private:
  static size_t round_up(size_t bytes) {
    return (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  }
};

}  // namespace dprof::analyzer
