// The program's markers and phases (include/damon_prof/annotate.h) in the reports: a table of
// phases and a list of markers for people, and the same as JSON.
#pragma once

#include <ostream>

#include "analysis.h"
#include "report_common.h"

namespace dprof::analyzer {

class JsonWriter;

// "phases" and "markers" members of a JSON object being written.
void write_annotations_json(JsonWriter& json, const Analysis& analysis);
// PHASES and MARKERS sections; nothing when the program annotated nothing. Times are relative to
// `origin_ns`. At most `max_markers` markers are listed.
void write_annotations_text(std::ostream& out, const Style& style, const Analysis& analysis,
                            size_t max_markers);

}  // namespace dprof::analyzer
