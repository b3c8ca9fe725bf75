#include "debug_file_prefetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "debug_file_cache.h"

namespace dprof::analyzer::debug_file_prefetch {
namespace {

class Prefetcher {
 public:
  // At exit the file being inflated is finished (tens of milliseconds at most), the queued ones
  // are dropped, and the copies nobody took are closed.
  ~Prefetcher() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (worker_.joinable()) worker_.join();
    for (auto& [path, entry] : entries_) {
      if (entry.fd >= 0) close(entry.fd);
    }
  }

  void start(const std::string& path) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || !entries_.emplace(path, Entry{}).second) return;
      queue_.push_back(path);
      if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
    }
    changed_.notify_all();
  }

  int take(const std::string& path) {
    std::unique_lock lock(mutex_);
    auto entry = entries_.find(path);
    if (entry == entries_.end()) return -1;
    changed_.wait(lock, [&entry] { return entry->second.state == State::kDone; });
    int fd = entry->second.fd;
    entry->second.fd = -1;
    return fd;
  }

 private:
  enum class State { kQueued, kRunning, kDone };
  struct Entry {
    State state = State::kQueued;
    int fd = -1;
  };

  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      std::string path = queue_.front();
      queue_.pop_front();
      entries_[path].state = State::kRunning;
      lock.unlock();
      int inflated = -1;
      int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        inflated = DebugFileCache::standard().inflated_copy(fd);
        close(fd);
      }
      lock.lock();
      entries_[path] = Entry{State::kDone, inflated};
      changed_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Entry> entries_;  // every path ever started
  std::deque<std::string> queue_;
  std::thread worker_;
  bool stopping_ = false;
};

Prefetcher& prefetcher() {
  static Prefetcher instance;
  return instance;
}

}  // namespace

void start(const std::string& path) {
  prefetcher().start(path);
}

int take(const std::string& path) {
  return prefetcher().take(path);
}

}  // namespace dprof::analyzer::debug_file_prefetch
