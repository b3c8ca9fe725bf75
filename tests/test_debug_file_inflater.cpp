#include <fcntl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "build_id.h"
#include "debug_file_inflater.h"
#include "debug_file_prefetch.h"
#include "test_support.h"

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
