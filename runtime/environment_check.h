// The DAMON_PROF_* environment variables and what each accepts. Shared by the runtime (which
// records every problem in the trace and uses the default instead) and the launcher (which
// refuses a bad value it would pass on, with one line naming the variable). Plain C++: no
// allocation, no exceptions, no standard library, as the runtime requires.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace dprof::environment_check {

enum class Verdict { kNotOurs, kValid, kUnknownName, kInvalidValue };

// Checks one "NAME=value" environment entry. For kUnknownName and kInvalidValue, writes a
// one-line explanation (without a trailing newline) into `problem`.
Verdict check_entry(const char* entry, char* problem, size_t capacity);

// The value of a numeric DAMON_PROF_* variable when it is set and within its range; false when it
// is unset or invalid (the caller keeps its default; check_entry explains the problem).
bool number_from_environment(const char* name, uint64_t* value);

}  // namespace dprof::environment_check
