#include "heap_model.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>

#include "damon_prof/trace_format.h"

namespace dprof::analyzer {

HeapModel::LastAlloc& HeapModel::last_alloc_of(uint32_t thread_index) {
  if (thread_index >= kDenseThreads) return last_alloc_by_far_thread_[thread_index];
  if (thread_index >= last_alloc_by_thread_.size()) last_alloc_by_thread_.resize(thread_index + 1);
  return last_alloc_by_thread_[thread_index];
}

// Peak attribution without a snapshot at every new peak: each new peak starts a new epoch. A
// stack not modified since the latest peak still holds its at-peak value in live_bytes; a stack
// about to be modified first saves live_bytes as its at-peak value (touch()).
StackStats& HeapModel::stats_for(uint64_t stack_id) {
  RecentStack& recent = recent_stacks_[stack_id % kRecentStacks];
  // An empty entry's id (UINT64_MAX) is a possible id too: it has no stats yet.
  if (recent.stack_id != stack_id || recent.stats == nullptr) {
    recent = {stack_id, &stacks_[stack_id]};
  }
  return *recent.stats;
}

StackStats& HeapModel::touch(uint64_t stack_id) {
  StackStats& stats = stats_for(stack_id);
  if (stats.peak_epoch != peak_epoch_) {
    stats.peak_snapshot = stats.live_bytes;
    stats.peak_count_snapshot = stats.live_count;
    stats.peak_epoch = peak_epoch_;
  }
  return stats;
}

uint64_t HeapModel::bytes_at_peak(const StackStats& stats) const {
  return stats.peak_epoch == peak_epoch_ ? stats.peak_snapshot : stats.live_bytes;
}

uint64_t HeapModel::blocks_at_peak(const StackStats& stats) const {
  return stats.peak_epoch == peak_epoch_ ? stats.peak_count_snapshot : stats.live_count;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Block::seen_byte is the top byte");

HeapModel::Weight HeapModel::weigh(uint64_t size, StackStats& stats) const {
  Weight weight{size, 1};
  if (sample_rate_ == 0 || size == 0) return weight;
  double probability = -std::expm1(-static_cast<double>(size) / static_cast<double>(sample_rate_));
  if (!(probability > 0)) return weight;
  double factor = 1.0 / probability;
  weight.bytes = static_cast<uint64_t>(std::llround(static_cast<double>(size) * factor));
  // Whole blocks, the fractions carried per stack so that the sum stays unbiased.
  stats.count_carry += factor;
  double whole = std::floor(stats.count_carry);
  stats.count_carry -= whole;
  weight.count = static_cast<uint64_t>(whole);
  return weight;
}

HeapModel::Weight HeapModel::take_weight(uint64_t address, const Block& block) {
  Weight weight{block.size, 1};
  if (weights_.size() != 0) weights_.take(address, &weight);
  return weight;
}

void HeapModel::add_live(uint64_t stack_id, uint64_t bytes, uint64_t count, uint64_t time_ns) {
  StackStats& stats = touch(stack_id);
  stats.live_bytes += bytes;
  stats.live_count += count;
  if (stats.live_bytes > stats.max_live_bytes) stats.max_live_bytes = stats.live_bytes;
  totals_.live_bytes += bytes;
  totals_.live_count += count;
  if (totals_.live_bytes > totals_.peak_bytes) {
    totals_.peak_bytes = totals_.live_bytes;
    totals_.peak_time_ns = time_ns;
    ++peak_epoch_;
  }
}

void HeapModel::remove_live(uint64_t stack_id, uint64_t bytes, uint64_t count) {
  StackStats& stats = touch(stack_id);
  stats.live_bytes -= bytes;
  stats.live_count -= count;
  totals_.live_bytes -= bytes;
  totals_.live_count -= count;
}

void HeapModel::apply(const Event& event) {
  if (event.time_ns > totals_.last_event_time_ns) totals_.last_event_time_ns = event.time_ns;
  switch (event.kind) {
    case EventKind::kAlloc:
      on_alloc(event);
      break;
    case EventKind::kFree:
      on_free(event);
      break;
    case EventKind::kMmap:
      on_mmap(event);
      break;
    case EventKind::kMunmap: {
      uint64_t length = (event.size + page_size_ - 1) / page_size_ * page_size_;
      bool moving = event.function == DPROF_FN_MREMAP;
      std::optional<Mapping> first = unmap_range(event.address, event.address + length, moving);
      if (moving) {
        if (first) {
          remapped_by_thread_[event.thread_index] = *first;
        } else {
          remapped_by_thread_.erase(event.thread_index);  // nothing of ours moves
        }
      }
      break;
    }
  }
}

void HeapModel::on_alloc(const Event& event) {
  if (event.function == DPROF_FN_CUSTOM) {
    on_custom_alloc(event);
    return;
  }
  Block old;
  if (blocks_.take(event.address, &old)) {
    // The free of the old block was never recorded (made after the trace closed, or by a path
    // that bypassed the hooks); the new block replaces it.
    ++totals_.replaced_blocks;
    if (old.size >= page_size_)
      end_custom_blocks(event.address, event.address + old.size, event.time_ns);
    Weight old_weight = take_weight(event.address, old);
    remove_live(old.stack_id, old_weight.bytes, old_weight.count);
    ended(event.address, event.address + old.size, old.stack_id, old.seen());
    if (old.size >= page_size_) large_blocks_.erase(event.address);
  }
  StackStats& stats = touch(event.stack_id);
  Weight weight = weigh(event.size, stats);
  blocks_.insert(event.address, Block{event.size, event.stack_id,
                                      std::min<uint64_t>(event.time_ns, Block::kTimeMask)});
  // Absent before: blocks_ did not hold the address (and weights_ holds only what it holds).
  if (weight.bytes != event.size || weight.count != 1) weights_.insert(event.address, weight);
  if (event.size >= page_size_) large_blocks_[event.address] = event.address + event.size;
  stats.alloc_count += weight.count;
  stats.alloc_bytes += weight.bytes;
  totals_.alloc_count += weight.count;
  totals_.alloc_bytes += weight.bytes;
  totals_.malloc_count += weight.count;
  totals_.malloc_bytes += weight.bytes;
  add_live(event.stack_id, weight.bytes, weight.count, event.time_ns);
  last_alloc_of(event.thread_index) = {event.address, true};
}

void HeapModel::on_free(const Event& event) {
  if (event.function == DPROF_FN_CUSTOM) {
    on_custom_free(event);
    return;
  }
  Block block;
  if (!blocks_.take(event.address, &block)) {
    ++totals_.unmatched_frees;
    return;
  }
  if (block.size >= page_size_) {
    end_custom_blocks(event.address, event.address + block.size, event.time_ns);
  }
  Weight weight = take_weight(event.address, block);
  totals_.free_count += weight.count;
  remove_live(block.stack_id, weight.bytes, weight.count);
  ended(event.address, event.address + block.size, block.stack_id, block.seen());
  if (block.size >= page_size_) large_blocks_.erase(event.address);
  // Temporary: freed by the thread that made it, with no allocation on that thread in between.
  // realloc's release of the old block is a move, not the end of a short life.
  LastAlloc& last = last_alloc_of(event.thread_index);
  if (last.live && last.address == event.address) {
    last.live = false;
    if (event.function != DPROF_FN_REALLOC && event.function != DPROF_FN_REALLOCARRAY) {
      stats_for(block.stack_id).temporary_count += weight.count;
      totals_.temporary_count += weight.count;
    }
  }
}

void HeapModel::on_mmap(const Event& event) {
  uint64_t length = (event.size + page_size_ - 1) / page_size_ * page_size_;
  Mapping mapping{event.address + length, event.stack_id, event.time_ns, 0};
  // A mapping placed over others (MAP_FIXED, mremap to a fixed address) replaces them.
  unmap_range(event.address, event.address + length, false);
  if (event.function == DPROF_FN_MREMAP) {
    // Only mappings we tracked are carried over; they keep the stack that created them, their
    // age and what the monitor saw of them.
    auto moved = remapped_by_thread_.find(event.thread_index);
    if (moved == remapped_by_thread_.end()) return;
    mapping.stack_id = moved->second.stack_id;
    mapping.alloc_time_ns = moved->second.alloc_time_ns;
    mapping.seen = moved->second.seen;
    remapped_by_thread_.erase(moved);
  } else if ((event.prot & PROT_WRITE) == 0) {
    return;  // reservations and read-only mappings hold no data the program produced
  }
  uint64_t stack_id = mapping.stack_id;
  mappings_[event.address] = mapping;
  StackStats& stats = touch(stack_id);
  if (event.function != DPROF_FN_MREMAP) {
    ++stats.alloc_count;
    ++stats.mmap_count;
    stats.alloc_bytes += length;
    ++totals_.alloc_count;
    totals_.alloc_bytes += length;
    ++totals_.mmap_count;
    totals_.mmap_bytes += length;
  }
  add_live(stack_id, length, 1, event.time_ns);
}

std::optional<HeapModel::Mapping> HeapModel::unmap_range(uint64_t start, uint64_t end,
                                                         bool moving) {
  std::optional<Mapping> first;
  auto it = mappings_.upper_bound(start);
  if (it != mappings_.begin()) --it;
  while (it != mappings_.end() && it->first < end) {
    uint64_t map_start = it->first;
    Mapping mapping = it->second;
    if (mapping.end <= start) {
      ++it;
      continue;
    }
    it = mappings_.erase(it);
    uint64_t cut_start = map_start > start ? map_start : start;
    uint64_t cut_end = mapping.end < end ? mapping.end : end;
    end_custom_blocks(cut_start, cut_end, totals_.last_event_time_ns);
    if (!first) first = mapping;
    if (!moving) ended(cut_start, cut_end, mapping.stack_id, mapping.seen);
    bool keeps_head = map_start < cut_start;
    bool keeps_tail = cut_end < mapping.end;
    uint64_t pieces_left = (keeps_head ? 1 : 0) + (keeps_tail ? 1 : 0);
    // Counted as one live object until its last byte is unmapped.
    remove_live(mapping.stack_id, cut_end - cut_start, pieces_left == 0 ? 1 : 0);
    if (pieces_left == 2) {
      // One object became two: the count grows by one without a new allocation.
      StackStats& stats = touch(mapping.stack_id);
      ++stats.live_count;
      ++totals_.live_count;
    }
    if (keeps_head) {
      Mapping head = mapping;
      head.end = cut_start;
      mappings_[map_start] = head;
    }
    if (keeps_tail) it = std::next(mappings_.emplace(cut_end, mapping).first);
  }
  return first;
}

void HeapModel::on_custom_alloc(const Event& event) {
  auto existing = custom_blocks_.find(event.address);
  if (existing != custom_blocks_.end()) {
    ++totals_.replaced_blocks;
    end_custom_block(existing, event.time_ns);
  }
  CustomBlock block{event.address + event.size, event.stack_id, event.time_ns, false, 0, 0};
  std::optional<BlockView> container = large_block_at(event.address);
  if (container && block.end <= container->end && event.size > 0) {
    block.contained = true;
    block.container_stack = container->stack_id;
  }
  StackStats& stats = touch(event.stack_id);
  ++stats.alloc_count;
  stats.alloc_bytes += event.size;
  ++totals_.custom_count;
  totals_.custom_bytes += event.size;
  if (block.contained) {
    // The container's bytes become the block's: the heap in use does not change.
    remove_live(block.container_stack, event.size, 0);
  } else {
    ++totals_.alloc_count;
    totals_.alloc_bytes += event.size;
  }
  add_live(event.stack_id, event.size, 1, event.time_ns);
  custom_blocks_.emplace(event.address, block);
}

void HeapModel::on_custom_free(const Event& event) {
  auto found = custom_blocks_.find(event.address);
  if (found == custom_blocks_.end()) {
    ++totals_.unmatched_frees;
    return;
  }
  ++totals_.free_count;
  end_custom_block(found, event.time_ns);
}

void HeapModel::end_custom_block(std::map<uint64_t, CustomBlock>::iterator it, uint64_t time_ns) {
  uint64_t start = it->first;
  CustomBlock block = it->second;
  custom_blocks_.erase(it);
  uint64_t size = block.end - start;
  remove_live(block.stack_id, size, 1);
  if (block.contained) add_live(block.container_stack, size, 0, time_ns);
  ended(start, block.end, block.stack_id, block.seen);
}

void HeapModel::end_custom_blocks(uint64_t start, uint64_t end, uint64_t time_ns) {
  if (custom_blocks_.empty()) return;
  auto it = custom_blocks_.lower_bound(start);
  while (it != custom_blocks_.end() && it->first < end) {
    auto next = std::next(it);
    if (it->second.contained) end_custom_block(it, time_ns);
    it = next;
  }
}

void HeapModel::live_blocks(std::vector<BlockView>& out) {
  out.clear();
  out.reserve(blocks_.size() + mappings_.size());
  blocks_.for_each([&out](uint64_t start, Block& block) {
    if (block.size != 0)
      out.push_back(
          {start, start + block.size, block.stack_id, block.alloc_time_ns(), block.seen_byte()});
  });
  for (auto& [start, mapping] : mappings_)
    out.push_back({start, mapping.end, mapping.stack_id, mapping.alloc_time_ns, &mapping.seen});
  std::sort(out.begin(), out.end(),
            [](const BlockView& a, const BlockView& b) { return a.start < b.start; });
  if (custom_blocks_.empty()) return;
  // Custom blocks take their bytes out of their containers: a container is listed as the pieces
  // between them, so every byte belongs to one block.
  std::vector<BlockView> split;
  split.reserve(out.size() + custom_blocks_.size() * 2);
  auto custom = custom_blocks_.begin();
  auto emit_custom = [&](std::map<uint64_t, CustomBlock>::iterator block) {
    split.push_back({block->first, block->second.end, block->second.stack_id,
                     block->second.alloc_time_ns, &block->second.seen});
  };
  for (const BlockView& block : out) {
    // Standalone custom blocks before this one.
    while (custom != custom_blocks_.end() && custom->first < block.start) {
      if (!custom->second.contained) emit_custom(custom);
      ++custom;
    }
    uint64_t cursor = block.start;
    while (custom != custom_blocks_.end() && custom->first < block.end) {
      if (custom->second.contained) {
        if (custom->first > cursor)
          split.push_back({cursor, custom->first, block.stack_id, block.alloc_time_ns, block.seen});
        emit_custom(custom);
        cursor = std::max(cursor, custom->second.end);
      }
      ++custom;
    }
    if (cursor < block.end) {
      split.push_back({cursor, block.end, block.stack_id, block.alloc_time_ns, block.seen});
    }
  }
  for (; custom != custom_blocks_.end(); ++custom) {
    if (!custom->second.contained) emit_custom(custom);
  }
  std::stable_sort(split.begin(), split.end(),
                   [](const BlockView& a, const BlockView& b) { return a.start < b.start; });
  out.swap(split);
}

std::optional<BlockView> HeapModel::large_block_at(uint64_t address) {
  auto mapping = mappings_.upper_bound(address);
  if (mapping != mappings_.begin() && std::prev(mapping)->second.end > address) {
    auto& [start, found] = *std::prev(mapping);
    return BlockView{start, found.end, found.stack_id, found.alloc_time_ns, &found.seen};
  }
  auto large = large_blocks_.upper_bound(address);
  if (large != large_blocks_.begin() && std::prev(large)->second > address) {
    uint64_t start = std::prev(large)->first;
    if (Block* found = blocks_.find(start)) {
      return BlockView{start, start + found->size, found->stack_id, found->alloc_time_ns(),
                       found->seen_byte()};
    }
  }
  return std::nullopt;
}

std::optional<BlockView> HeapModel::block_at(uint64_t address) {
  if (std::optional<BlockView> large = large_block_at(address)) return large;
  // A smaller block starts less than a page below the address, on an 8-byte boundary (every
  // allocator aligns at least that much). Blocks do not overlap: the nearest start below the
  // address is the only block that may contain it.
  constexpr uint64_t kAlignment = 8;
  // The trace's page size bounds the scan, but a damaged one must not make it endless (a fuzzed
  // PROCESS record claimed pages of 2^62 bytes): never more than 64 KiB, 4 KiB when unknown.
  constexpr uint64_t kLongestScan = 64 * 1024;
  uint64_t span = page_size_ == 0 ? 4096 : std::min(page_size_, kLongestScan);
  uint64_t lowest = address > span ? address - span : 0;
  for (uint64_t start = address & ~(kAlignment - 1);; start -= kAlignment) {
    if (Block* found = blocks_.find(start)) {
      if (found->size == 0 || start + found->size <= address) return std::nullopt;
      return BlockView{start, start + found->size, found->stack_id, found->alloc_time_ns(),
                       found->seen_byte()};
    }
    if (start < lowest + kAlignment) return std::nullopt;
  }
}

}  // namespace dprof::analyzer
