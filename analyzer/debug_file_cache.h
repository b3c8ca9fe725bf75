// Keeps the inflated copies of debug files (debug_file_inflater.h) on disk, so that only the first
// report that needs a debug file pays for inflating it. Inflating the C library's debug file is
// 30-40 ms of CPU on every report otherwise: more than half of a small report's time (a sampled
// trace's report took 70 ms, 30 ms once the copy is cached). Like perf's ~/.debug and
// debuginfod's ~/.cache/debuginfod_client, the copies go under the user's cache directory:
//
//   $DAMON_PROF_CACHE_DIR            when set; set and empty turns the cache off
//   $XDG_CACHE_HOME/damon-prof       otherwise, when that is an absolute path
//   $HOME/.cache/damon-prof          otherwise
//
// in a `debuginfo-v1` directory beneath. An entry is named by the debug file's build-id, size and
// modification time, is checked to hold that build-id before it is used, and belongs to the user.
// The least recently used entries go once the directory holds more than its capacity. Anything
// that fails (no home, a read-only disk, a full one) leaves the report as it was without the cache:
// an inflated copy in memory.
#pragma once

#include <cstdint>
#include <string>

namespace dprof::analyzer {

class DebugFileCache {
 public:
  static constexpr uint64_t kDefaultCapacity = uint64_t{1} << 30;

  // `directory` empty: no cache, every call inflates.
  explicit DebugFileCache(const std::string& directory, uint64_t capacity_bytes = kDefaultCapacity);

  // The cache of this process, where the environment puts it (above).
  static DebugFileCache& standard();
  // The directory the environment names, empty for none (each argument may be null: unset).
  static std::string directory_from(const char* cache_dir, const char* xdg_cache_home,
                                    const char* home);

  // As inflated_debug_file(fd): a descriptor of the copy of the debug file open on `fd` with its
  // compressed sections inflated, -1 when it has none (or is not as expected). From the cache when
  // an entry for the file is there; otherwise made, and stored for the next time.
  int inflated_copy(int fd) const;

  // Where the entries are (empty when there is no cache).
  const std::string& entries_directory() const { return entries_; }

 private:
  // The entry's file name for the debug file on `fd`; empty when it has no build-id.
  static std::string entry_name(int fd);
  int open_entry(const std::string& name, const std::string& build_id) const;
  void store(const std::string& name, int image) const;
  // Removes the least recently used entries while the directory holds more than the capacity,
  // `keep` (the entry just stored) last of all; and temporary files left by a report that died.
  void evict(const std::string& keep) const;

  std::string entries_;
  uint64_t capacity_;
};

}  // namespace dprof::analyzer
