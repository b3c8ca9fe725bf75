// The stacks of the program's threads, recorded as each thread starts (pthread_create is
// interposed to run a few instructions first). The access monitor leaves them out exactly,
// whatever guard page they have or whoever allocated them.
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

namespace dprof::thread_stacks {

// Records the calling thread's stack, and its static TLS and control block.
void record_current_thread();
// Writes the stacks (and TLS areas) of the threads still alive as (start, end) pairs; returns
// how many.
size_t live_ranges(uint64_t (*out)[2], size_t capacity);
// Starts one of the runtime's own threads (writer, monitor) on a stack that is not part of the
// program's core dumps; returns pthread_create's result.
int create_runtime_thread(pthread_t* thread, void* (*routine)(void*));
// After fork only the forking thread exists.
void reset_after_fork();

}  // namespace dprof::thread_stacks
