#include "attribution.h"

#include <algorithm>
#include <cmath>

namespace dprof::analyzer {

void AccessMetrics::add(const AccessMetrics& other) {
  observed_byte_seconds += other.observed_byte_seconds;
  not_sampled_byte_seconds += other.not_sampled_byte_seconds;
  hot_byte_seconds += other.hot_byte_seconds;
  hot_variance += other.hot_variance;
  access_rate_byte_seconds += other.access_rate_byte_seconds;
  idle_byte_seconds += other.idle_byte_seconds;
  idle_bytes_peak += other.idle_bytes_peak;
  never_touched_bytes += other.never_touched_bytes;
  never_touched_count += other.never_touched_count;
  observed_blocks += other.observed_blocks;
  snapshots = std::max(snapshots, other.snapshots);
  read_samples += other.read_samples;
  write_samples += other.write_samples;
}

double AccessMetrics::access_density(uint64_t page_size) const {
  if (observed_byte_seconds <= 0 || page_size == 0) return 0;
  return access_rate_byte_seconds / observed_byte_seconds / static_cast<double>(page_size);
}

double AccessMetrics::hot_byte_seconds_stderr() const {
  return std::sqrt(hot_variance);
}

double sampling_chances(const RegionSnapshot& snapshot) {
  if (snapshot.sampling_ns == 0) return 1.0;
  return std::max(1.0, static_cast<double>(snapshot.aggregation_ns) /
                           static_cast<double>(snapshot.sampling_ns));
}

double access_frequency(const RegionSnapshot& snapshot, const SnapshotRegion& region) {
  double chances = sampling_chances(snapshot);
  double frequency = std::min(1.0, static_cast<double>(region.nr_accesses) / chances);
  if (frequency == 0 && region.written_pages > 0) frequency = 1.0 / chances;
  return frequency;
}

AccessAttribution::AccessAttribution(HeapModel& heap, uint64_t idle_threshold_ns)
    : heap_(heap), idle_threshold_ns_(idle_threshold_ns) {
  heap_.set_ended_block_listener([this](const EndedBlock& block) {
    end_block(block.end - block.start, block.stack_id, block.seen);
  });
}

void AccessAttribution::end_block(uint64_t bytes, uint64_t stack_id, uint8_t seen) {
  if ((seen & kBlockObserved) == 0) return;
  AccessMetrics& metrics = stacks_[stack_id];
  ++metrics.observed_blocks;
  if ((seen & kBlockTouched) == 0) {
    metrics.never_touched_bytes += bytes;
    ++metrics.never_touched_count;
  }
}

namespace {

// Access samples that must have named a site of average access for its silence to mean "not
// accessed" (a Poisson count with this mean is zero 5% of the time: the rule of three).
constexpr double kUntouchedEvidence = 3.0;

// The quiet time of a block is kept in this many parts of the idle threshold (six bits: up to
// about twice the threshold), since snapshots differ in length (the tuner ends one early when it
// changes the intervals).
constexpr uint64_t kQuietUnitsPerThreshold = 32;

uint8_t quiet_snapshots(uint8_t seen) {
  return static_cast<uint8_t>(seen >> kQuietShift);
}
void set_quiet_snapshots(uint8_t* seen, uint8_t count) {
  *seen = static_cast<uint8_t>((*seen & ((1u << kQuietShift) - 1)) | (count << kQuietShift));
}

}  // namespace

// A region's access frequency is its sampled page's; the access samples that fell in it name
// the blocks touched. Each site's frequency is the region's scaled by how its share of those
// samples compares with its share of the region's block bytes (a site named by every sample in
// a region it half fills gets the region's whole frequency, one never named gets a small
// fraction), never more than the region's. A prior of one sample spread by bytes keeps a region
// with no samples (writes seen by uffd-wp alone) at the plain split by overlap.
void AccessAttribution::weigh_region_sites(double region_frequency, uint64_t block_bytes,
                                           uint64_t hits) {
  // A site is untouched here when no sample named it since samples enough to name it at its
  // share of bytes (kUntouchedEvidence), over this snapshot and those before: a site silent in
  // one short snapshot is not yet shown untouched.
  for (auto& [stack, site] : region_sites_) {
    if (site.overlap == 0 || block_bytes == 0) continue;
    double byte_share = static_cast<double>(site.overlap) / static_cast<double>(block_bytes);
    if (hits == 0) {
      site.frequency = region_frequency;
      continue;
    }
    double hit_share =
        (static_cast<double>(site.hits) + byte_share) / (static_cast<double>(hits) + 1);
    site.frequency = region_frequency * std::min(1.0, hit_share / byte_share);
    auto evidence = untouched_evidence_.find(stack);
    site.evidenced_untouched = site.hits == 0 && evidence != untouched_evidence_.end() &&
                               evidence->second >= kUntouchedEvidence;
  }
}

uint64_t AccessAttribution::gather_region_sites(const SnapshotRegion& region, size_t& first_block,
                                                size_t& first_hit, uint64_t& block_bytes) {
  while (first_block < live_.size() && live_[first_block].end <= region.start) ++first_block;
  while (first_hit < hits_.size() && hits_[first_hit].address < region.start) ++first_hit;
  region_sites_.clear();
  block_bytes = 0;
  for (size_t i = first_block; i < live_.size() && live_[i].start < region.end; ++i) {
    const BlockView& block = live_[i];
    uint64_t overlap = std::min(region.end, block.end) - std::max(region.start, block.start);
    region_sites_[block.stack_id].overlap += overlap;
    block_bytes += overlap;
  }
  uint64_t region_hits = 0;
  for (; first_hit < hits_.size() && hits_[first_hit].address < region.end; ++first_hit) {
    auto site = region_sites_.find(hits_[first_hit].stack_id);
    if (site == region_sites_.end()) continue;
    ++site->second.hits;
    ++region_hits;
  }
  return region_hits;
}

void AccessAttribution::accumulate_untouched_evidence(const RegionSnapshot& snapshot) {
  std::unordered_map<uint64_t, std::pair<double, uint64_t>> expected_and_hits;
  size_t first_block = 0;
  size_t first_hit = 0;
  for (const SnapshotRegion& region : snapshot.regions) {
    if (region.end <= region.start) continue;
    bool accessed = region.nr_accesses > 0 || region.written_pages > 0;
    uint64_t block_bytes = 0;
    uint64_t region_hits = gather_region_sites(region, first_block, first_hit, block_bytes);
    if (!accessed || block_bytes == 0) continue;
    for (const auto& [stack, site] : region_sites_) {
      auto& [expected, hits] = expected_and_hits[stack];
      expected += static_cast<double>(region_hits) * static_cast<double>(site.overlap) /
                  static_cast<double>(block_bytes);
      hits += site.hits;
    }
  }
  for (const auto& [stack, counts] : expected_and_hits) {
    double& evidence = untouched_evidence_[stack];
    evidence = counts.second > 0 ? 0 : evidence + counts.first;
  }
}

SnapshotTotals AccessAttribution::on_snapshot(
    const RegionSnapshot& snapshot, const std::function<void(const SnapshotShare&)>& share) {
  SnapshotTotals totals;
  totals.time_ns = snapshot.time_ns;
  double chances = sampling_chances(snapshot);
  double sampling_seconds = static_cast<double>(snapshot.sampling_ns == 0 ? snapshot.aggregation_ns
                                                                          : snapshot.sampling_ns) /
                            1e9;
  if (sampling_seconds <= 0) sampling_seconds = 1;
  std::sort(hits_.begin(), hits_.end(),
            [](const Hit& a, const Hit& b) { return a.address < b.address; });
  // Regions (the trace encodes each from the previous one's end), blocks and hits are all in
  // address order and none overlaps its own kind: one sweep.
  heap_.live_blocks(live_);
  accumulate_untouched_evidence(snapshot);
  // This snapshot's length in quiet units, to the nearest (at least one).
  uint64_t quiet_unit_ns = std::max<uint64_t>(1, idle_threshold_ns_ / kQuietUnitsPerThreshold);
  uint64_t quiet_units =
      std::max<uint64_t>(1, (snapshot.aggregation_ns + quiet_unit_ns / 2) / quiet_unit_ns);
  size_t first_block = 0;
  size_t first_hit = 0;
  std::unordered_map<uint64_t, SnapshotShare> shares;
  for (const SnapshotRegion& region : snapshot.regions) {
    if (region.end <= region.start) continue;
    uint64_t region_bytes = region.end - region.start;
    totals.monitored_bytes += region_bytes;
    bool accessed = region.nr_accesses > 0 || region.written_pages > 0;
    // Read sampling ran but could watch no page of this region (memory it may not protect), and
    // nothing was written: its reads were not seen, so neither idle nor accessed can be said.
    bool not_sampled = !accessed && snapshot.read_probes_known && region.read_probes == 0;
    double frequency = access_frequency(snapshot, region);
    uint64_t region_idle_ns = accessed ? 0 : (region.age + 1) * snapshot.aggregation_ns;
    if (accessed) totals.working_set_bytes += region_bytes;
    if (!accessed && !not_sampled && region_idle_ns >= idle_threshold_ns_) {
      totals.idle_bytes += region_bytes;
    }

    uint64_t block_bytes = 0;
    uint64_t region_hits = gather_region_sites(region, first_block, first_hit, block_bytes);
    if (accessed) weigh_region_sites(frequency, block_bytes, region_hits);

    for (size_t i = first_block; i < live_.size() && live_[i].start < region.end; ++i) {
      const BlockView& block = live_[i];
      uint64_t overlap = std::min(region.end, block.end) - std::max(region.start, block.start);
      if (overlap == 0) continue;
      const RegionSite& site = region_sites_[block.stack_id];
      double site_frequency = accessed ? site.frequency : 0;
      // A block older than read sampling lies in memory it never protects (pinned at its
      // start): its reads are never seen, and samples can never name it.
      bool unwatched = reads_watched_from_ != 0 && block.alloc_time_ns < reads_watched_from_;
      bool site_accessed = accessed && (unwatched || !site.evidenced_untouched);
      uint64_t lived_ns =
          snapshot.time_ns > block.alloc_time_ns ? snapshot.time_ns - block.alloc_time_ns : 0;
      double seconds = static_cast<double>(std::min(lived_ns, snapshot.aggregation_ns)) / 1e9;
      double byte_seconds = static_cast<double>(overlap) * seconds;
      AccessMetrics& metrics = stacks_[block.stack_id];
      if (not_sampled || (unwatched && !accessed)) {
        // Not observed: no figure moves, the block's quiet time included (it is not known).
        metrics.not_sampled_byte_seconds += byte_seconds;
        continue;
      }
      SnapshotShare& mine = shares[block.stack_id];
      mine.stack_id = block.stack_id;
      metrics.observed_byte_seconds += byte_seconds;
      metrics.hot_byte_seconds += byte_seconds * site_frequency;
      metrics.hot_variance +=
          byte_seconds * byte_seconds * site_frequency * (1 - site_frequency) / chances;
      metrics.access_rate_byte_seconds += byte_seconds * site_frequency / sampling_seconds;
      *block.seen |= kBlockObserved;
      if (site_accessed) *block.seen |= kBlockTouched;
      // Snapshots in a row without an access (a block may span regions: the count moves once
      // per snapshot, on the block's first region).
      uint8_t quiet = quiet_snapshots(*block.seen);
      if (block.start >= region.start) {
        uint64_t grown = quiet + quiet_units;
        quiet = site_accessed ? 0 : static_cast<uint8_t>(std::min<uint64_t>(grown, kQuietMax));
        set_quiet_snapshots(block.seen, quiet);
      }
      mine.bytes += overlap;
      mine.hot_bytes += static_cast<double>(overlap) * site_frequency;
      // Idle: no access in the region for the threshold, or none to the site's blocks that the
      // samples would have shown for as long; and the block itself that old (a block allocated a
      // moment ago in long-idle memory is not idle yet).
      uint64_t quiet_ns = static_cast<uint64_t>(quiet) * quiet_unit_ns;
      uint64_t not_accessed_ns = !accessed       ? std::max(region_idle_ns, quiet_ns)
                                 : site_accessed ? 0
                                                 : quiet_ns;
      if (std::min(not_accessed_ns, lived_ns) >= idle_threshold_ns_) {
        mine.idle_bytes += overlap;
        metrics.idle_byte_seconds += byte_seconds;
      }
    }
  }
  hits_.clear();
  for (const auto& [stack, mine] : shares) {
    AccessMetrics& metrics = stacks_[stack];
    ++metrics.snapshots;
    metrics.idle_bytes_peak = std::max(metrics.idle_bytes_peak, mine.idle_bytes);
    if (share) share(mine);
  }
  return totals;
}

void AccessAttribution::on_access_sample(const AccessSample& sample) {
  // The fault's address names the one block touched among those sharing the page (traces before
  // 1.7 name only the page, which then lay wholly inside one block).
  AccessSiteKey key{sample.pc, 0};
  uint64_t address = sample.address != 0 ? sample.address : sample.page;
  if (std::optional<BlockView> block = heap_.block_at(address)) {
    key.stack_id = block->stack_id;
    *block->seen |= kBlockTouched;
    AccessMetrics& metrics = stacks_[key.stack_id];
    ++(sample.is_write ? metrics.write_samples : metrics.read_samples);
    hits_.push_back({address, block->stack_id});
  }
  AccessSiteCounts& counts = access_sites_[key];
  ++(sample.is_write ? counts.writes : counts.reads);
  if (!sample.code.empty()) instruction_bytes_.try_emplace(sample.pc, sample.code);
}

void AccessAttribution::finish() {
  heap_.live_blocks(live_);
  for (const BlockView& block : live_)
    end_block(block.end - block.start, block.stack_id, *block.seen);
  live_.clear();
}

}  // namespace dprof::analyzer
