// A trace as Chrome's Trace Event Format (JSON), which the Perfetto UI (ui.perfetto.dev) and
// chrome://tracing open: counter tracks for RSS, heap in use, working set and idle memory, and
// instant markers for the heap's peak, the program's end and its own markers; its phases as
// slices on the thread that opened them.
#pragma once

#include <ostream>

#include "analysis.h"

namespace dprof::analyzer {

void write_chrome_trace(std::ostream& out, const Analysis& analysis);

}  // namespace dprof::analyzer
