#include <fcntl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "build_id.h"
#include "debug_file_cache.h"
#include "debug_file_inflater.h"
#include "debug_file_prefetch.h"
#include "test_support.h"

using dprof::analyzer::DebugFileCache;
using dprof::analyzer::inflated_debug_file;
using dprof::testing::run_command;
using dprof::testing::TempDir;

namespace {

struct Section {
  std::string name;
  uint64_t flags = 0;
  std::vector<uint8_t> bytes;
};

// Every section of the ELF file on `fd` as libelf reads it, compressed ones inflated by libelf
// itself: the oracle the copy is checked against.
std::vector<Section> sections_of(int fd) {
  std::vector<Section> out;
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  if (elf == nullptr) return out;
  size_t names = 0;
  elf_getshdrstrndx(elf, &names);
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr header;
    gelf_getshdr(scn, &header);
    Section section;
    const char* name = elf_strptr(elf, names, header.sh_name);
    section.name = name != nullptr ? name : "";
    section.flags = header.sh_flags & ~static_cast<uint64_t>(SHF_COMPRESSED);
    if ((header.sh_flags & SHF_COMPRESSED) != 0 && elf_compress(scn, 0, 0) < 0) {
      ADD_FAILURE() << "libelf could not inflate " << section.name;
    }
    if (header.sh_type != SHT_NOBITS) {
      Elf_Data* data = elf_getdata(scn, nullptr);
      if (data != nullptr && data->d_buf != nullptr) {
        const auto* bytes = static_cast<const uint8_t*>(data->d_buf);
        section.bytes.assign(bytes, bytes + data->d_size);
      }
    }
    out.push_back(std::move(section));
  }
  elf_end(elf);
  return out;
}

bool has_compressed_section(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  bool found = false;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr header;
    gelf_getshdr(scn, &header);
    found = found || (header.sh_flags & SHF_COMPRESSED) != 0;
  }
  elf_end(elf);
  close(fd);
  return found;
}

// This test binary (built with debug information).
std::string this_program() {
  char path[4096];
  ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  return length > 0 ? std::string(path, static_cast<size_t>(length)) : "";
}

// This test binary's debug information, compressed with `method` the way distributions ship it.
std::string compressed_debug_file(const TempDir& directory, const std::string& method) {
  std::string path = directory.file("debug-" + method);
  auto result = run_command({"objcopy", "--only-keep-debug", "--compress-debug-sections=" + method,
                             this_program(), path});
  return result.exit_code == 0 ? path : "";
}

void expect_inflated_copy_matches(const std::string& path) {
  ASSERT_TRUE(has_compressed_section(path));
  int original = open(path.c_str(), O_RDONLY);
  ASSERT_GE(original, 0);
  int inflated = inflated_debug_file(original);
  ASSERT_GE(inflated, 0);
  std::vector<Section> expected = sections_of(original);
  std::vector<Section> got = sections_of(inflated);
  ASSERT_EQ(got.size(), expected.size());
  size_t debug_sections = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, expected[i].name);
    EXPECT_EQ(got[i].flags, expected[i].flags) << expected[i].name;
    EXPECT_TRUE(got[i].bytes == expected[i].bytes) << expected[i].name;
    if (expected[i].name.rfind(".debug_", 0) == 0 && !expected[i].bytes.empty()) ++debug_sections;
  }
  EXPECT_GE(debug_sections, 3u);
  close(inflated);
  // The original descriptor is left open and usable.
  EXPECT_EQ(sections_of(original).size(), expected.size());
  close(original);
}

}  // namespace

TEST(DebugFileInflater, ZlibSectionsComeOutAsLibelfInflatesThem) {
  TempDir directory;
  std::string path = compressed_debug_file(directory, "zlib");
  ASSERT_FALSE(path.empty());
  expect_inflated_copy_matches(path);
}

TEST(DebugFileInflater, ZstdSectionsComeOutAsLibelfInflatesThem) {
  TempDir directory;
  std::string path = compressed_debug_file(directory, "zstd");
  if (path.empty()) GTEST_SKIP() << "this objcopy cannot compress with zstd";
  // libelf 0.188 cannot inflate zstd sections itself: compare with objcopy's own decompression.
  std::string plain = directory.file("plain");
  ASSERT_EQ(run_command({"objcopy", "--decompress-debug-sections", path, plain}).exit_code, 0);
  int original = open(path.c_str(), O_RDONLY);
  int inflated = inflated_debug_file(original);
  ASSERT_GE(inflated, 0);
  int reference = open(plain.c_str(), O_RDONLY);
  std::vector<Section> expected = sections_of(reference);
  std::vector<Section> got = sections_of(inflated);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, expected[i].name);
    EXPECT_TRUE(got[i].bytes == expected[i].bytes) << expected[i].name;
  }
  close(reference);
  close(inflated);
  close(original);
}

TEST(DebugFileInflater, FilesWithNothingCompressedAreLeftAlone) {
  TempDir directory;
  std::string path = directory.file("plain");
  ASSERT_EQ(run_command({"objcopy", "--only-keep-debug", this_program(), path}).exit_code, 0);
  ASSERT_FALSE(has_compressed_section(path));
  int fd = open(path.c_str(), O_RDONLY);
  EXPECT_EQ(inflated_debug_file(fd), -1);
  close(fd);
}

TEST(DebugFileInflater, DamagedFilesAreRefusedNotTrusted) {
  TempDir directory;
  std::string path = compressed_debug_file(directory, "zlib");
  ASSERT_FALSE(path.empty());
  std::string whole;
  {
    std::ifstream in(path, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto refused = [&](const std::string& bytes) {
    std::string damaged = directory.file("damaged");
    std::ofstream(damaged, std::ios::binary | std::ios::trunc) << bytes;
    int fd = open(damaged.c_str(), O_RDONLY);
    int result = inflated_debug_file(fd);
    close(fd);
    if (result >= 0) close(result);
    return result < 0;
  };
  // Cut short: the section headers (at the end) are gone.
  EXPECT_TRUE(refused(whole.substr(0, whole.size() / 2)));
  EXPECT_TRUE(refused(whole.substr(0, 10)));
  EXPECT_TRUE(refused(std::string()));
  // A compressed stream damaged in its middle: it no longer inflates to its stated size.
  int fd = open(path.c_str(), O_RDONLY);
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  uint64_t stream_offset = 0;
  uint64_t stream_size = 0;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr header;
    gelf_getshdr(scn, &header);
    if ((header.sh_flags & SHF_COMPRESSED) != 0 && header.sh_size > stream_size) {
      stream_offset = header.sh_offset;
      stream_size = header.sh_size;
    }
  }
  elf_end(elf);
  close(fd);
  ASSERT_GT(stream_size, 256u);
  std::string damaged = whole;
  for (uint64_t i = stream_size / 2; i < stream_size / 2 + 64; ++i) {
    damaged[stream_offset + i] = static_cast<char>(~damaged[stream_offset + i]);
  }
  EXPECT_TRUE(refused(damaged));
  // The untouched file still inflates.
  EXPECT_FALSE(refused(whole));
}

// debug_file_prefetch: the same copies, made on another thread ahead of time.
TEST(DebugFilePrefetch, HandsOutTheInflatedCopyOnce) {
  namespace prefetch = dprof::analyzer::debug_file_prefetch;
  TempDir directory;
  std::string path = compressed_debug_file(directory, "zlib");
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(prefetch::take(path), -1);  // never started: the symbolizer inflates it itself
  prefetch::start(path);
  prefetch::start(path);  // once is enough
  int copy = prefetch::take(path);
  ASSERT_GE(copy, 0);
  int original = open(path.c_str(), O_RDONLY);
  ASSERT_GE(original, 0);
  std::vector<Section> expected = sections_of(original);
  std::vector<Section> got = sections_of(copy);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(got[i].bytes == expected[i].bytes) << expected[i].name;
  }
  close(copy);
  close(original);
  EXPECT_EQ(prefetch::take(path), -1);  // handed out already
}

TEST(DebugFilePrefetch, NothingToInflateOrNoFileGivesNoCopy) {
  namespace prefetch = dprof::analyzer::debug_file_prefetch;
  TempDir directory;
  std::string plain = directory.file("plain");
  ASSERT_EQ(run_command({"objcopy", "--only-keep-debug", this_program(), plain}).exit_code, 0);
  prefetch::start(plain);
  EXPECT_EQ(prefetch::take(plain), -1);
  std::string missing = directory.file("missing");
  prefetch::start(missing);
  EXPECT_EQ(prefetch::take(missing), -1);
  EXPECT_EQ(dprof::analyzer::debug_file_for_build_id(""), "");
  EXPECT_EQ(dprof::analyzer::debug_file_for_build_id(std::string(20, '\x5a')), "");
  EXPECT_EQ(dprof::analyzer::build_id_hex("\x01\xab"), "01ab");
}

// debug_file_cache: the copies kept on disk for the next report.
namespace {

uint64_t inode_of(int fd) {
  struct stat status {};
  fstat(fd, &status);
  return status.st_ino;
}

uint64_t inode_of(const std::string& path) {
  struct stat status {};
  return stat(path.c_str(), &status) == 0 ? status.st_ino : 0;
}

// The copy on `copy` holds the same sections as the debug file at `path`, inflated.
void expect_same_sections(int copy, const std::string& path) {
  int original = open(path.c_str(), O_RDONLY);
  ASSERT_GE(original, 0);
  std::vector<Section> expected = sections_of(original);
  std::vector<Section> got = sections_of(copy);
  close(original);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(got[i].bytes == expected[i].bytes) << expected[i].name;
  }
}

// The cache's copy of the debug file at `path`, made or found.
int cached_copy(const DebugFileCache& cache, const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  int copy = cache.inflated_copy(fd);
  close(fd);
  return copy;
}

std::vector<std::string> entries_in(const DebugFileCache& cache) {
  std::vector<std::string> names;
  auto listing = run_command({"ls", "-A", cache.entries_directory()});
  size_t start = 0;
  while (start < listing.out.size()) {
    size_t end = listing.out.find('\n', start);
    names.push_back(listing.out.substr(start, end - start));
    start = end + 1;
  }
  return names;
}

// A copy of the debug file at `path` whose modification time is `seconds` earlier: the same
// build-id, another cache entry.
std::string aged_copy(const TempDir& directory, const std::string& path, const std::string& name,
                      int seconds) {
  std::string copy = directory.file(name);
  run_command({"cp", path, copy});
  run_command({"touch", "-d", "@" + std::to_string(time(nullptr) - seconds), copy});
  return copy;
}

}  // namespace

TEST(DebugFileCache, StoresTheCopyAndServesItNextTime) {
  TempDir directory;
  TempDir cache_root;
  std::string path = compressed_debug_file(directory, "zlib");
  ASSERT_FALSE(path.empty());
  DebugFileCache cache(cache_root.path());
  EXPECT_EQ(cache.entries_directory(), cache_root.path() + "/debuginfo-v1");
  int first = cached_copy(cache, path);
  ASSERT_GE(first, 0);
  expect_same_sections(first, path);
  close(first);
  // One entry, named by the file's build-id.
  std::vector<std::string> entries = entries_in(cache);
  ASSERT_EQ(entries.size(), 1u);
  int fd = open(path.c_str(), O_RDONLY);
  std::string build_id = dprof::analyzer::build_id_hex(dprof::analyzer::build_id_of_elf_file(fd));
  close(fd);
  ASSERT_FALSE(build_id.empty());
  EXPECT_EQ(entries[0].rfind(build_id + "-", 0), 0u) << entries[0];
  // Next time the entry itself is handed out.
  std::string entry = cache.entries_directory() + "/" + entries[0];
  int second = cached_copy(cache, path);
  ASSERT_GE(second, 0);
  EXPECT_EQ(inode_of(second), inode_of(entry));
  expect_same_sections(second, path);
  close(second);
  EXPECT_EQ(entries_in(cache).size(), 1u);
}

TEST(DebugFileCache, AnEntryThatIsNotTheCopyIsReplaced) {
  TempDir directory;
  TempDir cache_root;
  std::string path = compressed_debug_file(directory, "zlib");
  ASSERT_FALSE(path.empty());
  DebugFileCache cache(cache_root.path());
  close(cached_copy(cache, path));
  std::vector<std::string> entries = entries_in(cache);
  ASSERT_EQ(entries.size(), 1u);
  std::string entry = cache.entries_directory() + "/" + entries[0];
  // Damaged (cut short), then another ELF file (another build-id) in its place.
  for (const std::string& replacement : {std::string("cut"), std::string("other")}) {
    if (replacement == "cut") {
      ASSERT_EQ(truncate(entry.c_str(), 100), 0);
    } else {
      ASSERT_EQ(run_command({"cp", "/bin/true", entry}).exit_code, 0);
    }
    uint64_t planted = inode_of(entry);
    int copy = cached_copy(cache, path);
    ASSERT_GE(copy, 0);
    expect_same_sections(copy, path);
    close(copy);
    EXPECT_NE(inode_of(entry), planted) << replacement;  // the real copy took its place
  }
}

TEST(DebugFileCache, KeepsToItsCapacityDroppingTheLeastRecentlyUsed) {
  TempDir directory;
  TempDir cache_root;
  std::string path = compressed_debug_file(directory, "zlib");
  ASSERT_FALSE(path.empty());
  std::string a = aged_copy(directory, path, "a", 300);
  std::string b = aged_copy(directory, path, "b", 200);
  std::string c = aged_copy(directory, path, "c", 100);
  // Room for two copies of this size, not three.
  int probe = cached_copy(DebugFileCache(""), path);
  ASSERT_GE(probe, 0);
  struct stat image {};
  fstat(probe, &image);
  close(probe);
  DebugFileCache cache(cache_root.path(), static_cast<uint64_t>(image.st_size) * 5 / 2);
  close(cached_copy(cache, a));
  close(cached_copy(cache, b));
  ASSERT_EQ(entries_in(cache).size(), 2u);
  std::vector<std::string> before = entries_in(cache);
  usleep(20000);
  close(cached_copy(cache, a));  // a is used again: b is now the least recently used
  usleep(20000);
  close(cached_copy(cache, c));
  std::vector<std::string> after = entries_in(cache);
  ASSERT_EQ(after.size(), 2u);
  auto entry_of = [&cache](const std::string& file) {
    int fd = open(file.c_str(), O_RDONLY);
    struct stat status {};
    fstat(fd, &status);
    close(fd);
    // The name ends with the file's size and modification time.
    return "-" + std::to_string(status.st_size) + "-" + std::to_string(status.st_mtim.tv_sec) + ".";
  };
  auto holds = [&after](const std::string& part) {
    for (const std::string& name : after) {
      if (name.find(part) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(holds(entry_of(a)));
  EXPECT_FALSE(holds(entry_of(b)));
  EXPECT_TRUE(holds(entry_of(c)));
}

TEST(DebugFileCache, LeftoversOfADeadReportGoWhenStale) {
  TempDir directory;
  TempDir cache_root;
  std::string path = compressed_debug_file(directory, "zlib");
  ASSERT_FALSE(path.empty());
  DebugFileCache cache(cache_root.path());
  ASSERT_EQ(run_command({"mkdir", "-p", cache.entries_directory()}).exit_code, 0);
  std::string stale = cache.entries_directory() + "/.old.debug.1.1.tmp";
  std::string fresh = cache.entries_directory() + "/.new.debug.2.2.tmp";
  run_command({"touch", "-d", "@" + std::to_string(time(nullptr) - 7200), stale});
  run_command({"touch", fresh});
  close(cached_copy(cache, path));
  EXPECT_FALSE(dprof::testing::file_exists(stale));
  EXPECT_TRUE(dprof::testing::file_exists(fresh));  // perhaps another report's, still writing
}

TEST(DebugFileCache, WithoutAUsableDirectoryItStillInflates) {
  TempDir directory;
  std::string path = compressed_debug_file(directory, "zlib");
  ASSERT_FALSE(path.empty());
  // No cache, and a cache under a regular file (no directory can be made there).
  for (const std::string& root : {std::string(), path + "/cache"}) {
    DebugFileCache cache(root);
    int copy = cached_copy(cache, path);
    ASSERT_GE(copy, 0) << root;
    expect_same_sections(copy, path);
    close(copy);
  }
  // A file with nothing to inflate gives no copy, cache or not.
  TempDir cache_root;
  std::string plain = directory.file("plain");
  ASSERT_EQ(run_command({"objcopy", "--only-keep-debug", this_program(), plain}).exit_code, 0);
  EXPECT_EQ(cached_copy(DebugFileCache(cache_root.path()), plain), -1);
}

TEST(DebugFileCache, WhereTheEnvironmentPutsIt) {
  EXPECT_EQ(DebugFileCache::directory_from("/c", "/x", "/h"), "/c");
  EXPECT_EQ(DebugFileCache::directory_from("", "/x", "/h"), "");  // turned off
  EXPECT_EQ(DebugFileCache::directory_from(nullptr, "/x", "/h"), "/x/damon-prof");
  EXPECT_EQ(DebugFileCache::directory_from(nullptr, "relative", "/h"), "/h/.cache/damon-prof");
  EXPECT_EQ(DebugFileCache::directory_from(nullptr, nullptr, "/h"), "/h/.cache/damon-prof");
  EXPECT_EQ(DebugFileCache::directory_from(nullptr, nullptr, nullptr), "");
  EXPECT_EQ(DebugFileCache("").entries_directory(), "");
}

TEST(BuildId, ReadFromTheNoteOfAnElfFile) {
  TempDir directory;
  std::string path = compressed_debug_file(directory, "zlib");
  ASSERT_FALSE(path.empty());
  // readelf's view of the same note.
  auto notes = run_command({"readelf", "-n", path});
  int fd = open(path.c_str(), O_RDONLY);
  std::string id = dprof::analyzer::build_id_hex(dprof::analyzer::build_id_of_elf_file(fd));
  close(fd);
  ASSERT_GE(id.size(), 16u);
  EXPECT_NE(notes.out.find("Build ID: " + id), std::string::npos) << notes.out;
  // Not ELF, or nothing at all: none.
  std::string text = directory.file("text");
  std::ofstream(text) << "not an ELF file";
  fd = open(text.c_str(), O_RDONLY);
  EXPECT_EQ(dprof::analyzer::build_id_of_elf_file(fd), "");
  close(fd);
  EXPECT_EQ(dprof::analyzer::build_id_of_elf_file(-1), "");
}
