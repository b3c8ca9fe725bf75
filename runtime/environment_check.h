// The DAMON_PROF_* environment variables and what each accepts. Shared by the runtime (which
// records every problem in the trace and uses the default instead) and the launcher (which
// refuses a bad value it would pass on, with one line naming the variable). Plain C++: no
// allocation, no exceptions, no standard library, as the runtime requires.
#pragma once

#include <stddef.h>

namespace dprof::environment_check {

enum class Verdict { kNotOurs, kValid, kUnknownName, kInvalidValue };

// Checks one "NAME=value" environment entry. For kUnknownName and kInvalidValue, writes a
// one-line explanation (without a trailing newline) into `problem`.
Verdict check_entry(const char* entry, char* problem, size_t capacity);

}  // namespace dprof::environment_check
