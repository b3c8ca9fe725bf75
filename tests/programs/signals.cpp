// Exercises what a program may do with signals; prints a transcript that must be the same with and
// without damon-prof:
//   signals altstack   a stack overflow caught by a SIGSEGV handler on an alternate stack (exit 43)
//   signals masks      blocked and pending signals, sigsuspend, siginfo, a thread's own mask
//   signals faults     its own SIGSEGV handler recovers (siglongjmp) from faults on guard pages
//   signals bus        dies of SIGBUS reading a mapped file truncated beneath it
//   signals raw-handler N
//                      installs a SIGSEGV handler with the raw system call (behind any library's
//                      back), then works on heap memory for N ms; the handler must never run
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace {

volatile sig_atomic_t g_usr1_count = 0;
volatile int g_usr1_code = 0;
sigjmp_buf g_recover;
void* volatile g_fault_address = nullptr;
volatile int g_fault_code = 0;
volatile long g_sink = 0;
struct timespec g_installed;

void on_overflow(int) {
  // On the alternate stack: the normal one is exhausted.
  static const char message[] = "stack overflow caught on the alternate stack\n";
  ssize_t ignored = write(1, message, sizeof(message) - 1);
  (void)ignored;
  _exit(43);
}

__attribute__((noinline)) int recurse(int depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  return recurse(depth + 1) + frame[0];
}

int altstack() {
  stack_t stack{};
  stack.ss_size = 64 * 1024;
  stack.ss_sp = std::malloc(stack.ss_size);
  if (sigaltstack(&stack, nullptr) != 0) return 1;
  struct sigaction action {};
  action.sa_handler = on_overflow;
  action.sa_flags = SA_ONSTACK;
  sigaction(SIGSEGV, &action, nullptr);
  std::printf("recursing\n");
  std::fflush(stdout);
  return recurse(0);
}

void on_usr1(int, siginfo_t* info, void*) {
  g_usr1_count = g_usr1_count + 1;
  g_usr1_code = info->si_code;
}

void* thread_with_own_mask(void*) {
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  std::printf("thread: SIGUSR2 blocked %d, SIGUSR1 blocked %d\n", sigismember(&now, SIGUSR2),
              sigismember(&now, SIGUSR1));
  return nullptr;
}

int masks() {
  struct sigaction action {};
  action.sa_sigaction = on_usr1;
  action.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &action, nullptr);
  sigset_t blocked, previous;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);
  sigprocmask(SIG_BLOCK, &blocked, &previous);
  raise(SIGUSR1);
  sigset_t pending;
  sigpending(&pending);
  std::printf("pending while blocked: %d, handled: %d\n", sigismember(&pending, SIGUSR1),
              static_cast<int>(g_usr1_count));
  sigset_t wait_mask = previous;
  sigdelset(&wait_mask, SIGUSR1);
  sigsuspend(&wait_mask);
  std::printf("after sigsuspend: handled %d, si_code is SI_TKILL %d\n",
              static_cast<int>(g_usr1_count), g_usr1_code == SI_TKILL ? 1 : 0);
  sigset_t now;
  sigprocmask(SIG_SETMASK, nullptr, &now);
  std::printf("still blocked after sigsuspend: %d\n", sigismember(&now, SIGUSR1));
  pthread_t thread;
  pthread_create(&thread, nullptr, thread_with_own_mask, nullptr);
  pthread_join(thread, nullptr);
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  kill(getpid(), SIGUSR1);
  std::printf("after kill: handled %d, si_code is SI_USER %d\n", static_cast<int>(g_usr1_count),
              g_usr1_code == SI_USER ? 1 : 0);
  struct sigaction back;
  sigaction(SIGUSR1, nullptr, &back);
  std::printf("handler reads back: %d, flags SA_SIGINFO %d\n", back.sa_sigaction == on_usr1,
              (back.sa_flags & SA_SIGINFO) != 0);
  struct sigaction segv;
  sigaction(SIGSEGV, nullptr, &segv);
  std::printf("SIGSEGV action is the default: %d\n", segv.sa_handler == SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  std::printf("SIGPIPE ignored: %d\n", signal(SIGPIPE, SIG_DFL) == SIG_IGN);
  return 0;
}

void on_fault(int, siginfo_t* info, void*) {
  g_fault_address = info->si_addr;
  g_fault_code = info->si_code;
  siglongjmp(g_recover, 1);
}

int faults() {
  struct sigaction action {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &action, nullptr);
  long page = sysconf(_SC_PAGESIZE);
  // Heap memory all around: read sampling may have any of it protected meanwhile.
  std::vector<char*> blocks;
  for (int i = 0; i < 64; ++i) blocks.push_back(static_cast<char*>(std::calloc(1, 65536)));
  auto* guard = static_cast<char*>(
      mmap(nullptr, static_cast<size_t>(page), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  int recovered = 0;
  long sum = 0;
  for (int round = 0; round < 200; ++round) {
    for (char* block : blocks) sum += block[(round * 4096) % 65536]++;
    if (sigsetjmp(g_recover, 1) == 0) {
      guard[round % page] = 1;  // faults: the program's own guard page
    } else if (g_fault_address == guard + round % page && g_fault_code == SEGV_ACCERR) {
      ++recovered;
    }
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, nullptr);
  }
  std::printf("recovered from %d of 200 faults at the right address, sum %ld\n", recovered, sum);
  return 0;
}

int bus() {
  char path[] = "/tmp/damon-prof-signals-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  unlink(path);
  long page = sysconf(_SC_PAGESIZE);
  if (ftruncate(fd, page) != 0) return 1;
  auto* mapped = static_cast<volatile char*>(
      mmap(nullptr, static_cast<size_t>(page), PROT_READ, MAP_SHARED, fd, 0));
  if (ftruncate(fd, 0) != 0) return 1;
  std::printf("reading past the end of the file\n");
  std::fflush(stdout);
  return mapped[0];
}

void on_unexpected_fault(int, siginfo_t* info, void*) {
  char message[160];
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int length = std::snprintf(
      message, sizeof(message),
      "the program's raw SIGSEGV handler ran (address %p, code %d, %ld us after install)\n",
      info->si_addr, info->si_code,
      (now.tv_sec - g_installed.tv_sec) * 1000000 + (now.tv_nsec - g_installed.tv_nsec) / 1000);
  ssize_t ignored = write(1, message, static_cast<size_t>(length));
  (void)ignored;
  _exit(99);
}

void never_returns_here() {
  _exit(98);
}

// The kernel's struct sigaction for rt_sigaction (not the C library's).
struct KernelSigaction {
  void (*handler)(int, siginfo_t*, void*);
  unsigned long flags;
  void (*restorer)();
  unsigned long mask;
};

int raw_handler(int milliseconds) {
  std::vector<char*> blocks;
  for (int i = 0; i < 64; ++i) blocks.push_back(static_cast<char*>(std::calloc(1, 65536)));
  KernelSigaction action{};
  action.handler = on_unexpected_fault;
  // x86-64 delivers no signal without a restorer; the handler never returns to it.
  action.flags = SA_SIGINFO | 0x04000000 /* SA_RESTORER */;
  action.restorer = never_returns_here;
  clock_gettime(CLOCK_MONOTONIC, &g_installed);
  if (syscall(SYS_rt_sigaction, SIGSEGV, &action, nullptr, sizeof(action.mask)) != 0) return 1;
  // Quiet for a while (the runtime notices), then busy on the heap.
  usleep(300000);
  long sum = 0;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    for (char* block : blocks) {
      for (int offset = 0; offset < 65536; offset += 4096) sum += block[offset]++;
    }
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, nullptr);
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 <
           milliseconds);
  g_sink = sum;
  std::printf("worked on the heap with its own handler in place\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (std::strcmp(argv[1], "altstack") == 0) return altstack();
  if (std::strcmp(argv[1], "masks") == 0) return masks();
  if (std::strcmp(argv[1], "faults") == 0) return faults();
  if (std::strcmp(argv[1], "bus") == 0) return bus();
  if (std::strcmp(argv[1], "raw-handler") == 0) {
    return raw_handler(argc > 2 ? std::atoi(argv[2]) : 500);
  }
  return 2;
}
