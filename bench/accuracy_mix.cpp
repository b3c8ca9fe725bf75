// The C++ program of `make accuracy` (bench/accuracy.py): allocation sites whose access densities
// (bytes read and written per byte allocated, what DHAT counts exactly) spread over orders of
// magnitude, in the shapes C++ memory takes: node containers (std::map, std::list,
// std::unordered_map), large vectors read in sequence or at random, buffers written only, memory
// allocated and never touched again, and short-lived strings.
//   accuracy_mix [SCALE]
// The work is fixed (SCALE times a base amount, default 1), not timed, so that DHAT's run, tens
// of times slower, does the same; it is spread evenly over ROUNDS rounds so that every site's
// accesses span the run. Each site is a function of its own (noinline): the allocation's first
// frame outside the allocator names it. Prints one checksum line that does not depend on timing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using Map = std::map<uint64_t, uint64_t>;
constexpr int kRounds = 40;

volatile uint64_t g_sink;

// --- The sites: each builds its structure ------------------------------------------------------
__attribute__((noinline)) void build_hot_map(Map& map, uint64_t entries) {
  for (uint64_t key = 0; key < entries; ++key) map.emplace(key * 2654435761u % (1u << 31), key);
}
__attribute__((noinline)) void build_warm_map(Map& map, uint64_t entries) {
  for (uint64_t key = 0; key < entries; ++key) map.emplace(key * 2246822519u % (1u << 31), key);
}
__attribute__((noinline)) void build_cold_map(Map& map, uint64_t entries) {
  for (uint64_t key = 0; key < entries; ++key) map.emplace(key * 3266489917u % (1u << 31), key);
}
__attribute__((noinline)) void build_node_list(std::list<uint64_t>& list, uint64_t entries) {
  for (uint64_t i = 0; i < entries; ++i) list.push_back(i);
}
__attribute__((noinline)) void build_lookup_table(std::unordered_map<uint64_t, uint64_t>& table,
                                                  uint64_t entries) {
  table.reserve(entries);
  for (uint64_t i = 0; i < entries; ++i) table.emplace(i * 7919, i);
}
__attribute__((noinline)) std::vector<uint64_t>* make_stream_vector(size_t words) {
  return new std::vector<uint64_t>(words, 1);
}
__attribute__((noinline)) std::vector<uint64_t>* make_random_vector(size_t words) {
  return new std::vector<uint64_t>(words, 2);
}
__attribute__((noinline)) std::vector<uint64_t>* make_rare_vector(size_t words) {
  return new std::vector<uint64_t>(words, 3);
}
__attribute__((noinline)) char* make_write_buffer(size_t bytes) {
  return static_cast<char*>(std::malloc(bytes));
}
__attribute__((noinline)) char* make_idle_buffer(size_t bytes) {
  auto* buffer = static_cast<char*>(std::malloc(bytes));
  std::memset(buffer, 7, bytes);  // written once, never again
  return buffer;
}
__attribute__((noinline)) std::string make_scratch_string(uint64_t seed) {
  return std::string(48 + seed % 64, static_cast<char>('a' + seed % 26));
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t scale = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
  Map hot_map;
  Map warm_map;
  Map cold_map;
  std::list<uint64_t> node_list;
  std::unordered_map<uint64_t, uint64_t> lookup_table;
  build_hot_map(hot_map, 150000);
  build_warm_map(warm_map, 150000);
  build_cold_map(cold_map, 150000);
  build_node_list(node_list, 100000);
  build_lookup_table(lookup_table, 100000);
  constexpr size_t kWords = (16u << 20) / sizeof(uint64_t);  // 16 MiB each
  std::vector<uint64_t>* stream = make_stream_vector(kWords);
  std::vector<uint64_t>* random_access = make_random_vector(kWords);
  std::vector<uint64_t>* rare = make_rare_vector(kWords);
  constexpr size_t kBuffer = 8u << 20;
  char* written = make_write_buffer(kBuffer);
  char* idle = make_idle_buffer(kBuffer);

  std::mt19937_64 random(42);
  uint64_t sum = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (uint64_t step = 0; step < scale; ++step) {
      // Hot: many random lookups; warm: a tenth as many.
      for (int i = 0; i < 60000; ++i) {
        auto found = hot_map.find(random() % (1u << 31));
        if (found != hot_map.end()) sum += found->second;
      }
      for (int i = 0; i < 6000; ++i) {
        auto found = warm_map.find(random() % (1u << 31));
        if (found != warm_map.end()) sum += found->second;
      }
      // The list walked end to end twice a round.
      for (int pass = 0; pass < 2; ++pass) {
        for (uint64_t value : node_list) sum += value;
      }
      for (int i = 0; i < 20000; ++i) {
        auto found = lookup_table.find((random() % 100000) * 7919);
        if (found != lookup_table.end()) sum += found->second;
      }
      // The stream vector read in full once a round; the random one at 200,000 places.
      for (uint64_t word : *stream) sum += word;
      for (int i = 0; i < 200000; ++i) sum += (*random_access)[random() % kWords];
      // The write-only buffer: a quarter of it written each round.
      size_t quarter = kBuffer / 4;
      std::memset(written + (static_cast<size_t>(round) % 4) * quarter, round, quarter);
      // Temporaries: made, read once, gone.
      for (int i = 0; i < 2000; ++i) sum += make_scratch_string(random()).size();
    }
    // The rare vector read in full twice in the whole run.
    if (round == kRounds / 3 || round == 2 * kRounds / 3) {
      for (uint64_t word : *rare) sum += word;
    }
  }
  g_sink = sum + static_cast<uint64_t>(idle[12345]) * 0;
  std::printf("accuracy_mix: %zu, %zu, %zu entries; done\n", hot_map.size(), warm_map.size(),
              cold_map.size());
  delete stream;
  delete random_access;
  delete rare;
  std::free(written);
  std::free(idle);
  return 0;
}
