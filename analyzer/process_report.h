// The child processes in the reports: how many the program started and the traces they wrote
// (analysis.process_tree, when attached), for people and as JSON.
#pragma once

#include <ostream>

#include "analysis.h"
#include "report_common.h"

namespace dprof::analyzer {

class JsonWriter;

// A "processes" member of a JSON object being written.
void write_processes_json(JsonWriter& json, const Analysis& analysis);
// A CHILD PROCESSES section listing at most `max_traces` traces; nothing when the program started
// no child and none wrote a trace.
void write_processes_text(std::ostream& out, const Style& style, const Analysis& analysis,
                          size_t max_traces);

}  // namespace dprof::analyzer
