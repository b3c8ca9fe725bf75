#include "event_recorder.h"

#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>

#include "byte_writer.h"
#include "damon_prof/trace_format.h"
#include "runtime_state.h"
#include "stack_capture.h"
#include "stack_table.h"
#include "sys.h"

namespace dprof::recorder {
namespace {

uint64_t g_time_origin_ns = 0;

void define_thread(Ring* ring) {
  char name[17] = {};
  prctl(PR_GET_NAME, name, 0, 0, 0);
  uint8_t buffer[128];
  uint8_t body[96];
  ByteWriter body_writer(body, sizeof(body));
  body_writer.u64(ring->thread_index);
  body_writer.u64(static_cast<uint64_t>(ring->tid));
  body_writer.u64(now_ns());
  body_writer.str(name);
  ByteWriter record(buffer, sizeof(buffer));
  record.u64(DPROF_REC_THREAD);
  record.bytes(body, body_writer.size());
  push_raw_record(ring, buffer, record.size());
}

template <typename Item>
Item* reserve_item(Ring* ring, ItemType type, uint16_t function) {
  auto* item = static_cast<Item*>(ring->reserve(sizeof(Item)));
  if (item == nullptr) {
    ring_registry::count_dropped_event();
    return nullptr;
  }
  item->header = ItemHeader{type, function, static_cast<uint32_t>(sizeof(Item))};
  return item;
}

}  // namespace

uint64_t now_ns() {
  return sys::monotonic_ns() - g_time_origin_ns;
}
void set_time_origin(uint64_t monotonic_ns) {
  g_time_origin_ns = monotonic_ns;
}

Ring* ring_for_this_thread() {
  ThreadState& state = thread_state();
  if (state.ring != nullptr) return state.ring;
  Ring* ring = ring_registry::acquire(sys::current_tid());
  if (ring == nullptr) return nullptr;
  state.ring = ring;
  // The key's destructor hands the ring back when the thread exits.
  pthread_setspecific(runtime_thread_key(), ring);
  define_thread(ring);
  return ring;
}

uint64_t capture_stack_id(Ring* ring, const void* caller) {
  void* frames[kMaxStackFrames];
  int count = capture_stack(frames, kMaxStackFrames, caller);
  stack_table::InternResult interned = stack_table::intern(frames, count);
  if (interned.is_new) {
    size_t bytes = sizeof(StackItem) + sizeof(uint64_t) * static_cast<size_t>(count);
    auto* item = static_cast<StackItem*>(ring->reserve(bytes));
    if (item != nullptr) {
      item->header = ItemHeader{ItemType::kStack, 0, static_cast<uint32_t>(bytes)};
      item->stack_id = interned.id;
      item->frame_count = static_cast<uint64_t>(count);
      memcpy(item + 1, frames, sizeof(uint64_t) * static_cast<size_t>(count));
      ring->commit(bytes);
    }
  }
  return interned.id;
}

bool push_raw_record(Ring* ring, const uint8_t* bytes, size_t length) {
  uint32_t size = item_size_rounded(sizeof(RawRecordItem) + length);
  if (size > ring->capacity / 2) return false;
  auto* item = static_cast<RawRecordItem*>(ring->reserve(size));
  if (item == nullptr) return false;
  item->header = ItemHeader{ItemType::kRawRecord, 0, size};
  item->byte_count = length;
  memcpy(item + 1, bytes, length);
  ring->commit(size);
  return true;
}

namespace {

// Acquisitions are stamped when their item is written, after the real call returned.
void put_alloc(Ring* ring, uint16_t function, const void* address, size_t size, uint64_t stack_id) {
  if (auto* item = reserve_item<AllocItem>(ring, ItemType::kAlloc, function)) {
    item->time_ns = ring->stamp(now_ns());
    item->address = reinterpret_cast<uint64_t>(address);
    item->size = size;
    item->stack_id = stack_id;
    ring->commit(sizeof(AllocItem));
  }
}

void put_mmap(Ring* ring, uint16_t function, const void* address, size_t length, int prot,
              int flags, uint64_t stack_id) {
  if (auto* item = reserve_item<MmapItem>(ring, ItemType::kMmap, function)) {
    item->time_ns = ring->stamp(now_ns());
    item->address = reinterpret_cast<uint64_t>(address);
    item->length = length;
    item->stack_id = stack_id;
    item->prot = static_cast<uint32_t>(prot);
    item->flags = static_cast<uint32_t>(flags);
    ring->commit(sizeof(MmapItem));
  }
}

// One acquisition event with the caller's stack: `put(ring, stack_id)` writes the item.
template <typename Put>
void record_acquisition(const void* caller, Put&& put) {
  RuntimeScope scope;
  Ring* ring = ring_for_this_thread();
  if (ring == nullptr) {
    ring_registry::count_dropped_event();
    return;
  }
  uint64_t stack_id = capture_stack_id(ring, caller);
  ring->begin_event();
  put(ring, stack_id);
  ring->end_event();
}

}  // namespace

void record_alloc(uint16_t function, const void* address, size_t size, const void* caller) {
  record_acquisition(caller, [&](Ring* ring, uint64_t stack_id) {
    put_alloc(ring, function, address, size, stack_id);
  });
}

void record_mmap(const void* address, size_t length, int prot, int flags, const void* caller) {
  record_acquisition(caller, [&](Ring* ring, uint64_t stack_id) {
    put_mmap(ring, DPROF_FN_MMAP, address, length, prot, flags, stack_id);
  });
}

Ring* counting_ring_slow() {
  RuntimeScope scope;
  return ring_for_this_thread();
}

ReleaseEvent::ReleaseEvent(bool capture_stack, const void* caller) {
  RuntimeScope scope;
  ring_ = ring_for_this_thread();
  if (ring_ == nullptr) {
    ring_registry::count_dropped_event();
    return;
  }
  if (capture_stack) stack_id_ = capture_stack_id(ring_, caller);
  // Busy before the clock is read: the writer's watermark depends on it (thread_ring.h).
  ring_->begin_event();
  time_ns_ = ring_->stamp(now_ns());
}

ReleaseEvent::~ReleaseEvent() {
  if (ring_ != nullptr) ring_->end_event();
}

void ReleaseEvent::free_done(uint16_t function, const void* address) {
  if (ring_ == nullptr) return;
  RuntimeScope scope;
  if (auto* item = reserve_item<FreeItem>(ring_, ItemType::kFree, function)) {
    item->time_ns = time_ns_;
    item->address = reinterpret_cast<uint64_t>(address);
    ring_->commit(sizeof(FreeItem));
  }
}

void ReleaseEvent::munmap_done(uint16_t function, const void* address, size_t length) {
  if (ring_ == nullptr) return;
  RuntimeScope scope;
  if (auto* item = reserve_item<MunmapItem>(ring_, ItemType::kMunmap, function)) {
    item->time_ns = time_ns_;
    item->address = reinterpret_cast<uint64_t>(address);
    item->length = length;
    ring_->commit(sizeof(MunmapItem));
  }
}

void ReleaseEvent::alloc_done(uint16_t function, const void* address, size_t size) {
  if (ring_ == nullptr) return;
  RuntimeScope scope;
  put_alloc(ring_, function, address, size, stack_id_);
}

void ReleaseEvent::mmap_done(uint16_t function, const void* address, size_t length, int prot,
                             int flags) {
  if (ring_ == nullptr) return;
  RuntimeScope scope;
  put_mmap(ring_, function, address, length, prot, flags, stack_id_);
}

}  // namespace dprof::recorder
