// A monitoring region: an address range whose pages are assumed to be accessed alike, as in the
// kernel's DAMON. The core splits and merges regions so that they follow the access pattern.
#pragma once

#include <stdint.h>

namespace dprof::monitor {

struct AddressRange {
  uint64_t start;
  uint64_t end;  // exclusive
};

struct Region {
  uint64_t start;
  uint64_t end;
  // The page a sampling backend watches during the current sampling interval.
  uint64_t sampling_address;
  // For how many sampling intervals (this one included) sampling_address has been the region's;
  // 0 while it is only a placeholder (a new region, or the part of a split that lost it).
  uint32_t sample_intervals;
  // Sampling intervals of the current aggregation interval in which an access was seen.
  uint32_t nr_accesses;
  uint32_t last_nr_accesses;
  // Aggregation intervals for which nr_accesses stayed about the same.
  uint32_t age;
  // What each backend saw during the current aggregation interval.
  uint32_t read_samples;  // mprotect: sampled page touched by a read
  // mprotect: sampling intervals in which a page of the region was watched for reads at all
  // (a region of memory read sampling may not protect has none: its reads are not seen).
  uint32_t read_probes;
  uint32_t write_samples;  // mprotect: sampled page touched by a write
  uint64_t written_pages;  // uffd-wp: pages written, summed over the sampling intervals
  // Set by any backend that saw the sampled page accessed in the current sampling interval; the
  // core turns it into one nr_accesses, however many backends saw it.
  uint32_t sample_hit;
  // uffd-wp saw a write in the region in the last sampling interval: it is hot by definition, and
  // the mprotect backend leaves it alone (write-silence: fewer faults, no lock words).
  uint32_t written_recently;
  // The mprotect backend watches this region's sampled page in the current sampling interval:
  // it sees writes there too, so sampled write-protection leaves the region alone.
  uint32_t read_sampled;

  uint64_t size() const { return end - start; }
  // The sampled page is the one of the interval before: a backend may leave it armed (an
  // untouched page stays protected; only a touched one is protected again).
  bool sample_kept() const { return sample_intervals > 1; }
};

}  // namespace dprof::monitor
