// An allocation storm: THREADS threads (default 64) released at once, each making ROUNDS
// (default 20000) allocations from storm_allocations (sizes 16 B to 4 KiB, a few reallocated,
// freed soon after, a live set of 64 blocks per thread) through eight call paths. With HOLD_MS
// every thread, once all are done, stays alive that long before it exits.
//   thread_storm [THREADS] [ROUNDS] [HOLD_MS]
#include <pthread.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

int g_rounds = 20000;
int g_hold_ms = 0;
pthread_barrier_t g_start;
pthread_barrier_t g_done;

using Path = void* (*)(size_t);

__attribute__((noinline)) void* storm_allocations(size_t size) {
  return std::malloc(size);
}
// Eight distinct call stacks into the one allocating function.
__attribute__((noinline)) void* path0(size_t size) {
  return storm_allocations(size);
}
__attribute__((noinline)) void* path1(size_t size) {
  return storm_allocations(size);
}
__attribute__((noinline)) void* path2(size_t size) {
  return storm_allocations(size);
}
__attribute__((noinline)) void* path3(size_t size) {
  return storm_allocations(size);
}
__attribute__((noinline)) void* path4(size_t size) {
  return storm_allocations(size);
}
__attribute__((noinline)) void* path5(size_t size) {
  return storm_allocations(size);
}
__attribute__((noinline)) void* path6(size_t size) {
  return storm_allocations(size);
}
__attribute__((noinline)) void* path7(size_t size) {
  return storm_allocations(size);
}
const Path kPaths[] = {path0, path1, path2, path3, path4, path5, path6, path7};

void* storm(void* seed_pointer) {
  auto seed = static_cast<unsigned>(reinterpret_cast<uintptr_t>(seed_pointer));
  void* live[64] = {};
  pthread_barrier_wait(&g_start);
  for (int round = 0; round < g_rounds; ++round) {
    seed = seed * 1103515245u + 12345u;
    size_t slot = (seed >> 8) % 64;
    size_t size = 16 + (seed >> 16) % 4081;
    std::free(live[slot]);
    live[slot] = kPaths[(seed >> 4) % 8](size);
    if ((seed & 0xff) == 7) live[slot] = std::realloc(live[slot], size * 2);
    static_cast<char*>(live[slot])[0] = static_cast<char>(round);
  }
  for (void* block : live) std::free(block);
  if (g_hold_ms > 0) {
    pthread_barrier_wait(&g_done);
    usleep(static_cast<useconds_t>(g_hold_ms) * 1000);
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 64;
  if (argc > 2) g_rounds = std::atoi(argv[2]);
  if (argc > 3) g_hold_ms = std::atoi(argv[3]);
  if (threads < 1 || g_rounds < 1 || g_hold_ms < 0) return 2;
  pthread_barrier_init(&g_start, nullptr, static_cast<unsigned>(threads));
  pthread_barrier_init(&g_done, nullptr, static_cast<unsigned>(threads));
  std::vector<pthread_t> running(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    pthread_create(&running[static_cast<size_t>(i)], nullptr, storm,
                   reinterpret_cast<void*>(static_cast<uintptr_t>(i + 1)));
  }
  for (pthread_t thread : running) pthread_join(thread, nullptr);
  std::printf("%d threads x %d allocations\n", threads, g_rounds);
  return 0;
}
