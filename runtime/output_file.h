// Creating the trace file: never through a symlink, never over an existing file, mode 0600.
#pragma once

#include <stddef.h>

namespace dprof::output_file {

// Opens the trace for this process and writes the file header. The root process of a recording
// uses DAMON_PROF_OUTPUT when DAMON_PROF_OUTPUT_PID names it, and the images that replace it by
// exec use "<that path without .dprof>.exec<N>.dprof"; every other process (fork children and
// what they exec, processes started without the launcher) uses "<dir>/<program>.<pid>.dprof",
// with ".N" before ".dprof" when that name is taken. Returns the fd, or -1; `path` receives the
// name.
int create(char* path, size_t path_capacity, bool* replaced_earlier_image);

}  // namespace dprof::output_file
