// The heap over time, from the ordered event stream: what is live, the peak and when it happened,
// what was never freed, short-lived ("temporary") allocations, and the same per stack.
// Anonymous writable mappings count as allocations (split by partial munmap, moved by mremap).
// Blocks of a custom allocator (DPROF_FN_CUSTOM, include/damon_prof/annotate.h) are carved out of
// the tracked block or mapping that holds them: their bytes move from its stack to theirs and
// back, so nothing is counted twice; one not inside anything tracked counts on its own.
// Memory grows with live blocks and distinct stacks, never with the trace's length.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "address_map.h"
#include "trace_records.h"

namespace dprof::analyzer {

struct StackStats {
  uint64_t alloc_count = 0;
  uint64_t alloc_bytes = 0;
  uint64_t live_bytes = 0;
  uint64_t live_count = 0;
  uint64_t max_live_bytes = 0;
  uint64_t temporary_count = 0;
  uint64_t mmap_count = 0;
  // Live bytes and blocks at the latest global peak, kept lazily (see heap_model.cpp).
  uint64_t peak_snapshot = 0;
  uint64_t peak_count_snapshot = 0;
  uint64_t peak_epoch = 0;
  // Sampled traces: the fraction of a block this stack's estimated block count still owes (each
  // sampled block stands for 1/p blocks, counted in whole blocks).
  double count_carry = 0;
};

struct HeapTotals {
  uint64_t alloc_count = 0;  // every allocation call that returned memory, mappings included
  uint64_t alloc_bytes = 0;
  uint64_t malloc_count = 0;  // the malloc family alone (what heaptrack counts)
  uint64_t malloc_bytes = 0;
  uint64_t mmap_count = 0;
  uint64_t mmap_bytes = 0;
  uint64_t free_count = 0;
  uint64_t live_bytes = 0;
  uint64_t live_count = 0;
  uint64_t peak_bytes = 0;
  uint64_t peak_time_ns = 0;
  uint64_t temporary_count = 0;
  uint64_t custom_count = 0;  // custom allocator blocks (inside tracked memory or not)
  uint64_t custom_bytes = 0;
  uint64_t unmatched_frees = 0;  // frees of blocks this trace never saw allocated
  uint64_t replaced_blocks = 0;  // an address handed out again without a recorded free
  uint64_t last_event_time_ns = 0;
};

// What the access monitor has seen of a live block (AccessAttribution sets these).
// What the monitor saw of a block, in one byte: the two flags, and in the six bits above them for
// how long the snapshots in a row found it not accessed, in 32nds of the idle threshold
// (saturating; attribution.cpp's idle rule).
enum BlockSeen : uint8_t { kBlockObserved = 1, kBlockTouched = 2 };
constexpr unsigned kQuietShift = 2;
constexpr uint8_t kQuietMax = 63;

// A live block or mapping as the access attribution sees it. `seen` points into the model and is
// valid until the next apply().
struct BlockView {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t stack_id = 0;
  uint64_t alloc_time_ns = 0;
  uint8_t* seen = nullptr;
};

// A block (or the unmapped part of a mapping) that the monitor observed, at the end of its life.
struct EndedBlock {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t stack_id = 0;
  uint8_t seen = 0;
};

class HeapModel {
 public:
  HeapModel() = default;
  // recent_stacks_ points into stacks_.
  HeapModel(const HeapModel&) = delete;
  HeapModel& operator=(const HeapModel&) = delete;

  void apply(const Event& event);
  // Starts loading what apply(event) will look up, a few events ahead of it.
  void prefetch(const Event& event) const { blocks_.prefetch(event.address); }

  // Hears every observed block that ends (freed, replaced, unmapped; not moved by mremap).
  void set_ended_block_listener(std::function<void(const EndedBlock&)> listener) {
    ended_block_listener_ = std::move(listener);
  }
  // Every live block and mapping, ordered by address (the blocks are sorted on each call).
  void live_blocks(std::vector<BlockView>& out);
  // The live mapping, or malloc block of a page or more, that contains `address`.
  std::optional<BlockView> large_block_at(uint64_t address);
  // The live mapping or malloc block, of any size, that contains `address` (a sampled page's
  // fault names the exact address touched, so one block among those sharing the page).
  std::optional<BlockView> block_at(uint64_t address);

  const HeapTotals& totals() const { return totals_; }
  // Per stack id: the stack's bytes live at the moment of the global peak.
  uint64_t bytes_at_peak(const StackStats& stats) const;
  uint64_t blocks_at_peak(const StackStats& stats) const;
  const std::unordered_map<uint64_t, StackStats>& stacks() const { return stacks_; }

  void set_page_size(uint64_t page_size) { page_size_ = page_size == 0 ? 4096 : page_size; }
  // A trace whose malloc-family events are a Poisson sample, one point per `rate` bytes
  // (include/damon_prof/trace_format.h): each sampled block of size s then stands for s / p bytes
  // and 1 / p blocks, p = 1 - exp(-s / rate), its probability of being sampled (the Horvitz-
  // Thompson estimator: unbiased). Counts, bytes, live, peak and leaks per stack become
  // estimates; mappings and custom blocks are never sampled.
  void set_sample_rate(uint64_t rate) { sample_rate_ = rate; }
  uint64_t sample_rate() const { return sample_rate_; }

 private:
  // A live malloc block, in 24 bytes so that two share a cache line of blocks_ (address_map.h):
  // the allocation time takes the low 56 bits (2.3 years of nanoseconds; a crafted trace's later
  // times saturate), what the monitor saw of the block the top byte.
  struct Block {
    static constexpr unsigned kTimeBits = 56;
    static constexpr uint64_t kTimeMask = (uint64_t{1} << kTimeBits) - 1;
    uint64_t size = 0;
    uint64_t stack_id = 0;
    uint64_t time_and_seen = 0;
    uint64_t alloc_time_ns() const { return time_and_seen & kTimeMask; }
    uint8_t seen() const { return static_cast<uint8_t>(time_and_seen >> kTimeBits); }
    // The top byte, where BlockView::seen points (little-endian).
    uint8_t* seen_byte() { return reinterpret_cast<uint8_t*>(&time_and_seen) + kTimeBits / 8; }
  };
  static_assert(sizeof(Block) == 24);
  // What a block counts for: its size and 1 when every allocation is an event; in a sampled trace
  // the estimate it stands for, kept in weights_ (by address) when it is not that.
  struct Weight {
    uint64_t bytes = 0;
    uint64_t count = 0;
  };
  struct Mapping {
    uint64_t end;
    uint64_t stack_id;
    uint64_t alloc_time_ns;
    uint8_t seen;
  };
  struct CustomBlock {
    uint64_t end;
    uint64_t stack_id;
    uint64_t alloc_time_ns;
    bool contained;            // inside a tracked block or mapping, whose bytes it holds
    uint64_t container_stack;  // that block's stack
    uint8_t seen;
  };

  StackStats& touch(uint64_t stack_id);
  void add_live(uint64_t stack_id, uint64_t bytes, uint64_t count, uint64_t time_ns);
  void remove_live(uint64_t stack_id, uint64_t bytes, uint64_t count);
  void on_alloc(const Event& event);
  void on_free(const Event& event);
  void on_mmap(const Event& event);
  void on_custom_alloc(const Event& event);
  void on_custom_free(const Event& event);
  // Ends the custom blocks inside [start, end): their container is going away.
  void end_custom_blocks(uint64_t start, uint64_t end, uint64_t time_ns);
  void end_custom_block(std::map<uint64_t, CustomBlock>::iterator block, uint64_t time_ns);
  // Removes [start, end) from the tracked mappings; returns the first piece removed so an mremap
  // can carry its stack, age and what was seen of it over (`moving`: not the end of its life).
  std::optional<Mapping> unmap_range(uint64_t start, uint64_t end, bool moving);
  void ended(uint64_t start, uint64_t end, uint64_t stack_id, uint8_t seen) const {
    if ((seen & kBlockObserved) != 0 && ended_block_listener_)
      ended_block_listener_(EndedBlock{start, end, stack_id, seen});
  }

  // What a new block of `size` counts for (see set_sample_rate).
  Weight weigh(uint64_t size, StackStats& stats) const;
  // What a block leaving blocks_ counted for, forgetting it.
  Weight take_weight(uint64_t address, const Block& block);

  HeapTotals totals_;
  uint64_t sample_rate_ = 0;
  uint64_t peak_epoch_ = 1;
  uint64_t page_size_ = 4096;
  AddressMap<Block> blocks_;
  AddressMap<Weight>
      weights_;  // only blocks of a sampled trace that stand for more than themselves
  std::map<uint64_t, Mapping> mappings_;
  std::map<uint64_t, uint64_t> large_blocks_;  // start -> end of malloc blocks of a page or more
  std::map<uint64_t, CustomBlock> custom_blocks_;
  std::unordered_map<uint64_t, StackStats> stacks_;
  // Recently used entries of stacks_ (whose nodes never move), by stack id modulo the size:
  // nearly every event finds its stack here instead of hashing into the map.
  struct RecentStack {
    uint64_t stack_id = UINT64_MAX;
    StackStats* stats = nullptr;
  };
  static constexpr size_t kRecentStacks = 256;
  RecentStack recent_stacks_[kRecentStacks];
  StackStats& stats_for(uint64_t stack_id);
  // Per thread, the block it allocated last while that is still live (for temporaries). Thread
  // indices are dense from 0 in a real trace, so a vector serves them without hashing or a node
  // per allocation; a crafted trace's large indices go to the map. Entries are kept, not erased.
  struct LastAlloc {
    uint64_t address = 0;
    bool live = false;
  };
  static constexpr uint32_t kDenseThreads = 4096;
  LastAlloc& last_alloc_of(uint32_t thread_index);
  std::vector<LastAlloc> last_alloc_by_thread_;
  std::unordered_map<uint32_t, LastAlloc> last_alloc_by_far_thread_;
  std::unordered_map<uint32_t, Mapping> remapped_by_thread_;
  std::function<void(const EndedBlock&)> ended_block_listener_;
};

}  // namespace dprof::analyzer
