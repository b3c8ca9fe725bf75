// The exposure that sampling pages of small blocks opens: memory the kernel touches on the
// program's behalf sharing pages with small blocks that read sampling may protect. Every result
// is checked; damon-prof must never change what the program sees.
//   stress_small_blocks SECONDS
// - pool: keeps tens of thousands of small blocks alive, reads and rewrites them, frees and
//   replaces some: pages full of small program blocks, the candidates;
// - pipes and sockets: small malloc'd buffers, allocated between pool-sized blocks so that they
//   share pages with them, sit idle, then are filled by read(2)/recv(2);
// - stdio and directories: FILE and DIR streams opened between small blocks;
// - locks: mutexes, condition variables and std::atomic wait words inside small structs, with
//   threads really blocked on them;
// - fork: children read small blocks (maybe protected in the parent when it forked) and report.
// Prints one line of verdicts that does not depend on timing; exits 1 on any anomaly.
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace {

std::atomic<long> g_anomalies{0};
std::atomic<bool> g_stop{false};

void anomaly(const char* what) {
  if (g_anomalies.fetch_add(1) < 10)
    std::fprintf(stderr, "stress_small_blocks: %s (errno %d)\n", what, errno);
}

// A small block that knows what it should hold.
struct Cell {
  uint32_t seed;
  uint32_t length;
  unsigned char bytes[1];  // `length` bytes of (seed + i) follow
};

Cell* make_cell(std::mt19937& random) {
  uint32_t length = 8 + random() % 180;
  auto* cell = static_cast<Cell*>(std::malloc(sizeof(Cell) + length));
  cell->seed = random();
  cell->length = length;
  for (uint32_t i = 0; i < length; ++i) cell->bytes[i] = static_cast<unsigned char>(cell->seed + i);
  return cell;
}

bool cell_ok(const Cell* cell) {
  for (uint32_t i = 0; i < cell->length; ++i) {
    if (cell->bytes[i] != static_cast<unsigned char>(cell->seed + i)) return false;
  }
  return true;
}

// Pages full of small program blocks, mostly left alone (sampled pages stay untouched for a
// while), some read, some replaced.
std::atomic<bool> g_pool_filled{false};

void pool_worker(std::vector<Cell*>* cells, unsigned seed) {
  std::mt19937 random(seed);
  for (Cell*& cell : *cells) cell = make_cell(random);
  g_pool_filled.store(true);
  while (!g_stop.load()) {
    for (int i = 0; i < 200; ++i) {
      Cell*& cell = (*cells)[random() % cells->size()];
      if (!cell_ok(cell)) anomaly("pool cell changed");
      if (random() % 4 == 0) {
        std::free(cell);
        cell = make_cell(random);
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
}

// Small buffers between small blocks, filled by the kernel after sitting idle.
void pipe_worker(unsigned seed) {
  std::mt19937 random(seed);
  int pipe_ends[2];
  int sockets[2];
  if (pipe(pipe_ends) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sockets) != 0) {
    return anomaly("pipe or socketpair");
  }
  std::vector<Cell*> neighbours;
  std::vector<char*> buffers;
  for (int i = 0; i < 64; ++i) {
    neighbours.push_back(make_cell(random));
    buffers.push_back(static_cast<char*>(std::malloc(48 + i)));
    neighbours.push_back(make_cell(random));
  }
  char message[112];
  unsigned round = 0;
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    size_t index = round % buffers.size();
    size_t length = 48 + index;
    for (size_t i = 0; i < length; ++i) message[i] = static_cast<char>(round + i);
    ++round;
    char* buffer = buffers[index];
    if (write(pipe_ends[1], message, length) != static_cast<ssize_t>(length)) anomaly("write");
    if (read(pipe_ends[0], buffer, length) != static_cast<ssize_t>(length)) anomaly("read short");
    if (std::memcmp(buffer, message, length) != 0) anomaly("read data");
    char* other = buffers[(index + 17) % buffers.size()];
    size_t other_length = 48 + (index + 17) % buffers.size();
    if (send(sockets[0], message, other_length < length ? other_length : length, 0) < 0) {
      anomaly("send");
    }
    ssize_t got = recv(sockets[1], other, other_length < length ? other_length : length, 0);
    if (got <= 0 || std::memcmp(other, message, static_cast<size_t>(got)) != 0) {
      anomaly("recv");
    }
    if (round % 64 == 0) {
      for (Cell* cell : neighbours) {
        if (!cell_ok(cell)) anomaly("neighbour changed");
      }
    }
  }
  for (Cell* cell : neighbours) std::free(cell);
  for (char* buffer : buffers) std::free(buffer);
  close(pipe_ends[0]);
  close(pipe_ends[1]);
  close(sockets[0]);
  close(sockets[1]);
}

// FILE and DIR streams opened between small blocks: the C library's buffers land on pages the
// program's blocks share.
void stream_worker(unsigned seed) {
  std::mt19937 random(seed);
  char path[] = "/tmp/damon-prof-small-XXXXXX";
  int descriptor = mkstemp(path);
  if (descriptor < 0) return anomaly("mkstemp");
  close(descriptor);
  long rounds = 0;
  while (!g_stop.load()) {
    Cell* before = make_cell(random);
    FILE* file = std::fopen(path, "w+");
    Cell* after = make_cell(random);
    if (file == nullptr) {
      anomaly("fopen");
      break;
    }
    for (int i = 0; i < 50; ++i) std::fprintf(file, "line %d of round %ld\n", i, rounds);
    std::fflush(file);
    std::rewind(file);
    char line[64];
    int lines = 0;
    while (std::fgets(line, sizeof(line), file) != nullptr) ++lines;
    if (lines != 50) anomaly("stdio read back");
    std::fclose(file);
    DIR* directory = opendir("/tmp");
    Cell* middle = make_cell(random);
    if (directory == nullptr) {
      anomaly("opendir");
    } else {
      int entries = 0;
      while (readdir(directory) != nullptr) ++entries;
      if (entries < 2) anomaly("readdir");
      closedir(directory);
    }
    if (!cell_ok(before) || !cell_ok(after) || !cell_ok(middle)) anomaly("stream neighbours");
    std::free(before);
    std::free(after);
    std::free(middle);
    ++rounds;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  unlink(path);
}

// Lock words inside small structs, with threads blocked on them in the kernel.
struct SmallLock {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t condition = PTHREAD_COND_INITIALIZER;
  int turn = 0;
};
struct SmallFlag {
  std::atomic<int> value{0};
  char padding[20];
};

void lock_pair(SmallLock* lock, int me, long* rounds) {
  while (!g_stop.load()) {
    if (pthread_mutex_lock(&lock->mutex) != 0) anomaly("small mutex");
    while (lock->turn != me && !g_stop.load()) {
      timespec deadline;
      clock_gettime(CLOCK_REALTIME, &deadline);
      deadline.tv_nsec += 5000000;
      if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000;
      }
      int waited = pthread_cond_timedwait(&lock->condition, &lock->mutex, &deadline);
      if (waited != 0 && waited != ETIMEDOUT) anomaly("small condition");
    }
    lock->turn = 1 - me;
    ++*rounds;
    pthread_cond_signal(&lock->condition);
    pthread_mutex_unlock(&lock->mutex);
  }
}

void flag_pair(SmallFlag* flag, int me) {
  while (!g_stop.load()) {
    int seen = flag->value.load();
    if ((seen & 1) == me) {
      flag->value.store(seen + 1);
      flag->value.notify_one();
    } else {
      flag->value.wait(seen);  // blocks in the kernel until the other side moves
    }
  }
  flag->value.fetch_add(2);
  flag->value.notify_all();
}

// Forks while small blocks may be protected (its own, idle in the parent between forks): the
// child must read them all intact.
void fork_worker(unsigned seed) {
  std::mt19937 random(seed);
  std::vector<Cell*> cells(4000);
  for (Cell*& cell : cells) cell = make_cell(random);
  long forks = 0;
  while (!g_stop.load() && forks < 40) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pid_t child = fork();
    if (child < 0) {
      anomaly("fork");
      break;
    }
    if (child == 0) {
      size_t bad = 0;
      for (const Cell* cell : cells) bad += cell_ok(cell) ? 0 : 1;
      _exit(bad == 0 ? 7 : 1);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 7) {
      anomaly("fork child");
    }
    ++forks;
  }
  for (Cell* cell : cells) std::free(cell);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::strtod(argv[1], nullptr) : 3.0;
  std::vector<Cell*> cells(40000);
  std::vector<std::thread> threads;
  threads.emplace_back(pool_worker, &cells, 1u);
  // The pool is filled before the others start: their blocks land among its pages.
  while (!g_pool_filled.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  threads.emplace_back(pipe_worker, 2u);
  threads.emplace_back(pipe_worker, 3u);
  threads.emplace_back(stream_worker, 4u);
  auto* lock = new SmallLock;
  auto* flag = new SmallFlag;
  long lock_rounds[2] = {0, 0};
  threads.emplace_back(lock_pair, lock, 0, &lock_rounds[0]);
  threads.emplace_back(lock_pair, lock, 1, &lock_rounds[1]);
  threads.emplace_back(flag_pair, flag, 0);
  threads.emplace_back(flag_pair, flag, 1);
  threads.emplace_back(fork_worker, 5u);
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long long>(seconds * 1e6)));
  g_stop.store(true);
  pthread_mutex_lock(&lock->mutex);
  pthread_cond_broadcast(&lock->condition);
  pthread_mutex_unlock(&lock->mutex);
  for (std::thread& thread : threads) thread.join();
  for (Cell* cell : cells) {
    if (!cell_ok(cell)) anomaly("pool cell at the end");
    std::free(cell);
  }
  delete lock;
  delete flag;
  bool locks_moved = lock_rounds[0] > 0 && lock_rounds[1] > 0;
  std::printf(
      "stress_small_blocks: pool intact, pipes and sockets exact, streams read back, "
      "locks %s, forks clean, %s\n",
      locks_moved ? "moved" : "stuck", g_anomalies.load() == 0 ? "no anomaly" : "ANOMALY");
  return g_anomalies.load() == 0 && locks_moved ? 0 : 1;
}
