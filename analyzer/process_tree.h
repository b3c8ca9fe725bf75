// The traces of the processes a traced program started. Each child (fork, vfork, posix_spawn,
// system) writes its own trace beside its parent's; its process record names its parent's pid, and
// the parent's trace notes each child it started. This finds them for `report`, children and
// their children in turn.
#pragma once

#include "analysis.h"

namespace dprof::analyzer {

// Looks at the *.dprof files in the directory of `parent.path`.
ProcessTree find_child_traces(const Analysis& parent);
// Fills `analysis.process_tree`.
void attach_child_traces(Analysis& analysis);

// "fork", "vfork+exec", "posix_spawn", "shell" (system/popen), or "" when not known.
const char* child_how_name(uint32_t how);

}  // namespace dprof::analyzer
