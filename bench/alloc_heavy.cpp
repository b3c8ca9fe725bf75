// An allocation-heavy C++ workload for comparing profilers: several threads churning std::map
// and std::string (node allocations, short-lived temporaries, vectors growing by realloc-like
// doubling). Prints a checksum so the work cannot be optimised away.
//   alloc_heavy [THREADS] [ROUNDS]
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

unsigned long long work(unsigned seed, int rounds) {
  unsigned long long checksum = 0;
  std::map<std::string, std::vector<int>> table;
  unsigned state = seed * 2654435761u + 1;
  for (int round = 0; round < rounds; ++round) {
    state = state * 1103515245u + 12345u;
    std::string key = "key-" + std::to_string(state % 5000) + "-" + std::to_string(round % 7);
    auto& values = table[key];
    values.push_back(static_cast<int>(state));
    if (values.size() > 8) values.clear();
    if ((state & 7) == 0) table.erase(table.begin());
    std::string temporary = key + ":" + std::to_string(values.size());
    checksum += temporary.size() + table.size();
  }
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 4;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 200000;
  std::vector<std::thread> workers;
  std::vector<unsigned long long> results(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([t, rounds, &results] {
      results[static_cast<size_t>(t)] = work(static_cast<unsigned>(t), rounds);
    });
  }
  unsigned long long total = 0;
  for (int t = 0; t < threads; ++t) {
    workers[static_cast<size_t>(t)].join();
    total += results[static_cast<size_t>(t)];
  }
  std::printf("alloc_heavy: %d threads x %d rounds, checksum %llu\n", threads, rounds, total);
  return 0;
}
