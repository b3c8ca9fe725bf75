// Ground truth for small blocks: two std::map<uint64_t, uint64_t> of the same size (48-byte
// nodes), built by two functions; the first is then looked up at random (reads only) for the
// rest of the run, the second is never touched again.
//   node_containers SECONDS [sequential|interleaved|structs] [ENTRIES]
// sequential:  build_read_map fills its map, then build_untouched_map fills the other: each
//              map's nodes lie together.
// interleaved: both are built node by node in turn, so their nodes share every page.
// structs:     an array of pointers to small structs (64 bytes) allocated by two sites in turn
//              (make_read_struct, make_untouched_struct); only the first site's are read.
// Prints one line that does not depend on timing.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using Map = std::map<uint64_t, uint64_t>;

// Each site is a function of its own that the compiler may not fold into its caller: the
// allocation's first frame outside the allocator names it.
__attribute__((noinline)) void insert_read(Map& map, uint64_t key) {
  map.emplace(key, key * 3);
}
__attribute__((noinline)) void insert_untouched(Map& map, uint64_t key) {
  map.emplace(key, key * 5);
}

__attribute__((noinline)) void build_read_map(Map& map, uint64_t entries) {
  for (uint64_t key = 0; key < entries; ++key) insert_read(map, key * 2654435761u % (1u << 31));
}
__attribute__((noinline)) void build_untouched_map(Map& map, uint64_t entries) {
  for (uint64_t key = 0; key < entries; ++key) {
    insert_untouched(map, key * 2654435761u % (1u << 31));
  }
}

struct Record {
  uint64_t words[8];
};
__attribute__((noinline)) Record* make_read_struct(uint64_t seed) {
  auto* record = static_cast<Record*>(std::malloc(sizeof(Record)));
  for (int i = 0; i < 8; ++i) record->words[i] = seed + static_cast<uint64_t>(i);
  return record;
}
__attribute__((noinline)) Record* make_untouched_struct(uint64_t seed) {
  auto* record = static_cast<Record*>(std::malloc(sizeof(Record)));
  for (int i = 0; i < 8; ++i) record->words[i] = seed * 7 + static_cast<uint64_t>(i);
  return record;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::strtod(argv[1], nullptr) : 4.0;
  std::string layout = argc > 2 ? argv[2] : "sequential";
  uint64_t entries = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 300000;
  std::mt19937_64 random(7);
  auto end = std::chrono::steady_clock::now() +
             std::chrono::microseconds(static_cast<long long>(seconds * 1e6));
  uint64_t sum = 0;
  uint64_t lookups = 0;
  if (layout == "structs") {
    std::vector<Record*> read_records;
    std::vector<Record*> untouched_records;
    read_records.reserve(entries);
    untouched_records.reserve(entries);
    for (uint64_t i = 0; i < entries; ++i) {
      read_records.push_back(make_read_struct(i));
      untouched_records.push_back(make_untouched_struct(i));
    }
    while (std::chrono::steady_clock::now() < end) {
      for (int i = 0; i < 4096; ++i) sum += read_records[random() % entries]->words[i & 7];
      lookups += 4096;
    }
    for (uint64_t i = 0; i < entries; ++i) {
      std::free(read_records[i]);
      std::free(untouched_records[i]);
    }
  } else {
    Map read_map;
    Map untouched_map;
    if (layout == "interleaved") {
      for (uint64_t key = 0; key < entries; ++key) {
        uint64_t mixed = key * 2654435761u % (1u << 31);
        insert_read(read_map, mixed);
        insert_untouched(untouched_map, mixed);
      }
    } else {
      build_read_map(read_map, entries);
      build_untouched_map(untouched_map, entries);
    }
    while (std::chrono::steady_clock::now() < end) {
      for (int i = 0; i < 4096; ++i) {
        auto found = read_map.find(random() % (1u << 31));
        if (found != read_map.end()) sum += found->second;
      }
      lookups += 4096;
    }
  }
  std::printf("node_containers %s: %llu entries each, lookups done\n", layout.c_str(),
              static_cast<unsigned long long>(entries));
  return lookups > 0 && sum != 1 ? 0 : 1;
}
