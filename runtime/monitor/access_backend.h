// What the monitor core needs from a way of observing accesses (kernel DAMON calls these
// "operations"). Each backend is driven by the monitor thread only.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "region.h"

namespace dprof::monitor {

struct BackendCapabilities {
  bool sees_reads;
  bool sees_writes;
  bool exact;         // every access to every page, rather than one sampled page per region
  bool access_sites;  // can tell which instruction made the access
};

class AccessBackend {
 public:
  virtual const char* name() const { return "none"; }
  virtual BackendCapabilities capabilities() const { return {}; }
  // The memory to watch changed (mappings came and went).
  virtual void update_targets(const AddressRange* /*ranges*/, size_t /*count*/) {}
  // Start a sampling interval: arm whatever detects the next access in each region.
  virtual void prepare_access_checks(Region* /*regions*/, size_t /*count*/) {}
  // End it: add what was seen to each region's counters (nr_accesses included).
  virtual void check_accesses(Region* /*regions*/, size_t /*count*/) {}
  // Undo every protection (monitoring stops, or the process forks).
  virtual void disarm() {}

 protected:
  ~AccessBackend() = default;  // owned and destroyed by their creators, never through this type
};

}  // namespace dprof::monitor
