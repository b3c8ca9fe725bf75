// Ends in the way its argument says, after a few known allocations (9 x 99, leaked):
//   exit N   exit with status N        abort   die of SIGABRT
//   segv     die of SIGSEGV            wait    print "ready", then sleep (for kill -9 tests)
//   handler  install its own SIGSEGV handler, fault, exit 42 from it
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
volatile void* sink;

__attribute__((noinline)) void before_the_end() {
  for (int i = 0; i < 9; ++i) sink = malloc(99);
}

void own_handler(int) {
  _exit(42);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  before_the_end();
  if (std::strcmp(argv[1], "exit") == 0) return argc > 2 ? std::atoi(argv[2]) : 0;
  if (std::strcmp(argv[1], "abort") == 0) std::abort();
  if (std::strcmp(argv[1], "segv") == 0) {
    *static_cast<volatile int*>(nullptr) = 1;
  }
  if (std::strcmp(argv[1], "handler") == 0) {
    struct sigaction previous;
    sigaction(SIGSEGV, nullptr, &previous);
    if (previous.sa_handler != SIG_DFL) return 3;  // the runtime must look like the default
    signal(SIGSEGV, own_handler);
    *static_cast<volatile int*>(nullptr) = 1;
  }
  if (std::strcmp(argv[1], "wait") == 0) {
    std::printf("ready %d\n", getpid());
    std::fflush(stdout);
    for (int i = 0; i < 600; ++i) {
      sink = malloc(10);
      usleep(100000);
    }
  }
  return 1;
}
