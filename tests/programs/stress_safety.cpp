// Everything a watched program does with memory that the kernel touches on its behalf, for as
// long as asked, checking every result: damon-prof must never change what the program sees.
//   stress_safety SECONDS
// Prints one line of verdicts that does not depend on timing; exits 1 on any anomaly.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace {

std::atomic<long> g_anomalies{0};
std::atomic<bool> g_stop{false};

void anomaly(const char* what) {
  if (g_anomalies.fetch_add(1) < 10)
    std::fprintf(stderr, "stress_safety: %s (errno %d)\n", what, errno);
}

// Heap objects the synchronisation threads share: locks live in ordinary heap memory, each on a
// page of its own inside one large allocation, so that a read sampler may pick any of them.
struct Shared {
  alignas(4096) pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  alignas(4096) pthread_cond_t condition = PTHREAD_COND_INITIALIZER;
  alignas(4096) pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
  alignas(4096) sem_t semaphore;
  alignas(4096) std::atomic<int> flag{0};
  alignas(4096) long counter = 0;
  // A lock that sits idle, with a thread blocked on it, for long stretches.
  alignas(4096) pthread_mutex_t quiet_mutex = PTHREAD_MUTEX_INITIALIZER;
  alignas(4096) pthread_cond_t quiet_condition = PTHREAD_COND_INITIALIZER;
  alignas(4096) int quiet_wakeups = 0;
  char tail[4096];
};

// Blocks on a condition for a long while: its words sit untouched in the kernel's futex queue.
void quiet_waiter(Shared* shared) {
  pthread_mutex_lock(&shared->quiet_mutex);
  while (!g_stop.load()) {
    timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 1;
    int waited = pthread_cond_timedwait(&shared->quiet_condition, &shared->quiet_mutex, &deadline);
    if (waited != 0 && waited != ETIMEDOUT) anomaly("quiet condition wait");
  }
  pthread_mutex_unlock(&shared->quiet_mutex);
}

void quiet_signaller(Shared* shared) {
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    if (pthread_mutex_lock(&shared->quiet_mutex) != 0) anomaly("quiet mutex lock");
    ++shared->quiet_wakeups;
    pthread_cond_signal(&shared->quiet_condition);
    pthread_mutex_unlock(&shared->quiet_mutex);
  }
  pthread_mutex_lock(&shared->quiet_mutex);
  pthread_cond_broadcast(&shared->quiet_condition);
  pthread_mutex_unlock(&shared->quiet_mutex);
}

// Many programs block every signal in their worker threads. A read sampler's fault in such a
// thread must still be handled, and the thread must still see the mask it set.
void masked_reader() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  constexpr size_t kSize = 1 << 20;
  auto* data = static_cast<unsigned char*>(std::malloc(kSize));
  std::memset(data, 3, kSize);
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    unsigned long sum = 0;
    for (size_t i = 0; i < kSize; i += 4096) sum += data[i];
    if (sum != 3ul * (kSize / 4096)) anomaly("masked reader sum");
  }
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  if (sigismember(&now, SIGSEGV) != 1 || sigismember(&now, SIGTERM) != 1) {
    anomaly("the thread's signal mask is not what it set");
  }
  std::free(data);
}

void synchronisation_worker(Shared* shared, int id) {
  while (!g_stop.load()) {
    if (pthread_mutex_lock(&shared->mutex) != 0) anomaly("mutex lock");
    ++shared->counter;
    pthread_cond_broadcast(&shared->condition);
    timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 200000;
    if (deadline.tv_nsec >= 1000000000) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1000000000;
    }
    int waited = pthread_cond_timedwait(&shared->condition, &shared->mutex, &deadline);
    if (waited != 0 && waited != ETIMEDOUT) anomaly("condition wait");
    pthread_mutex_unlock(&shared->mutex);
    if (id % 2 == 0) {
      pthread_rwlock_rdlock(&shared->rwlock);
      pthread_rwlock_unlock(&shared->rwlock);
    } else {
      pthread_rwlock_wrlock(&shared->rwlock);
      pthread_rwlock_unlock(&shared->rwlock);
    }
    sem_post(&shared->semaphore);
    timespec soon;
    clock_gettime(CLOCK_REALTIME, &soon);
    soon.tv_nsec += 100000;
    if (soon.tv_nsec >= 1000000000) {
      soon.tv_sec += 1;
      soon.tv_nsec -= 1000000000;
    }
    if (sem_timedwait(&shared->semaphore, &soon) != 0 && errno != ETIMEDOUT) anomaly("semaphore");
    shared->flag.fetch_add(1);
    shared->flag.notify_all();
    int seen = shared->flag.load();
    if (id == 0) shared->flag.wait(seen - 1000000);  // returns at once: value differs
  }
}

// Buffers that sit idle for a while (so a sampler may pick them), then are handed to the kernel.
void io_worker(int seconds_idle_ms) {
  constexpr size_t kSize = 64 * 1024;
  std::vector<char*> buffers;
  for (int i = 0; i < 8; ++i) buffers.push_back(static_cast<char*>(std::malloc(kSize)));
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sockets) != 0) anomaly("socketpair");
  char path[] = "/tmp/damon-prof-stress-XXXXXX";
  int file = mkstemp(path);
  unlink(path);
  std::vector<char> pattern(kSize);
  for (size_t i = 0; i < kSize; ++i) pattern[i] = static_cast<char>(i * 7);
  if (write(file, pattern.data(), kSize) != static_cast<ssize_t>(kSize)) anomaly("write file");
  int epoll = epoll_create1(0);
  epoll_event interest{};
  interest.events = EPOLLIN;
  interest.data.fd = sockets[1];
  epoll_ctl(epoll, EPOLL_CTL_ADD, sockets[1], &interest);
  unsigned round = 0;
  while (!g_stop.load()) {
    char* buffer = buffers[round % buffers.size()];
    ++round;
    std::this_thread::sleep_for(std::chrono::milliseconds(seconds_idle_ms));
    if (pread(file, buffer, kSize, 0) != static_cast<ssize_t>(kSize))
      anomaly("pread short or failed");
    if (std::memcmp(buffer, pattern.data(), kSize) != 0) anomaly("pread data");
    iovec pieces[2] = {{buffer, kSize / 2}, {buffer + kSize / 2, kSize / 2}};
    if (lseek(file, 0, SEEK_SET) != 0 || readv(file, pieces, 2) != static_cast<ssize_t>(kSize))
      anomaly("readv");
    if (lseek(file, 0, SEEK_SET) != 0 || read(file, buffer, kSize) != static_cast<ssize_t>(kSize))
      anomaly("read");
    if (send(sockets[0], buffer, 4096, 0) != 4096) anomaly("send");
    epoll_event ready[2];
    if (epoll_wait(epoll, ready, 2, 1000) != 1) anomaly("epoll_wait");
    pollfd polled = {sockets[1], POLLIN, 0};
    if (poll(&polled, 1, 1000) != 1) anomaly("poll");
    char* other = buffers[(round + 3) % buffers.size()];
    size_t got = 0;
    while (got < 4096) {
      ssize_t part = recv(sockets[1], other + got, 4096 - got, 0);
      if (part <= 0) {
        anomaly("recv");
        break;
      }
      got += static_cast<size_t>(part);
    }
    if (std::memcmp(other, pattern.data(), 4096) != 0) anomaly("recv data");
    auto* status =
        static_cast<struct stat*>(static_cast<void*>(buffers[(round + 5) % buffers.size()]));
    if (fstat(file, status) != 0 || status->st_size != static_cast<off_t>(kSize)) anomaly("fstat");
    if (getrandom(buffers[(round + 6) % buffers.size()], 256, 0) != 256) anomaly("getrandom");
    if (pwrite(file, pattern.data(), 512, 0) != 512) anomaly("pwrite");
  }
  close(epoll);
  close(file);
  close(sockets[0]);
  close(sockets[1]);
  for (char* buffer : buffers) std::free(buffer);
}

void stdio_worker() {
  FILE* file = tmpfile();
  if (file == nullptr) return anomaly("tmpfile");
  char line[128];
  long lines = 0;
  while (!g_stop.load()) {
    std::fprintf(file, "line %ld of the stdio worker\n", lines++);
    if (lines % 100 == 0) {
      std::fflush(file);
      std::rewind(file);
      long read_back = 0;
      while (std::fgets(line, sizeof(line), file) != nullptr) ++read_back;
      if (read_back != lines) anomaly("stdio read back");
      std::fseek(file, 0, SEEK_END);
    }
  }
  std::fclose(file);
}

volatile sig_atomic_t g_own_faults = 0;
char* g_guard_page = nullptr;

void own_segv_handler(int, siginfo_t* info, void*) {
  // The program's own guard page: count it and open the page so the access completes.
  if (info->si_addr >= g_guard_page && info->si_addr < g_guard_page + 4096) {
    g_own_faults = g_own_faults + 1;
    mprotect(g_guard_page, 4096, PROT_READ | PROT_WRITE);
    return;
  }
  signal(SIGSEGV, SIG_DFL);
}

bool own_guard_page_works() {
  g_guard_page =
      static_cast<char*>(mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  struct sigaction action {};
  action.sa_sigaction = own_segv_handler;
  action.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &action, nullptr);
  for (int i = 0; i < 3; ++i) {
    g_guard_page[100] = 1;  // faults, the handler opens the page, the write completes
    mprotect(g_guard_page, 4096, PROT_NONE);
  }
  return g_own_faults == 3;
}

bool fork_child_touches_inherited_memory() {
  std::vector<int>* inherited = new std::vector<int>(1 << 20, 7);
  pid_t child = fork();
  if (child == 0) {
    long sum = 0;
    for (int& value : *inherited) {
      sum += value;
      value = 9;
    }
    _exit(sum == 7L * (1 << 20) ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && (*inherited)[12345] == 7;
  delete inherited;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = argc > 1 ? std::atoi(argv[1]) : 5;
  auto* shared = new Shared();
  sem_init(&shared->semaphore, 0, 0);
  std::vector<std::thread> threads;
  for (int id = 0; id < 4; ++id) threads.emplace_back(synchronisation_worker, shared, id);
  threads.emplace_back(io_worker, 50);
  threads.emplace_back(io_worker, 300);
  threads.emplace_back(stdio_worker);
  threads.emplace_back(quiet_waiter, shared);
  threads.emplace_back(quiet_signaller, shared);
  threads.emplace_back(masked_reader);
  bool guard_ok = own_guard_page_works();
  bool fork_ok = true;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    fork_ok = fork_child_touches_inherited_memory() && fork_ok;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  g_stop = true;
  shared->flag.fetch_add(1);
  shared->flag.notify_all();
  for (auto& thread : threads) thread.join();
  std::printf("stress_safety: anomalies %ld, own guard page %s, fork children %s\n",
              g_anomalies.load(), guard_ok ? "ok" : "BROKEN", fork_ok ? "ok" : "BROKEN");
  return g_anomalies.load() == 0 && guard_ok && fork_ok ? 0 : 1;
}
