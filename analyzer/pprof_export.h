// A trace as a pprof profile (gzipped profile.proto), for `go tool pprof`, Pyroscope, Parca and
// the rest of the pprof ecosystem: one sample per allocation site with six values,
//   alloc_objects, alloc_space   every allocation over the run (count, bytes)
//   inuse_objects, inuse_space   live at the heap's peak (count, bytes): what made the footprint
//   hot_space, idle_space        hot and idle byte-seconds over the monitored time, as average
//                                bytes (0 without access data)
// stacks leaf first from the frame that names the site, inlined frames as lines of one location,
// functions with file and line, mappings with their build ids.
#pragma once

#include <string>

#include "analysis.h"

namespace dprof::analyzer {

// The uncompressed Profile message. The analysis must be symbolized.
std::string pprof_profile_bytes(const Analysis& analysis);

// Writes the gzipped profile to `path`. Returns false with `error` set when it cannot.
bool write_pprof_file(const std::string& path, const Analysis& analysis, std::string* error);

}  // namespace dprof::analyzer
