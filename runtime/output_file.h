// Creating the trace file: never through a symlink, never over an existing file, mode 0600.
#pragma once

#include <stddef.h>

namespace dprof::output_file {

// Opens the trace for this process and writes the file header. The root process of a recording
// uses DAMON_PROF_OUTPUT when DAMON_PROF_OUTPUT_PID names it; every other process (fork children,
// exec'd images, untracked starts) uses "<dir>/<program>.<pid>.dprof", with ".N" before ".dprof"
// when that name is taken. Returns the fd, or -1; `path` receives the name.
int create(char* path, size_t path_capacity, bool* replaced_earlier_image);

}  // namespace dprof::output_file
