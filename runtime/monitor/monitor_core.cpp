#include "monitor_core.h"

#include <string.h>

#include "../internal_alloc.h"

namespace dprof::monitor {
namespace {

uint64_t absolute_difference(uint32_t a, uint32_t b) {
  return a > b ? a - b : b - a;
}

__extension__ typedef unsigned __int128 Wide;  // counts x sizes overflow 64 bits

uint32_t weighted(uint32_t left, uint64_t left_size, uint32_t right, uint64_t right_size) {
  return static_cast<uint32_t>(
      (static_cast<Wide>(left) * left_size + static_cast<Wide>(right) * right_size) /
      (left_size + right_size));
}

Region fresh_region(uint64_t start, uint64_t end) {
  Region region;
  memset(&region, 0, sizeof(region));
  region.start = start;
  region.end = end;
  region.sampling_address = start;
  return region;
}

}  // namespace

MonitorCore::MonitorCore(const CoreSettings& settings, uint64_t seed)
    : settings_(settings), random_(seed) {
  if (settings_.min_nr_regions < 1) settings_.min_nr_regions = 1;
  if (settings_.max_nr_regions < settings_.min_nr_regions) {
    settings_.max_nr_regions = settings_.min_nr_regions;
  }
}

MonitorCore::~MonitorCore() {
  internal_alloc::release(regions_);
  internal_alloc::release(boundaries_);
  internal_alloc::release(new_boundaries_);
}

bool MonitorCore::set_boundaries(const uint64_t* edges, size_t count) {
  if (count > boundary_capacity_) {
    auto* grown = static_cast<uint64_t*>(internal_alloc::allocate(count * sizeof(uint64_t)));
    auto* fresh = static_cast<uint64_t*>(internal_alloc::allocate(count * sizeof(uint64_t)));
    if (grown == nullptr || fresh == nullptr) {
      internal_alloc::release(grown);
      internal_alloc::release(fresh);
      return false;
    }
    for (size_t i = 0; i < boundary_count_; ++i) grown[i] = boundaries_[i];
    internal_alloc::release(boundaries_);
    internal_alloc::release(new_boundaries_);
    boundaries_ = grown;
    new_boundaries_ = fresh;
    boundary_capacity_ = count;
  }
  // Both lists are sorted: the edges not known before are those the walk does not meet.
  size_t old = 0;
  new_boundary_count_ = 0;
  for (size_t i = 0; i < count; ++i) {
    while (old < boundary_count_ && boundaries_[old] < edges[i]) ++old;
    if (old == boundary_count_ || boundaries_[old] != edges[i]) {
      new_boundaries_[new_boundary_count_++] = edges[i];
    }
  }
  for (size_t i = 0; i < count; ++i) boundaries_[i] = edges[i];
  boundary_count_ = count;
  return true;
}

size_t MonitorCore::first_boundary_from(uint64_t address) const {
  size_t low = 0;
  size_t high = boundary_count_;
  while (low < high) {
    size_t middle = (low + high) / 2;
    if (boundaries_[middle] < address) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

bool MonitorCore::is_boundary(uint64_t address) const {
  size_t index = first_boundary_from(address);
  return index < boundary_count_ && boundaries_[index] == address;
}

uint64_t MonitorCore::boundary_inside(uint64_t start, uint64_t end) const {
  uint64_t page = settings_.min_region_bytes;
  if (end - start < 2 * page) return 0;
  size_t index = first_boundary_from(start + page);
  return index < boundary_count_ && boundaries_[index] + page <= end ? boundaries_[index] : 0;
}

void MonitorCore::cut_at_new_boundaries() {
  cut_at(new_boundaries_, new_boundary_count_);
  new_boundary_count_ = 0;
}

void MonitorCore::cut_at(const uint64_t* edges, size_t edge_count) {
  uint64_t page = settings_.min_region_bytes;
  size_t region = 0;
  for (size_t b = 0; b < edge_count; ++b) {
    uint64_t edge = edges[b];
    while (region < count_ && regions_[region].end <= edge) ++region;
    if (region == count_) break;
    if (count_ >= settings_.max_nr_regions) break;
    Region& holder = regions_[region];
    if (edge < holder.start + page || edge + page > holder.end) continue;
    if (!split_at(region, edge)) break;
    ++region;  // the next edge lies at or after this one
  }
}

void MonitorCore::set_region_limits(uint32_t min_nr_regions, uint32_t max_nr_regions) {
  settings_.min_nr_regions = min_nr_regions < 1 ? 1 : min_nr_regions;
  settings_.max_nr_regions =
      max_nr_regions < settings_.min_nr_regions ? settings_.min_nr_regions : max_nr_regions;
  // A lower limit takes effect at once (the kernel waits for the next merge): the tuner lowers
  // it to cut its cost now, and measures the effect in its next window.
  if (count_ > settings_.max_nr_regions) merge_down_to_limit(max_nr_accesses() / 10);
}

bool MonitorCore::reserve(size_t capacity) {
  if (capacity <= capacity_) return true;
  auto* grown =
      static_cast<Region*>(internal_alloc::reallocate(regions_, capacity * sizeof(Region)));
  if (grown == nullptr) return false;
  regions_ = grown;
  capacity_ = capacity;
  return true;
}

uint64_t MonitorCore::total_bytes() const {
  uint64_t total = 0;
  for (size_t i = 0; i < count_; ++i) total += regions_[i].size();
  return total;
}

uint32_t MonitorCore::max_nr_accesses() const {
  uint32_t highest = 0;
  for (size_t i = 0; i < count_; ++i) {
    if (regions_[i].nr_accesses > highest) highest = regions_[i].nr_accesses;
  }
  return highest;
}

bool sample_moves(const Region& region, uint64_t page_bytes, uint64_t draw) {
  // A placeholder, or a page a split or a trimmed target left outside: a new page in any case.
  bool inside =
      region.sampling_address >= region.start && region.sampling_address + page_bytes <= region.end;
  if (!inside || region.sample_intervals == 0) return true;
  return draw % kSampleMoveOdds == 0;
}

void MonitorCore::choose_sampling_addresses() {
  uint64_t page = settings_.min_region_bytes;
  for (size_t i = 0; i < count_; ++i) {
    Region& region = regions_[i];
    if (!sample_moves(region, page, random_.next())) {
      ++region.sample_intervals;
      continue;
    }
    uint64_t pages = region.size() / page;
    region.sampling_address = region.start + random_.between(0, pages == 0 ? 1 : pages) * page;
    region.sample_intervals = 1;
  }
}

void MonitorCore::count_sample_hits() {
  for (size_t i = 0; i < count_; ++i) {
    Region& region = regions_[i];
    if (region.sample_hit != 0) ++region.nr_accesses;
    region.sample_hit = 0;
    region.read_sampled = 0;  // the interval is over: a backend that samples again says so
  }
}

bool MonitorCore::set_targets(const AddressRange* ranges, size_t count) {
  // Each range can add at most two pieces per old region it meets plus one of its own.
  size_t bound = count_ * 2 + count * 2 + settings_.min_nr_regions + 1;
  auto* rebuilt = static_cast<Region*>(internal_alloc::allocate(bound * sizeof(Region)));
  if (rebuilt == nullptr) return false;
  size_t built = 0;
  size_t old = 0;
  for (size_t r = 0; r < count; ++r) {
    const AddressRange& range = ranges[r];
    if (range.end <= range.start) continue;
    uint64_t cursor = range.start;
    while (old < count_ && regions_[old].end <= range.start) ++old;
    for (size_t k = old; k < count_ && regions_[k].start < range.end; ++k) {
      uint64_t overlap_start = regions_[k].start > range.start ? regions_[k].start : range.start;
      uint64_t overlap_end = regions_[k].end < range.end ? regions_[k].end : range.end;
      if (overlap_start >= overlap_end) continue;
      if (overlap_start > cursor) rebuilt[built++] = fresh_region(cursor, overlap_start);
      Region kept = regions_[k];
      kept.start = overlap_start;
      kept.end = overlap_end;
      if (kept.sampling_address < kept.start || kept.sampling_address >= kept.end) {
        kept.sampling_address = kept.start;
        kept.sample_intervals = 0;
      }
      rebuilt[built++] = kept;
      cursor = overlap_end;
    }
    if (cursor < range.end) rebuilt[built++] = fresh_region(cursor, range.end);
  }
  internal_alloc::release(regions_);
  regions_ = rebuilt;
  count_ = built;
  capacity_ = bound;
  cut_at_new_boundaries();
  split_evenly_to_minimum();
  return true;
}

void MonitorCore::split_evenly_to_minimum() {
  uint64_t page = settings_.min_region_bytes;
  while (count_ < settings_.min_nr_regions) {
    size_t largest = count_;
    for (size_t i = 0; i < count_; ++i) {
      if (largest == count_ || regions_[i].size() > regions_[largest].size()) largest = i;
    }
    if (largest == count_ || regions_[largest].size() < 2 * page) return;
    const Region& region = regions_[largest];
    if (!split_at(largest, region.start + region.size() / 2 / page * page)) return;
  }
}

bool MonitorCore::split_at(size_t index, uint64_t at) {
  if (!reserve(count_ + 1)) return false;
  memmove(&regions_[index + 2], &regions_[index + 1], (count_ - index - 1) * sizeof(Region));
  regions_[index + 1] = regions_[index];
  regions_[index].end = at;
  regions_[index + 1].start = at;
  // The part that holds the sampled page keeps it; the other gets a placeholder.
  Region& lost = regions_[index].sampling_address < at ? regions_[index + 1] : regions_[index];
  lost.sampling_address = lost.start;
  lost.sample_intervals = 0;
  ++count_;
  return true;
}

void MonitorCore::merge_pass(uint32_t threshold, uint64_t size_limit, bool respect_boundaries) {
  size_t out = 0;
  for (size_t i = 0; i < count_; ++i) {
    Region region = regions_[i];
    if (out > 0) {
      Region& previous = regions_[out - 1];
      bool held_apart = respect_boundaries && is_boundary(region.start) &&
                        (previous.age < kBoundaryMergeAge || region.age < kBoundaryMergeAge);
      if (previous.end == region.start && !held_apart &&
          absolute_difference(previous.nr_accesses, region.nr_accesses) <= threshold &&
          previous.size() + region.size() <= size_limit) {
        uint64_t left = previous.size();
        uint64_t right = region.size();
        previous.nr_accesses = weighted(previous.nr_accesses, left, region.nr_accesses, right);
        previous.last_nr_accesses =
            weighted(previous.last_nr_accesses, left, region.last_nr_accesses, right);
        previous.age = weighted(previous.age, left, region.age, right);
        previous.read_samples = weighted(previous.read_samples, left, region.read_samples, right);
        previous.read_probes = weighted(previous.read_probes, left, region.read_probes, right);
        previous.write_samples =
            weighted(previous.write_samples, left, region.write_samples, right);
        previous.written_pages += region.written_pages;
        previous.end = region.end;
        continue;
      }
    }
    regions_[out++] = region;
  }
  count_ = out;
}

void MonitorCore::merge_regions() {
  uint32_t threshold = max_nr_accesses() / 10;
  // Age once per aggregation interval (the kernel ages inside each merge pass, so a region's age
  // can jump when several passes run; once is what the definition means).
  for (size_t i = 0; i < count_; ++i) {
    Region& region = regions_[i];
    if (absolute_difference(region.nr_accesses, region.last_nr_accesses) > threshold) {
      region.age = 0;
    } else {
      ++region.age;
    }
  }
  merge_down_to_limit(threshold);
}

void MonitorCore::merge_down_to_limit(uint32_t threshold) {
  uint64_t size_limit = total_bytes() / settings_.min_nr_regions;
  if (size_limit < settings_.min_region_bytes) size_limit = settings_.min_region_bytes;
  // As the kernel: merge with a growing threshold until there are at most max_nr_regions, up to
  // the largest possible difference.
  // Edges between large blocks hold regions apart until the maximum would be exceeded.
  uint32_t ceiling = max_nr_accesses() + 1;
  for (bool respect : {true, false}) {
    uint32_t growing = threshold;
    for (;;) {
      merge_pass(growing, size_limit, respect);
      if (count_ <= settings_.max_nr_regions || growing >= ceiling) break;
      growing = growing == 0 ? 1 : growing * 2;
    }
    if (count_ <= settings_.max_nr_regions) break;
  }
}

void MonitorCore::reset_and_split() {
  for (size_t i = 0; i < count_; ++i) {
    Region& region = regions_[i];
    region.last_nr_accesses = region.nr_accesses;
    region.nr_accesses = 0;
    region.read_samples = 0;
    region.read_probes = 0;
    region.write_samples = 0;
    region.written_pages = 0;
  }
  size_t before = count_;
  if (count_ > settings_.max_nr_regions / 2) {
    // Too many regions for random splits (the kernel's rule), but a large block's edge inside
    // a region is still cut while there is room: the merge that erased it needed only that
    // both sides were alike for a while, and they may differ from now on.
    cut_at(boundaries_, boundary_count_);
    count_after_last_split_ = before;
    return;
  }
  // Three pieces when the count has not moved since last time and is still low.
  unsigned pieces = 2;
  if (before == count_after_last_split_ && before < settings_.max_nr_regions / 3) pieces = 3;
  count_after_last_split_ = before;
  size_t bound = count_ * pieces;
  auto* rebuilt = static_cast<Region*>(internal_alloc::allocate(bound * sizeof(Region)));
  if (rebuilt == nullptr) return;
  uint64_t page = settings_.min_region_bytes;
  size_t built = 0;
  for (size_t i = 0; i < count_; ++i) {
    const Region& region = regions_[i];
    // As the kernel: cut the left part at a random 10%..90% point, then cut what is left of the
    // left part again, so the cut points come out in decreasing order.
    uint64_t cuts[3];
    unsigned cut_count = 0;
    uint64_t left_size = region.size();
    // A large block's edge inside the region is the cut (unlike the kernel, which knows no
    // allocations): two buffers lumped together are told apart at the next split.
    if (uint64_t edge = boundary_inside(region.start, region.end)) {
      cuts[cut_count++] = edge;
      left_size = 0;
    }
    for (unsigned piece = 1; piece < pieces && left_size > 2 * page; ++piece) {
      uint64_t sub = random_.between(1, 10) * left_size / 10 / page * page;
      if (sub == 0 || sub >= left_size) continue;
      cuts[cut_count++] = region.start + sub;
      left_size = sub;
    }
    uint64_t start = region.start;
    // The part that holds the sampled page keeps it (and may keep it armed); the others get a
    // placeholder.
    auto add_part = [&](uint64_t part_start, uint64_t part_end) {
      Region part = region;
      part.start = part_start;
      part.end = part_end;
      if (part.sampling_address < part.start || part.sampling_address >= part.end) {
        part.sampling_address = part.start;
        part.sample_intervals = 0;
      }
      rebuilt[built++] = part;
    };
    for (unsigned c = cut_count; c > 0; --c) {
      add_part(start, cuts[c - 1]);
      start = cuts[c - 1];
    }
    add_part(start, region.end);
  }
  internal_alloc::release(regions_);
  regions_ = rebuilt;
  count_ = built;
  capacity_ = bound;
}

}  // namespace dprof::monitor
