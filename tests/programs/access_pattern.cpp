// An access-pattern generator in the spirit of DAMON's masim: REGIONS buffers of MIB MiB each
// (separate anonymous mappings), then phases of MS milliseconds; in each phase, every iteration
// touches a random page of buffer i with probability weight_i. Accesses are reads, writes or both.
//   access_pattern REGIONS MIB MS read|write|rw WEIGHTS [WEIGHTS...]
// WEIGHTS is a comma-separated list, one weight in [0,1] per buffer, e.g. "1,0,0.05,0", optionally
// after a phase's own mode and order, as in masim: "read:sequential:0,1,0,0" (MODE read|write|rw,
// ORDER random|sequential; sequential walks each buffer page by page).
// At the start of phase p the program makes one malloc of 100000 + p bytes, so that a trace
// shows when each phase began.
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {
volatile void* sink;
volatile unsigned long long read_sum;
}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: access_pattern REGIONS MIB MS read|write|rw WEIGHTS...\n");
    return 2;
  }
  size_t region_count = std::strtoul(argv[1], nullptr, 10);
  size_t region_bytes = std::strtoul(argv[2], nullptr, 10) << 20;
  long phase_ms = std::strtol(argv[3], nullptr, 10);
  std::string mode = argv[4];
  std::vector<char*> regions;
  for (size_t i = 0; i < region_count; ++i) {
    void* mapping =
        mmap(nullptr, region_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) return 1;
    std::memset(mapping, 1, region_bytes);  // populated, so reads find real pages
    regions.push_back(static_cast<char*>(mapping));
  }
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t pages = region_bytes / page;
  std::mt19937_64 random(12345);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<size_t> cursors(region_count, 0);
  for (int phase = 5; phase < argc; ++phase) {
    std::string spec = argv[phase];
    std::string phase_mode = mode;
    bool sequential = false;
    if (size_t colon = spec.rfind(':'); colon != std::string::npos) {
      std::string prefix = spec.substr(0, colon);
      spec = spec.substr(colon + 1);
      size_t first = prefix.find(':');
      phase_mode = prefix.substr(0, first);
      sequential = first != std::string::npos && prefix.substr(first + 1) == "sequential";
    }
    bool reads = phase_mode == "read" || phase_mode == "rw";
    bool writes = phase_mode == "write" || phase_mode == "rw";
    std::vector<double> weights;
    std::stringstream list(spec);
    std::string item;
    while (std::getline(list, item, ',')) weights.push_back(std::strtod(item.c_str(), nullptr));
    weights.resize(region_count, 0.0);
    sink = std::malloc(100000 + static_cast<size_t>(phase - 5));  // the phase marker
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(phase_ms);
    while (std::chrono::steady_clock::now() < end) {
      for (int burst = 0; burst < 256; ++burst) {
        for (size_t i = 0; i < region_count; ++i) {
          if (weights[i] <= 0 || unit(random) >= weights[i]) continue;
          size_t target_page = sequential ? cursors[i]++ % pages : random() % pages;
          char* target = regions[i] + target_page * page + (random() % page);
          if (reads) read_sum = read_sum + static_cast<unsigned char>(*target);
          if (writes) *target = static_cast<char>(burst);
        }
      }
    }
  }
  std::printf("access_pattern done\n");
  return 0;
}
