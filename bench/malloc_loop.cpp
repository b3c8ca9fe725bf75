// One thread doing nothing but malloc/free pairs of 16-143 bytes over 64 slots: the per-call cost
// of a hook, and what a process loses when it stops being single-threaded (glibc skips arena locks
// and atomic fastbin operations while only one thread exists; see docs/design-notes.md, "What an
// unsampled call costs").
//   malloc_loop [PAIRS] [idle-thread]   (default 20000000 pairs)
#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

void* sleep_forever(void*) {
  for (;;) pause();
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  long pairs = argc > 1 ? std::atol(argv[1]) : 20000000;
  if (argc > 2 && std::strcmp(argv[2], "idle-thread") == 0) {
    pthread_t thread;
    if (pthread_create(&thread, nullptr, sleep_forever, nullptr) != 0) return 1;
    pthread_detach(thread);
  }
  void* slots[64] = {};
  unsigned long checksum = 0;
  for (long i = 0; i < pairs; ++i) {
    long slot = i & 63;
    std::free(slots[slot]);
    slots[slot] = std::malloc(16 + static_cast<size_t>(i & 127));
    checksum += reinterpret_cast<unsigned long>(slots[slot]) & 0xff;
  }
  for (void* block : slots) std::free(block);
  std::printf("%lu\n", checksum);
  return 0;
}
