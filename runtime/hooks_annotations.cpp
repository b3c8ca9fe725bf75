// The annotation API (include/damon_prof/annotate.h): the table the header finds with dlsym.
// Markers and phases become DPROF_REC_ANNOTATION records, stamped like events so that the
// writer's watermark covers them; custom allocator blocks become allocation events of the
// function DPROF_FN_CUSTOM, with the caller's stack.
#include <errno.h>
#include <string.h>

#include "byte_writer.h"
#include "damon_prof/annotate.h"
#include "damon_prof/trace_format.h"
#include "event_recorder.h"
#include "runtime_state.h"
#include "sys.h"
#include "thread_ring.h"
#include "thread_state.h"

namespace {

namespace recorder = dprof::recorder;

constexpr size_t kMaxNameBytes = 255;

// Only calls the program makes while recording, never the runtime's own.
bool wanted() {
  return dprof::thread_state().in_runtime == 0 && dprof::recording_active();
}

void annotate(dprof_annotation_kind kind, const char* name) {
  if (!wanted()) return;
  int saved_errno = errno;
  {
    dprof::RuntimeScope scope;
    dprof::Ring* ring = recorder::ring_for_this_thread();
    if (ring != nullptr) {
      size_t length = name == nullptr ? 0 : strnlen(name, kMaxNameBytes);
      uint8_t body[kMaxNameBytes + 48];
      uint8_t record[sizeof(body) + 16];
      // Busy before the clock is read, as for events (thread_ring.h).
      ring->begin_event();
      dprof::ByteWriter writer(body, sizeof(body));
      writer.u64(ring->stamp(recorder::now_ns()));
      writer.u64(static_cast<uint64_t>(dprof::sys::current_tid()));
      writer.u64(kind);
      writer.bytes(name, length);
      dprof::ByteWriter framed(record, sizeof(record));
      framed.u64(DPROF_REC_ANNOTATION);
      framed.bytes(body, writer.size());
      if (!writer.overflowed() && !framed.overflowed()) {
        recorder::push_raw_record(ring, record, framed.size());
      }
      ring->end_event();
    }
  }
  errno = saved_errno;
}

void marker(const char* name) {
  annotate(DPROF_ANNOTATION_MARKER, name);
}
void phase_begin(const char* name) {
  annotate(DPROF_ANNOTATION_PHASE_BEGIN, name);
}
void phase_end(const char* name) {
  annotate(DPROF_ANNOTATION_PHASE_END, name);
}

void custom_alloc(const void* address, size_t size) {
  if (!wanted() || address == nullptr) return;
  int saved_errno = errno;
  recorder::record_alloc(DPROF_FN_CUSTOM, address, size, __builtin_return_address(0));
  errno = saved_errno;
}

void custom_free(const void* address) {
  if (!wanted() || address == nullptr) return;
  int saved_errno = errno;
  {
    recorder::ReleaseEvent release(false);
    release.free_done(DPROF_FN_CUSTOM, address);
  }
  errno = saved_errno;
}

}  // namespace

extern "C" __attribute__((visibility("default")))
const damon_prof_annotation_api damon_prof_annotation_api_v1 = {
    1, marker, phase_begin, phase_end, custom_alloc, custom_free,
};
