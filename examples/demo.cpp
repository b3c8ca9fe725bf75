// The damon-prof demo: a small program with the memory behaviours the profiler is built to tell
// apart.
//  - a lookup table read over and over (hot),
//  - a cache filled once and then never read again (idle),
//  - a leak: session records that are never freed,
//  - churn: many short-lived strings built and dropped at once (temporary allocations).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Session {
  char user[64];
  uint64_t started;
};

__attribute__((noinline)) std::vector<uint32_t> build_lookup_table(size_t entries) {
  std::vector<uint32_t> table(entries);
  for (size_t i = 0; i < entries; ++i) table[i] = static_cast<uint32_t>(i * 2654435761u);
  return table;
}

__attribute__((noinline)) std::unordered_map<int, std::string> fill_idle_cache(int entries) {
  std::unordered_map<int, std::string> cache;
  for (int i = 0; i < entries; ++i)
    cache.emplace(i, std::string(512, static_cast<char>('a' + i % 26)));
  return cache;
}

__attribute__((noinline)) Session* open_session(int id) {
  auto* session = static_cast<Session*>(std::malloc(sizeof(Session)));
  std::snprintf(session->user, sizeof(session->user), "user-%d", id);
  session->started = static_cast<uint64_t>(id);
  return session;  // never closed: a leak
}

__attribute__((noinline)) size_t churn_strings(int rounds) {
  size_t total = 0;
  for (int i = 0; i < rounds; ++i) {
    std::string message = "request " + std::to_string(i) + " handled by worker pool";
    total += message.size();
  }
  return total;
}

__attribute__((noinline)) uint64_t query_table(const std::vector<uint32_t>& table, int queries) {
  uint64_t sum = 0;
  uint32_t index = 1;
  for (int i = 0; i < queries; ++i) {
    index = table[index % table.size()] ^ static_cast<uint32_t>(i);
    sum += index;
  }
  return sum;
}

}  // namespace

int main() {
  std::vector<uint32_t> table = build_lookup_table(1 << 20);           // 4 MiB, hot
  std::unordered_map<int, std::string> cache = fill_idle_cache(4096);  // ~2 MiB, idle
  std::vector<Session*> sessions;
  for (int i = 0; i < 1000; ++i) sessions.push_back(open_session(i));
  size_t churned = churn_strings(100000);
  // About 1.5 s of queries: the cache stays untouched for longer than the report's idle
  // threshold (1 s), as the idle memory of a real program would.
  uint64_t checksum = query_table(table, 100000000);
  std::printf("demo: checksum %llu, churned %zu bytes, %zu cached entries, %zu sessions\n",
              static_cast<unsigned long long>(checksum), churned, cache.size(), sessions.size());
  return 0;
}
