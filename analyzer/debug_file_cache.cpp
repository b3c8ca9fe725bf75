#include "debug_file_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <tuple>
#include <vector>

#include "build_id.h"
#include "debug_file_inflater.h"

namespace dprof::analyzer {
namespace {

// Bumped when the inflater's copies change shape: old entries are then simply never found.
constexpr const char* kEntriesSubdirectory = "/debuginfo-v1";
constexpr const char* kEntrySuffix = ".debug";
constexpr const char* kTemporarySuffix = ".tmp";
// A temporary file this old was left by a report that died while storing it.
constexpr time_t kStaleTemporarySeconds = 3600;

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_absolute(const char* path) {
  return path != nullptr && path[0] == '/';
}

// mkdir -p; the directories it makes are the user's alone.
bool make_directories(const std::string& path) {
  struct stat status;
  if (stat(path.c_str(), &status) == 0) return S_ISDIR(status.st_mode);
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0 && !make_directories(path.substr(0, slash))) {
    return false;
  }
  return mkdir(path.c_str(), 0700) == 0 || errno == EEXIST;
}

bool copy_file(int from, int to, uint64_t size) {
  off_t offset = 0;
  while (static_cast<uint64_t>(offset) < size) {
    ssize_t sent = sendfile(to, from, &offset, size - static_cast<uint64_t>(offset));
    if (sent <= 0) return false;
  }
  return true;
}

}  // namespace

DebugFileCache::DebugFileCache(const std::string& directory, uint64_t capacity_bytes)
    : entries_(directory.empty() ? std::string() : directory + kEntriesSubdirectory),
      capacity_(capacity_bytes) {}

DebugFileCache& DebugFileCache::standard() {
  // The analysis never changes its environment, so reading it here, once, is safe.
  static DebugFileCache cache(directory_from(std::getenv("DAMON_PROF_CACHE_DIR"),  // NOLINT
                                             std::getenv("XDG_CACHE_HOME"),        // NOLINT
                                             std::getenv("HOME")));                // NOLINT
  return cache;
}

std::string DebugFileCache::directory_from(const char* cache_dir, const char* xdg_cache_home,
                                           const char* home) {
  if (cache_dir != nullptr) return cache_dir;  // set and empty: no cache
  // The XDG base directory specification: a relative path there is to be ignored.
  if (is_absolute(xdg_cache_home)) return std::string(xdg_cache_home) + "/damon-prof";
  if (is_absolute(home)) return std::string(home) + "/.cache/damon-prof";
  return {};
}

int DebugFileCache::inflated_copy(int fd) const {
  if (entries_.empty()) return inflated_debug_file(fd);
  std::string build_id = build_id_of_elf_file(fd);
  struct stat source;
  if (build_id.empty() || fstat(fd, &source) != 0) return inflated_debug_file(fd);
  // The size and time tell apart two files with one build-id (one of them rewritten by dwz or
  // objcopy after linking); a file reinstalled unchanged is inflated once more.
  std::string name = build_id_hex(build_id) + "-" + std::to_string(source.st_size) + "-" +
                     std::to_string(source.st_mtim.tv_sec) + "." +
                     std::to_string(source.st_mtim.tv_nsec) + kEntrySuffix;
  int cached = open_entry(name, build_id);
  if (cached >= 0) return cached;
  int image = inflated_debug_file(fd);
  if (image >= 0) store(name, image);
  return image;
}

int DebugFileCache::open_entry(const std::string& name, const std::string& build_id) const {
  int entry = open((entries_ + "/" + name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (entry < 0) return -1;
  // An entry someone else could have written, or that is not the copy it says it is (a damaged
  // disk, a hand-made file), is not used; storing the real copy replaces it.
  struct stat status;
  if (fstat(entry, &status) != 0 || !S_ISREG(status.st_mode) || status.st_uid != geteuid() ||
      build_id_of_elf_file(entry) != build_id) {
    close(entry);
    return -1;
  }
  futimens(entry, nullptr);  // used now: the last to be evicted
  return entry;
}

void DebugFileCache::store(const std::string& name, int image) const {
  struct stat status;
  if (fstat(image, &status) != 0 || !make_directories(entries_)) return;
  // Written aside and renamed into place, so that a report running beside this one never opens a
  // half-written entry.
  std::string temporary = entries_ + "/." + name + "." + std::to_string(getpid()) + "." +
                          std::to_string(gettid()) + kTemporarySuffix;
  int out = open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) return;
  bool copied = copy_file(image, out, static_cast<uint64_t>(status.st_size));
  copied = close(out) == 0 && copied;
  if (!copied || rename(temporary.c_str(), (entries_ + "/" + name).c_str()) != 0) {
    unlink(temporary.c_str());
    return;
  }
  evict(name);
}

void DebugFileCache::evict(const std::string& keep) const {
  DIR* directory = opendir(entries_.c_str());
  if (directory == nullptr) return;
  struct Entry {
    std::string name;
    uint64_t size;
    timespec used;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  time_t now = time(nullptr);
  while (const dirent* item = readdir(directory)) {
    std::string name = item->d_name;
    struct stat status;
    if (fstatat(dirfd(directory), item->d_name, &status, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(status.st_mode)) {
      continue;
    }
    if (name[0] == '.' && ends_with(name, kTemporarySuffix)) {
      if (now - status.st_mtim.tv_sec > kStaleTemporarySeconds) {
        unlinkat(dirfd(directory), item->d_name, 0);
      }
      continue;
    }
    if (!ends_with(name, kEntrySuffix)) continue;
    total += static_cast<uint64_t>(status.st_size);
    entries.push_back({name, static_cast<uint64_t>(status.st_size), status.st_mtim});
  }
  // Least recently used first, the entry just stored last.
  std::sort(entries.begin(), entries.end(), [&keep](const Entry& a, const Entry& b) {
    return std::make_tuple(a.name == keep, a.used.tv_sec, a.used.tv_nsec) <
           std::make_tuple(b.name == keep, b.used.tv_sec, b.used.tv_nsec);
  });
  for (const Entry& entry : entries) {
    if (total <= capacity_) break;
    if (unlinkat(dirfd(directory), entry.name.c_str(), 0) == 0) total -= entry.size;
  }
  closedir(directory);
}

}  // namespace dprof::analyzer
