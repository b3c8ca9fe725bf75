// Sets up an io_uring (the kernel may then touch this process's buffers at any time), keeps a
// large buffer busy for a while, and reports what sigaction() says about SIGSEGV before and after
// installing its own handler: read sampling must stop, and the program must see its own actions.
//   async_io MS
#include <linux/io_uring.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
void handler(int) {}
}  // namespace

int main(int argc, char** argv) {
  long run_ms = argc > 1 ? std::atol(argv[1]) : 1000;
  struct sigaction before {};
  sigaction(SIGSEGV, nullptr, &before);
  struct sigaction mine {};
  mine.sa_handler = handler;
  sigemptyset(&mine.sa_mask);
  sigaddset(&mine.sa_mask, SIGUSR1);
  sigaction(SIGSEGV, &mine, nullptr);
  struct sigaction after {};
  sigaction(SIGSEGV, nullptr, &after);
  std::printf("before %s, after %s, mask kept %s\n",
              before.sa_handler == SIG_DFL ? "default" : "other",
              after.sa_handler == handler ? "mine" : "other",
              sigismember(&after.sa_mask, SIGUSR1) == 1 ? "yes" : "no");
  auto* data = static_cast<unsigned char*>(std::malloc(8 << 20));
  std::memset(data, 1, 8 << 20);
  io_uring_params params;
  std::memset(&params, 0, sizeof(params));
  long ring = syscall(SYS_io_uring_setup, 8, &params);
  std::printf("io_uring %s\n", ring >= 0 ? "set up" : "unavailable");
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  unsigned long sum = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (size_t i = 0; i < (8u << 20); i += 4096) sum += data[i];
  }
  if (ring >= 0) close(static_cast<int>(ring));
  std::free(data);
  return sum == 0 ? 1 : 0;
}
