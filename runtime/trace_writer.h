// The writer thread: drains every thread's ring, encodes events compactly (deltas, varints), adds
// watermarks and memory samples, and writes self-contained zstd frames to the trace file.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace dprof::trace_writer {

struct Settings {
  uint64_t drain_interval_ns;
  uint64_t flush_interval_ns;   // longest time data may sit unwritten (bounds loss on kill -9)
  uint64_t sample_interval_ns;  // RSS / heap samples
  int compression_level;
};

// Takes ownership of `fd` (the file header already written) and starts the thread. The first frame
// begins with `first_record` (the process record).
bool start(int fd, const Settings& settings, const uint8_t* first_record, size_t length);
// Asks the writer to put everything recorded so far on disk and waits (bounded) for it.
void flush_and_wait();
// Writes the end record, the last frame, closes the file and stops the thread. Safe to call from
// a signal handler: it only sets flags, wakes the writer and waits with futex/nanosleep.
void finish(uint32_t how, int64_t code);
// In a fork child: the parent's writer thread does not exist here; forget its state (the fd is
// the parent's and stays untouched).
void forget_after_fork();

}  // namespace dprof::trace_writer
