#include "heap_model.h"

#include <sys/mman.h>

#include "damon_prof/trace_format.h"

namespace dprof::analyzer {

// Peak attribution without a snapshot at every new peak: each new peak starts a new epoch. A
// stack not modified since the latest peak still holds its at-peak value in live_bytes; a stack
// about to be modified first saves live_bytes as its at-peak value (touch()).
StackStats& HeapModel::touch(uint64_t stack_id) {
  StackStats& stats = stacks_[stack_id];
  if (stats.peak_epoch != peak_epoch_) {
    stats.peak_snapshot = stats.live_bytes;
    stats.peak_epoch = peak_epoch_;
  }
  return stats;
}

uint64_t HeapModel::bytes_at_peak(const StackStats& stats) const {
  return stats.peak_epoch == peak_epoch_ ? stats.peak_snapshot : stats.live_bytes;
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
      uint64_t stack = unmap_range(event.address, event.address + length);
      if (event.function == DPROF_FN_MREMAP) remapped_stack_by_thread_[event.thread_index] = stack;
      break;
    }
  }
}

void HeapModel::on_alloc(const Event& event) {
  auto existing = blocks_.find(event.address);
  if (existing != blocks_.end()) {
    // The free of the old block was never recorded (made after the trace closed, or by a path
    // that bypassed the hooks); the new block replaces it.
    ++totals_.replaced_blocks;
    remove_live(existing->second.stack_id, existing->second.size, 1);
    blocks_.erase(existing);
  }
  blocks_.emplace(event.address, Block{event.size, event.stack_id});
  StackStats& stats = touch(event.stack_id);
  ++stats.alloc_count;
  stats.alloc_bytes += event.size;
  ++totals_.alloc_count;
  totals_.alloc_bytes += event.size;
  ++totals_.malloc_count;
  totals_.malloc_bytes += event.size;
  add_live(event.stack_id, event.size, 1, event.time_ns);
  last_alloc_by_thread_[event.thread_index] = event.address;
}

void HeapModel::on_free(const Event& event) {
  auto found = blocks_.find(event.address);
  if (found == blocks_.end()) {
    ++totals_.unmatched_frees;
    return;
  }
  Block block = found->second;
  blocks_.erase(found);
  ++totals_.free_count;
  remove_live(block.stack_id, block.size, 1);
  // Temporary: freed by the thread that made it, with no allocation on that thread in between.
  // realloc's release of the old block is a move, not the end of a short life.
  auto last = last_alloc_by_thread_.find(event.thread_index);
  if (last != last_alloc_by_thread_.end() && last->second == event.address) {
    last_alloc_by_thread_.erase(last);
    if (event.function != DPROF_FN_REALLOC && event.function != DPROF_FN_REALLOCARRAY) {
      ++stacks_[block.stack_id].temporary_count;
      ++totals_.temporary_count;
    }
  }
}

void HeapModel::on_mmap(const Event& event) {
  uint64_t length = (event.size + page_size_ - 1) / page_size_ * page_size_;
  uint64_t stack_id = event.stack_id;
  // A mapping placed over others (MAP_FIXED, mremap to a fixed address) replaces them.
  unmap_range(event.address, event.address + length);
  if (event.function == DPROF_FN_MREMAP) {
    // Only mappings we tracked are carried over; they keep the stack that created them.
    auto moved = remapped_stack_by_thread_.find(event.thread_index);
    if (moved == remapped_stack_by_thread_.end() || moved->second == 0) return;
    stack_id = moved->second;
    remapped_stack_by_thread_.erase(moved);
  } else if ((event.prot & PROT_WRITE) == 0) {
    return;  // reservations and read-only mappings hold no data the program produced
  }
  mappings_[event.address] = Mapping{event.address + length, stack_id};
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

uint64_t HeapModel::unmap_range(uint64_t start, uint64_t end) {
  uint64_t first_stack = 0;
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
    if (first_stack == 0) first_stack = mapping.stack_id;
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
    if (keeps_head) mappings_[map_start] = Mapping{cut_start, mapping.stack_id};
    if (keeps_tail) it = mappings_.emplace(cut_end, Mapping{mapping.end, mapping.stack_id}).first;
    if (keeps_tail) ++it;
  }
  return first_stack;
}

}  // namespace dprof::analyzer
