#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <string>
#include <vector>

#include "monitor/target_discovery.h"

using dprof::monitor::AddressRange;
using dprof::monitor::discover_targets;
using dprof::monitor::parse_maps_targets;

namespace {

std::vector<AddressRange> parse(const std::string& maps, std::vector<AddressRange> excluded = {}) {
  std::vector<AddressRange> out(64);
  size_t count = parse_maps_targets(maps.data(), maps.size(), excluded.data(), excluded.size(),
                                    out.data(), out.size());
  out.resize(count);
  return out;
}

const char kMaps[] =
    "55d4c2a00000-55d4c2a02000 r--p 00000000 fe:01 1234                       /usr/bin/app\n"
    "55d4c2a02000-55d4c2a03000 rw-p 00002000 fe:01 1234                       /usr/bin/app\n"
    "55d4c3000000-55d4c3021000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
    "7f0000021000-7f0004000000 ---p 00000000 00:00 0 \n"
    "7f1000000000-7f1000001000 ---p 00000000 00:00 0 \n"
    "7f1000001000-7f1000801000 rw-p 00000000 00:00 0 \n"
    "7f2000000000-7f2000100000 rw-p 00000000 00:00 0 \n"
    "7f2000100000-7f2000200000 rw-p 00000000 00:00 0 \n"
    "7f3000000000-7f3000010000 rw-s 00000000 00:05 77                         /dev/shm/x\n"
    "7f4000000000-7f4000010000 r--p 00000000 00:00 0 \n"
    "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n"
    "7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0                          [vdso]\n";

}  // namespace

TEST(TargetDiscovery, KeepsAnonymousWritablePrivateMemoryOnly) {
  auto targets = parse(kMaps);
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].start, 0x55d4c3000000u);  // the heap; the program's data segment is a file
  EXPECT_EQ(targets[1].start, 0x7f0000000000u);  // an arena's used part (inaccessible part above)
  EXPECT_EQ(targets[1].end, 0x7f0000021000u);
  // 0x7f1000001000: a thread stack above its guard page: left out.
  EXPECT_EQ(targets[2].start, 0x7f2000000000u);  // two adjacent mappings joined
  EXPECT_EQ(targets[2].end, 0x7f2000200000u);
}

TEST(TargetDiscovery, CutsOutExcludedRanges) {
  auto targets =
      parse(kMaps, {{0x7f2000080000u, 0x7f2000180000u}, {0x55d4c3000000u, 0x55d4c3001000u}});
  ASSERT_EQ(targets.size(), 4u);
  EXPECT_EQ(targets[0].start, 0x55d4c3001000u);
  EXPECT_EQ(targets[2].end, 0x7f2000080000u);
  EXPECT_EQ(targets[3].start, 0x7f2000180000u);
  EXPECT_EQ(targets[3].end, 0x7f2000200000u);
}

TEST(TargetDiscovery, SurvivesMalformedText) {
  EXPECT_TRUE(parse("").empty());
  EXPECT_TRUE(parse("garbage\nmore garbage without dashes\n7f-\n").empty());
  std::string no_newline = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0";
  EXPECT_EQ(parse(no_newline).size(), 1u);
}

TEST(TargetDiscovery, FindsAFreshAnonymousMappingOfThisProcess) {
  size_t length = 16 * 4096;
  void* mapping = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mapping, MAP_FAILED);
  std::vector<AddressRange> out(4096);
  size_t count = discover_targets(nullptr, 0, out.data(), out.size());
  auto start = reinterpret_cast<uint64_t>(mapping);
  bool found = false;
  for (size_t i = 0; i < count; ++i)
    found = found || (out[i].start <= start && out[i].end >= start + length);
  EXPECT_TRUE(found);
  AddressRange excluded{start, start + length};
  count = discover_targets(&excluded, 1, out.data(), out.size());
  for (size_t i = 0; i < count; ++i) {
    EXPECT_FALSE(out[i].start < start + length && out[i].end > start) << std::hex << out[i].start;
  }
  munmap(mapping, length);
}

TEST(TargetDiscovery, APageReadSamplingProtectsIsATargetAndNoGuard) {
  // The heap with one page protected by the sampler in it: three mappings in the maps. Without
  // being told, the protected page looks like a thread stack's guard and the heap above it like
  // that stack.
  const std::string maps =
      "55d4c3000000-55d4c3010000 rw-p 00000000 00:00 0                          [heap]\n"
      "55d4c3010000-55d4c3011000 ---p 00000000 00:00 0                          [heap]\n"
      "55d4c3011000-55d4c3021000 rw-p 00000000 00:00 0                          [heap]\n";
  std::vector<AddressRange> out(8);
  size_t count = parse_maps_targets(maps.data(), maps.size(), nullptr, 0, out.data(), out.size());
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(out[0].end, 0x55d4c3010000u);  // what the heuristic takes for a stack is left out
  auto sampled = [](uint64_t start, uint64_t end) {
    return start == 0x55d4c3010000u && end == 0x55d4c3011000u;
  };
  count = parse_maps_targets(maps.data(), maps.size(), nullptr, 0, out.data(), out.size(), sampled);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(out[0].start, 0x55d4c3000000u);
  EXPECT_EQ(out[0].end, 0x55d4c3021000u);
}
