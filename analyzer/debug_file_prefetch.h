// Inflates the debug files of a trace's modules (debug_file_inflater.h) on a thread of its own
// while the trace is still being decoded, so that the symbolizer, which comes after the decoding,
// finds them ready. Inflating the C library's debug file takes about 30 ms of a report's time
// however small its trace; decoding an exact trace takes far longer, and the two overlap.
// Callers prefetch the debug files found by build-id (build_id.h); the symbolizer finds any other
// as before. A copy an earlier report inflated is taken from the cache (debug_file_cache.h).
#pragma once

#include <string>

namespace dprof::analyzer::debug_file_prefetch {

// Starts inflating the debug file at `path` on the prefetching thread, unless it was started
// before. Returns at once.
void start(const std::string& path);

// The inflated copy of `path` that start() made, waiting for it while it is queued or being
// made; -1 when none was started (the caller then inflates it itself), when the file has nothing
// to inflate, or when its copy was taken before. The caller owns the descriptor.
int take(const std::string& path);

}  // namespace dprof::analyzer::debug_file_prefetch
