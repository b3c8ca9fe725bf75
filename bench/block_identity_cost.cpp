// What an exact trace cannot do without, measured on the trace itself: naming which block each
// free ends, and finding that block among the live ones. heaptrack's final trace does neither (its
// interpreter turns a free into the allocation site and drops the address), so these two figures
// are what a damon-prof trace and report pay that heaptrack's never do, however they are encoded:
//  - naming: each free written as the rank of its block among the live blocks of the thread that
//    allocated it (0 = the youngest; a block freed by another thread also names that thread),
//    varint-coded and compressed with zstd at its strongest level. Lifetimes a program decides by
//    its own data (a std::map erasing by key) leave little for any compressor to find.
//  - finding: the allocations and frees replayed, in the trace's order, into the analyzer's
//    live-block table alone (AddressMap, 32-byte slots, prefetched eight events ahead as the
//    decoder does), best of five.
// Prints one JSON object. Usage: block_identity_cost TRACE
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <unordered_map>
#include <vector>

#include "address_map.h"
#include "trace_decoder.h"

namespace {

using dprof::analyzer::AddressMap;
using dprof::analyzer::Event;
using dprof::analyzer::EventKind;

struct BlockEvent {
  uint64_t address;
  uint64_t size;
  uint32_t thread;
  bool alloc;
};

struct CollectBlockEvents : dprof::analyzer::TraceConsumer {
  std::vector<BlockEvent> events;
  void on_event(const Event& event) override {
    if (event.kind == EventKind::kAlloc || event.kind == EventKind::kFree) {
      events.push_back(
          {event.address, event.size, event.thread_index, event.kind == EventKind::kAlloc});
    }
  }
};

// Live blocks of one thread by allocation order, for their ranks (a Fenwick tree of 0/1).
class LiveByAge {
 public:
  explicit LiveByAge(size_t allocations) : counts_(allocations + 1, 0) {}
  void set(size_t ordinal, int delta) {
    for (size_t i = ordinal + 1; i < counts_.size(); i += i & (~i + 1)) counts_[i] += delta;
  }
  // Live blocks among ordinals [0, ordinal].
  int64_t up_to(size_t ordinal) const {
    int64_t sum = 0;
    for (size_t i = ordinal + 1; i > 0; i -= i & (~i + 1)) sum += counts_[i];
    return sum;
  }

 private:
  std::vector<int32_t> counts_;
};

void put_varint(std::vector<uint8_t>& out, uint64_t value) {
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    out.push_back(static_cast<uint8_t>(byte | (value != 0 ? 0x80 : 0)));
  } while (value != 0);
}

struct Naming {
  uint64_t frees = 0;
  uint64_t unmatched_frees = 0;  // of blocks allocated before recording began
  uint64_t raw_bytes = 0;
  uint64_t compressed_bytes = 0;
};

Naming name_freed_blocks(const std::vector<BlockEvent>& events) {
  std::unordered_map<uint32_t, size_t> allocations_per_thread;
  for (const BlockEvent& event : events) {
    if (event.alloc) ++allocations_per_thread[event.thread];
  }
  std::unordered_map<uint32_t, LiveByAge> live;
  std::unordered_map<uint32_t, size_t> next_ordinal;
  for (const auto& [thread, count] : allocations_per_thread) live.emplace(thread, LiveByAge(count));
  struct Owner {
    uint32_t thread;
    size_t ordinal;
  };
  std::unordered_map<uint64_t, Owner> owners;
  std::vector<uint8_t> ranks;
  Naming naming;
  for (const BlockEvent& event : events) {
    if (event.alloc) {
      size_t ordinal = next_ordinal[event.thread]++;
      live.at(event.thread).set(ordinal, 1);
      owners[event.address] = {event.thread, ordinal};
      continue;
    }
    auto owner = owners.find(event.address);
    if (owner == owners.end()) {
      ++naming.unmatched_frees;
      continue;
    }
    LiveByAge& ages = live.at(owner->second.thread);
    int64_t younger =
        ages.up_to(next_ordinal[owner->second.thread] - 1) - ages.up_to(owner->second.ordinal);
    bool other_thread = owner->second.thread != event.thread;
    put_varint(ranks, static_cast<uint64_t>(younger) * 2 + (other_thread ? 1 : 0));
    if (other_thread) put_varint(ranks, owner->second.thread);
    ages.set(owner->second.ordinal, -1);
    owners.erase(owner);
    ++naming.frees;
  }
  naming.raw_bytes = ranks.size();
  std::vector<uint8_t> compressed(ZSTD_compressBound(ranks.size()));
  size_t written = ZSTD_compress(compressed.data(), compressed.size(), ranks.data(), ranks.size(),
                                 ZSTD_maxCLevel());
  naming.compressed_bytes = ZSTD_isError(written) ? 0 : written;
  return naming;
}

// The analyzer's block slot is 32 bytes: the address and 24 bytes of figures.
struct BlockFigures {
  uint64_t stack_and_time;
  uint64_t size;
  uint64_t weight;
};

struct Finding {
  double seconds = 0;
  size_t peak_live = 0;
};

Finding find_freed_blocks(const std::vector<BlockEvent>& events) {
  constexpr size_t kPrefetchDistance = 8;
  Finding best{1e30, 0};
  for (int trial = 0; trial < 5; ++trial) {
    auto start = std::chrono::steady_clock::now();
    AddressMap<BlockFigures> blocks;
    uint64_t freed_bytes = 0;
    size_t peak = 0;
    for (size_t i = 0; i < events.size(); ++i) {
      if (i + kPrefetchDistance < events.size())
        blocks.prefetch(events[i + kPrefetchDistance].address);
      const BlockEvent& event = events[i];
      if (event.alloc) {
        blocks.insert(event.address, BlockFigures{i, event.size, 1});
        peak = std::max(peak, blocks.size());
      } else {
        BlockFigures figures{};
        if (blocks.take(event.address, &figures)) freed_bytes += figures.size;
      }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Keeps the replay's result alive for the optimizer.
    if (freed_bytes == UINT64_MAX) std::fputs("", stderr);
    if (seconds < best.seconds) best = {seconds, peak};
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: block_identity_cost TRACE\n");
    return 2;
  }
  try {
    CollectBlockEvents collected;
    dprof::analyzer::decode_trace(argv[1], collected);
    Naming naming = name_freed_blocks(collected.events);
    Finding finding = find_freed_blocks(collected.events);
    std::printf(
        "{\"block_events\": %zu, \"frees\": %llu, \"unmatched_frees\": %llu, "
        "\"naming_raw_bytes\": %llu, \"naming_compressed_bytes\": %llu, "
        "\"peak_live_blocks\": %zu, \"table_replay_seconds\": %.6f}\n",
        collected.events.size(), static_cast<unsigned long long>(naming.frees),
        static_cast<unsigned long long>(naming.unmatched_frees),
        static_cast<unsigned long long>(naming.raw_bytes),
        static_cast<unsigned long long>(naming.compressed_bytes), finding.peak_live,
        finding.seconds);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "block_identity_cost: %s: %s\n", argv[1], error.what());
    return 2;
  }
}
