// Three allocation sites with known access behaviour, for the hot/idle attribution tests:
//   make_hot_table      16 MiB, read and written at random for the whole run
//   make_idle_cache     16 MiB, filled once at the start, never touched again
//   make_untouched_pool 16 MiB mapping, never touched at all
//   hot_idle_sites SECONDS
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

namespace {

constexpr size_t kBytes = 16u << 20;
volatile unsigned long long sink;

__attribute__((noinline)) char* make_hot_table() {
  return static_cast<char*>(std::malloc(kBytes));
}

__attribute__((noinline)) char* make_idle_cache() {
  auto* cache = static_cast<char*>(std::malloc(kBytes));
  std::memset(cache, 7, kBytes);
  return cache;
}

// Placed far from every other mapping: adjacent anonymous mappings merge into one VMA, and a
// region spanning the pool and the idle cache while the cache is being filled would (rightly, at
// region granularity) count the pool as touched.
__attribute__((noinline)) char* make_untouched_pool() {
  void* far_away = reinterpret_cast<void*>(0x200000000000ULL);
  void* pool = mmap(far_away, kBytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (pool == MAP_FAILED) {
    pool = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  return pool == MAP_FAILED ? nullptr : static_cast<char*>(pool);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::strtod(argv[1], nullptr) : 3.0;
  char* hot = make_hot_table();
  char* idle = make_idle_cache();
  char* untouched = make_untouched_pool();
  if (hot == nullptr || idle == nullptr || untouched == nullptr) return 1;
  std::memset(hot, 1, kBytes);
  std::mt19937_64 random(42);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  auto end = std::chrono::steady_clock::now() +
             std::chrono::microseconds(static_cast<long long>(seconds * 1e6));
  unsigned long long sum = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 4096; ++i) {
      size_t offset = (random() % (kBytes / page)) * page + random() % page;
      if ((i & 3) == 0) {
        hot[offset] = static_cast<char>(i);
      } else {
        sum += static_cast<unsigned char>(hot[offset]);
      }
    }
  }
  sink = sum;
  std::printf("hot_idle_sites done\n");
  std::free(hot);
  std::free(idle);
  munmap(untouched, kBytes);
  return 0;
}
