// Tells the trace which binaries are mapped where (path, build-id, load bias, segments), so that
// the analyzer can symbolize return addresses offline, even after a dlclose or a crash.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace dprof::module_map {

// Receives each encoded record (a module load or unload).
using RecordSink = void (*)(const uint8_t* bytes, size_t length);

// Compares the loaded objects with those already described and writes a load record for each new
// one and an unload record for each one gone. Called at start, around dlclose, and by the writer
// whenever the dynamic linker's load/unload counters move (so dlopen needs no hook: hooking it
// would make libc see the runtime as dlopen's caller and change how the program's RUNPATH and
// $ORIGIN resolve).
void rescan(RecordSink sink);
// Cheap check for the writer: have objects been loaded or unloaded since the last rescan?
bool changed_since_last_scan();
// After fork the child's trace must describe every module again.
void reset();
void lock_for_fork();
void unlock_after_fork(bool in_child);

}  // namespace dprof::module_map
