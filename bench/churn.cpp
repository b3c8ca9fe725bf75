// A malloc/free churn workload that makes allocation events as fast as the allocator allows, for
// producing very large traces (bench/large_trace.sh): each thread keeps a bounded set of live
// blocks and replaces a random one per step, with a random size, from one of 32 call paths, so the
// live set stays small however long it runs while the trace keeps growing.
//   churn THREADS EVENTS_PER_THREAD
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

namespace {

constexpr size_t kLiveSlots = 4096;

// Distinct call paths: each instantiation is its own function, so every path is its own stack.
template <int Depth>
__attribute__((noinline)) void* allocate_through(size_t size) {
  if constexpr (Depth == 0) {
    void* block = std::malloc(size);
    if (block != nullptr) std::memset(block, 0, size < 64 ? size : 64);
    return block;
  } else {
    void* block = allocate_through<Depth - 1>(size);
    asm volatile("" ::: "memory");  // keeps the frame from being folded into a tail call
    return block;
  }
}

using Allocator = void* (*)(size_t);

template <int... Depths>
constexpr std::array<Allocator, sizeof...(Depths)> make_paths(
    std::integer_sequence<int, Depths...>) {
  return {&allocate_through<Depths>...};
}

const auto kPaths = make_paths(std::make_integer_sequence<int, 32>{});

unsigned long long churn(unsigned seed, unsigned long long events) {
  std::vector<void*> live(kLiveSlots, nullptr);
  unsigned long long state = seed * 0x9E3779B97F4A7C15ull + 1;
  unsigned long long checksum = 0;
  for (unsigned long long done = 0; done < events;) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    size_t slot = (state >> 33) % kLiveSlots;
    if (live[slot] != nullptr) {
      std::free(live[slot]);
      ++done;
    }
    // Mostly small sizes, with a tail of larger ones, like a typical C++ program.
    size_t size = 8 + ((state >> 13) & 0xff);
    if (((state >> 24) & 31) == 0) size = 256 + ((state >> 29) & 0x3fff);
    live[slot] = kPaths[(state >> 45) % kPaths.size()](size);
    checksum += reinterpret_cast<uintptr_t>(live[slot]) & 0xff;
    ++done;
  }
  for (void* block : live) std::free(block);
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: churn THREADS EVENTS_PER_THREAD\n");
    return 2;
  }
  int threads = std::atoi(argv[1]);
  unsigned long long events = std::strtoull(argv[2], nullptr, 10);
  if (threads < 1 || events == 0) {
    std::fprintf(stderr, "churn: THREADS and EVENTS_PER_THREAD must be positive\n");
    return 2;
  }
  std::vector<std::thread> workers;
  std::vector<unsigned long long> results(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([t, events, &results] {
      results[static_cast<size_t>(t)] = churn(static_cast<unsigned>(t), events);
    });
  }
  unsigned long long total = 0;
  for (int t = 0; t < threads; ++t) {
    workers[static_cast<size_t>(t)].join();
    total += results[static_cast<size_t>(t)];
  }
  std::printf("churn: %d threads x %llu events, checksum %llu\n", threads, events, total);
  return 0;
}
