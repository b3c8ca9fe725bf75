// A thread running on a stack the program mapped itself, with no guard page, writing to it for a
// while; prints the stack's range. The access monitor must leave such a stack out.
#include <pthread.h>
#include <sys/mman.h>

#include <chrono>
#include <cstdio>
#include <cstring>

namespace {

void* churn_stack(void*) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(600);
  volatile char frame[64 * 1024];
  unsigned round = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (size_t i = 0; i < sizeof(frame); i += 512) frame[i] = static_cast<char>(round + i);
    ++round;
  }
  return nullptr;
}

}  // namespace

int main() {
  constexpr size_t kStack = 1 << 20;
  void* stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) return 1;
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstack(&attributes, stack, kStack);
  pthread_t thread;
  if (pthread_create(&thread, &attributes, churn_stack, nullptr) != 0) return 1;
  pthread_join(thread, nullptr);
  std::printf("stack %lx %lx\n", reinterpret_cast<unsigned long>(stack),
              reinterpret_cast<unsigned long>(stack) + kStack);
  return 0;
}
