#include "trace_writer.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <zstd.h>

#include <atomic>

#include "byte_writer.h"
#include "damon_prof/trace_format.h"
#include "event_recorder.h"
#include "internal_alloc.h"
#include "module_map.h"
#include "real_functions.h"
#include "ring_items.h"
#include "runtime_memory.h"
#include "sampled_blocks.h"
#include "sys.h"
#include "thread_ring.h"
#include "thread_stacks.h"
#include "thread_state.h"

namespace dprof {
namespace {

constexpr size_t kFrameTarget = size_t{1} << 20;  // write a frame once this much is encoded
constexpr size_t kFrameCapacity = kFrameTarget + 2 * ring_registry::kRingBytes + 4096;
constexpr size_t kEventsCapacity = 2 * ring_registry::kRingBytes + 64;

struct WriterState {
  int fd = -1;
  dev_t file_device = 0;
  ino_t file_inode = 0;
  bool file_ok = true;
  trace_writer::Settings settings{};
  ZSTD_CCtx* compressor = nullptr;
  uint8_t* frame = nullptr;
  size_t frame_size = 0;
  uint8_t* compressed = nullptr;
  size_t compressed_capacity = 0;
  uint8_t* events = nullptr;
  uint64_t last_watermark = 0;
  uint64_t last_frame_write_ns = 0;
  uint64_t last_sample_ns = 0;
  uint64_t last_liveness_check_ns = 0;
  int statm_fd = -1;
  uint64_t page_size = 4096;
  pthread_t thread{};
};

std::atomic<pid_t> g_writer_tid{0};

WriterState g_writer;
std::atomic<bool> g_running{false};
uint32_t g_wake_word = 0;  // futex: producers and requesters bump it
std::atomic<uint32_t> g_flush_requested{0};
uint32_t g_flush_done_word = 0;  // futex: the writer publishes completed requests here
std::atomic<bool> g_finish_requested{false};
std::atomic<uint32_t> g_end_how{0};
std::atomic<int64_t> g_end_code{0};

void append_record(uint32_t type, const uint8_t* body, size_t length) {
  ByteWriter writer(g_writer.frame + g_writer.frame_size, kFrameCapacity - g_writer.frame_size);
  writer.u64(type);
  writer.bytes(body, length);
  if (!writer.overflowed()) g_writer.frame_size += writer.size();
}

void append_encoded(const uint8_t* bytes, size_t length) {
  if (g_writer.frame_size + length > kFrameCapacity) return;
  memcpy(g_writer.frame + g_writer.frame_size, bytes, length);
  g_writer.frame_size += length;
}

bool file_still_ours() {
  // A program that closes descriptors it does not own may have handed ours to one of its files;
  // never write into the program's files.
  struct stat status;
  if (fstat(g_writer.fd, &status) != 0) return false;
  return status.st_dev == g_writer.file_device && status.st_ino == g_writer.file_inode;
}

void write_frame() {
  if (g_writer.frame_size == 0) return;
  if (g_writer.file_ok && file_still_ours()) {
    size_t compressed =
        ZSTD_compress2(g_writer.compressor, g_writer.compressed + sizeof(dprof_frame_header),
                       g_writer.compressed_capacity - sizeof(dprof_frame_header), g_writer.frame,
                       g_writer.frame_size);
    if (!ZSTD_isError(compressed)) {
      dprof_frame_header header;
      header.magic = DPROF_FRAME_MAGIC;
      header.compressed_size = static_cast<uint32_t>(compressed);
      header.raw_size = static_cast<uint32_t>(g_writer.frame_size);
      header.header_check =
          dprof_frame_header_check(header.magic, header.compressed_size, header.raw_size);
      memcpy(g_writer.compressed, &header, sizeof(header));
      if (!sys::write_all(g_writer.fd, g_writer.compressed, sizeof(header) + compressed)) {
        g_writer.file_ok = false;
      }
    }
  } else {
    g_writer.file_ok = false;
  }
  g_writer.frame_size = 0;
  g_writer.last_frame_write_ns = recorder::now_ns();
}

// Encodes the items of one ring between tail and head. Definitions (stacks, raw records) go to the
// frame at once; events are gathered into one DPROF_REC_EVENTS record per drain.
void drain_ring(Ring* ring, uint64_t head) {
  uint64_t tail = ring->tail.load(std::memory_order_relaxed);
  if (tail == head) return;
  ByteWriter events(g_writer.events, kEventsCapacity);
  uint64_t previous_time = 0;
  uint64_t previous_address = 0;
  bool have_base = false;
  auto begin_events = [&](uint64_t time, uint64_t address) {
    if (have_base) return;
    have_base = true;
    events.u64(ring->thread_index);
    events.u64(time);
    events.u64(address);
    previous_time = time;
    previous_address = address;
  };
  auto put_time_address = [&](uint64_t time, uint64_t address) {
    events.u64(time >= previous_time ? time - previous_time : 0);
    events.s64(static_cast<int64_t>(address - previous_address));
    if (time > previous_time) previous_time = time;
    previous_address = address;
  };
  while (tail < head) {
    const char* at = ring->data + (tail & (ring->capacity - 1));
    const auto* header = reinterpret_cast<const ItemHeader*>(at);
    uint32_t size = header->size;
    if (size < sizeof(ItemHeader) || size > ring->capacity) break;  // cannot happen; stop safely
    switch (header->type) {
      case ItemType::kAlloc: {
        const auto* item = reinterpret_cast<const AllocItem*>(at);
        begin_events(item->time_ns, item->address);
        uint8_t kind = static_cast<uint8_t>((header->function << 4) | DPROF_EV_ALLOC);
        events.raw(&kind, 1);
        put_time_address(item->time_ns, item->address);
        events.u64(item->size);
        events.u64(item->stack_id);
        break;
      }
      case ItemType::kFree: {
        const auto* item = reinterpret_cast<const FreeItem*>(at);
        begin_events(item->time_ns, item->address);
        uint8_t kind = static_cast<uint8_t>((header->function << 4) | DPROF_EV_FREE);
        events.raw(&kind, 1);
        put_time_address(item->time_ns, item->address);
        break;
      }
      case ItemType::kMmap: {
        const auto* item = reinterpret_cast<const MmapItem*>(at);
        begin_events(item->time_ns, item->address);
        uint8_t kind = static_cast<uint8_t>((header->function << 4) | DPROF_EV_MMAP);
        events.raw(&kind, 1);
        put_time_address(item->time_ns, item->address);
        events.u64(item->length);
        events.u64(item->stack_id);
        events.u64(item->prot);
        events.u64(item->flags);
        break;
      }
      case ItemType::kMunmap: {
        const auto* item = reinterpret_cast<const MunmapItem*>(at);
        begin_events(item->time_ns, item->address);
        uint8_t kind = static_cast<uint8_t>((header->function << 4) | DPROF_EV_MUNMAP);
        events.raw(&kind, 1);
        put_time_address(item->time_ns, item->address);
        events.u64(item->length);
        break;
      }
      case ItemType::kStack: {
        const auto* item = reinterpret_cast<const StackItem*>(at);
        const auto* frames = reinterpret_cast<const uint64_t*>(item + 1);
        uint8_t body[16 + 10 * 130];
        ByteWriter writer(body, sizeof(body));
        writer.u64(item->stack_id);
        writer.u64(item->frame_count);
        uint64_t previous = 0;
        for (uint64_t i = 0; i < item->frame_count; ++i) {
          if (i == 0) {
            writer.u64(frames[0]);
          } else {
            writer.s64(static_cast<int64_t>(frames[i] - previous));
          }
          previous = frames[i];
        }
        append_record(DPROF_REC_STACK, body, writer.size());
        break;
      }
      case ItemType::kRawRecord: {
        const auto* item = reinterpret_cast<const RawRecordItem*>(at);
        append_encoded(reinterpret_cast<const uint8_t*>(item + 1), item->byte_count);
        break;
      }
      case ItemType::kPad:
        break;
    }
    tail += size;
  }
  ring->tail.store(tail, std::memory_order_release);
  if (have_base) append_record(DPROF_REC_EVENTS, g_writer.events, events.size());
}

bool thread_is_gone(pid_t tid) {
  return syscall(SYS_tgkill, sys::current_pid(), tid, 0) != 0 && errno == ESRCH;
}

// Drains every ring and returns the watermark it can promise: `now`, or less when a ring was
// mid-event (see the contract in thread_ring.h).
uint64_t drain_all(bool final_pass, uint64_t now) {
  uint64_t watermark = now;
  size_t slots = ring_registry::slot_count();
  bool check_liveness = now - g_writer.last_liveness_check_ns > 1000000000ull;
  if (check_liveness) g_writer.last_liveness_check_ns = now;
  for (size_t index = 0; index < slots; ++index) {
    Ring* ring = ring_registry::slot(index);
    if (ring == nullptr) continue;
    auto state = static_cast<RingState>(ring->state.load(std::memory_order_acquire));
    if (state == RingState::kFree) continue;
    bool busy = ring->busy.load(std::memory_order_seq_cst) != 0;
    if (busy && !final_pass) {
      sched_yield();
      busy = ring->busy.load(std::memory_order_seq_cst) != 0;
    }
    if (busy) {
      uint64_t in_flight = ring->event_time.load(std::memory_order_acquire);
      if (in_flight < watermark) watermark = in_flight;
    }
    // A ring is freed only once its thread is gone (checked before the last drain, so that
    // nothing can follow it): an exiting thread records until its very end. A thread that died
    // without its key destructor (killed by a raw exit system call) is looked up now and then.
    bool gone = false;
    if (!busy && state == RingState::kExited) {
      gone = thread_is_gone(ring->tid);
    } else if (!busy && check_liveness && now - ring->last_activity_ns > 1000000000ull) {
      gone = thread_is_gone(ring->tid);
    }
    uint64_t head = ring->head.load(std::memory_order_acquire);
    if (head != ring->tail.load(std::memory_order_relaxed)) ring->last_activity_ns = now;
    drain_ring(ring, head);
    if (g_writer.frame_size >= kFrameTarget) write_frame();
    if (gone && ring->head.load(std::memory_order_acquire) == head) {
      ring_registry::release_slot(ring);
    }
  }
  return watermark;
}

uint64_t read_rss_bytes() {
  if (g_writer.statm_fd < 0) return 0;
  char buffer[128];
  ssize_t length = pread(g_writer.statm_fd, buffer, sizeof(buffer) - 1, 0);
  if (length <= 0) return 0;
  buffer[length] = '\0';
  // statm: size resident shared text lib data dt (pages)
  const char* cursor = buffer;
  while (*cursor != '\0' && *cursor != ' ') ++cursor;
  uint64_t resident = 0;
  while (*cursor == ' ') ++cursor;
  while (*cursor >= '0' && *cursor <= '9') resident = resident * 10 + (*cursor++ - '0');
  return resident * g_writer.page_size;
}

void append_memory_sample(uint64_t now) {
  uint8_t body[64];
  ByteWriter writer(body, sizeof(body));
  writer.u64(now);
  writer.u64(read_rss_bytes());
  // heap_in_use and heap_arena: not measured (0). The allocator's own view, mallinfo2, walks
  // every free chunk of every arena with the arena locked: on the fragmented heap of a
  // many-threaded program one call took 6-30 ms, stalling its allocations, and cost 5% of the
  // CPU of alloc_heavy even when paced by its own cost; no report used the values.
  writer.u64(0);
  writer.u64(0);
  writer.u64(runtime_memory::resident_bytes());
  append_record(DPROF_REC_MEMORY_SAMPLE, body, writer.size());
  g_writer.last_sample_ns = now;
}

// Exact counts of the malloc family, whatever allocation sampling left out of the events.
void append_allocation_totals(uint64_t now) {
  AllocationTotals totals = ring_registry::allocation_totals();
  uint8_t body[64];
  ByteWriter writer(body, sizeof(body));
  writer.u64(now);
  writer.u64(totals.allocations);
  writer.u64(totals.allocated_bytes);
  writer.u64(totals.releases);
  writer.u64(sampled_blocks::lost_blocks());
  append_record(DPROF_REC_ALLOCATION_TOTALS, body, writer.size());
}

void append_watermark(uint64_t time) {
  uint8_t body[16];
  ByteWriter writer(body, sizeof(body));
  writer.u64(time);
  append_record(DPROF_REC_WATERMARK, body, writer.size());
  g_writer.last_watermark = time;
}

void append_end() {
  uint8_t body[48];
  ByteWriter writer(body, sizeof(body));
  writer.u64(recorder::now_ns());
  writer.u64(g_end_how.load());
  writer.s64(g_end_code.load());
  writer.u64(ring_registry::dropped_events());
  append_record(DPROF_REC_END, body, writer.size());
}

void* writer_main(void*) {
  thread_state().in_runtime = 1;  // everything this thread allocates is the runtime's
  g_writer_tid.store(sys::current_tid(), std::memory_order_release);
  prctl(PR_SET_NAME, "damon-prof-wr", 0, 0, 0);
  g_writer.compressor = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(g_writer.compressor, ZSTD_c_compressionLevel,
                         g_writer.settings.compression_level);
  ZSTD_CCtx_setParameter(g_writer.compressor, ZSTD_c_checksumFlag, 1);
  for (;;) {
    uint32_t wake_seen = __atomic_load_n(&g_wake_word, __ATOMIC_ACQUIRE);
    bool finishing = g_finish_requested.load(std::memory_order_acquire);
    uint32_t requested = g_flush_requested.load(std::memory_order_acquire);
    bool flush_wanted = requested != __atomic_load_n(&g_flush_done_word, __ATOMIC_ACQUIRE);
    if (!finishing && !flush_wanted) {
      sys::futex_wait(&g_wake_word, wake_seen, g_writer.settings.drain_interval_ns);
      finishing = g_finish_requested.load(std::memory_order_acquire);
      requested = g_flush_requested.load(std::memory_order_acquire);
      flush_wanted = requested != __atomic_load_n(&g_flush_done_word, __ATOMIC_ACQUIRE);
    }
    if (module_map::changed_since_last_scan()) module_map::rescan(append_encoded);
    uint64_t now = recorder::now_ns();
    uint64_t watermark = drain_all(finishing, now);
    if (watermark > g_writer.last_watermark) append_watermark(watermark);
    if (now - g_writer.last_sample_ns >= g_writer.settings.sample_interval_ns || finishing) {
      append_memory_sample(now);
      append_allocation_totals(now);
    }
    if (finishing) {
      append_end();
      write_frame();
      close(g_writer.fd);
      if (g_writer.statm_fd >= 0) close(g_writer.statm_fd);
      g_running.store(false, std::memory_order_release);
      __atomic_store_n(&g_flush_done_word, requested, __ATOMIC_RELEASE);
      sys::futex_wake_all(&g_flush_done_word);
      return nullptr;
    }
    if (flush_wanted || g_writer.frame_size >= kFrameTarget ||
        now - g_writer.last_frame_write_ns >= g_writer.settings.flush_interval_ns) {
      write_frame();
    }
    if (flush_wanted) {
      __atomic_store_n(&g_flush_done_word, requested, __ATOMIC_RELEASE);
      sys::futex_wake_all(&g_flush_done_word);
    }
  }
}

// Waits until the writer has completed request `ticket` or `timeout_ns` passed.
void wait_for_flush(uint32_t ticket, uint64_t timeout_ns) {
  uint64_t deadline = sys::monotonic_ns() + timeout_ns;
  for (;;) {
    uint32_t done = __atomic_load_n(&g_flush_done_word, __ATOMIC_ACQUIRE);
    if (static_cast<int32_t>(done - ticket) >= 0) return;
    uint64_t now = sys::monotonic_ns();
    if (now >= deadline) return;
    sys::futex_wait(&g_flush_done_word, done,
                    deadline - now < 50000000 ? deadline - now : 50000000);
  }
}

}  // namespace

void wake_writer() {
  __atomic_add_fetch(&g_wake_word, 1, __ATOMIC_RELEASE);
  sys::futex_wake_all(&g_wake_word);
}

bool writer_running() {
  return g_running.load(std::memory_order_acquire);
}

namespace trace_writer {

bool start(int fd, const Settings& settings, const uint8_t* first_record, size_t length) {
  RuntimeScope scope;
  g_writer = WriterState{};
  g_writer.fd = fd;
  struct stat status;
  if (fstat(fd, &status) != 0) return false;
  g_writer.file_device = status.st_dev;
  g_writer.file_inode = status.st_ino;
  g_writer.settings = settings;
  g_writer.page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  g_writer.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  g_writer.frame = static_cast<uint8_t*>(internal_alloc::allocate(kFrameCapacity));
  g_writer.events = static_cast<uint8_t*>(internal_alloc::allocate(kEventsCapacity));
  g_writer.compressed_capacity = ZSTD_compressBound(kFrameCapacity) + sizeof(dprof_frame_header);
  g_writer.compressed =
      static_cast<uint8_t*>(internal_alloc::allocate(g_writer.compressed_capacity));
  if (g_writer.frame == nullptr || g_writer.events == nullptr || g_writer.compressed == nullptr) {
    return false;
  }
  append_encoded(first_record, length);
  module_map::rescan(append_encoded);
  // The writer must never take a signal meant for the program.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  g_running.store(true, std::memory_order_release);
  int created = thread_stacks::create_runtime_thread(&g_writer.thread, writer_main);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (created != 0) {
    g_running.store(false, std::memory_order_release);
    return false;
  }
  pthread_detach(g_writer.thread);
  return true;
}

void flush_and_wait() {
  if (!writer_running()) return;
  uint32_t ticket = g_flush_requested.fetch_add(1, std::memory_order_acq_rel) + 1;
  wake_writer();
  wait_for_flush(ticket, 5000000000ull);
}

void finish(uint32_t how, int64_t code) {
  // The writer cannot wait for itself (a fault inside the writer thread).
  if (!writer_running() || sys::current_tid() == g_writer_tid.load()) return;
  g_end_how.store(how);
  g_end_code.store(code);
  uint32_t ticket = g_flush_requested.fetch_add(1, std::memory_order_acq_rel) + 1;
  g_finish_requested.store(true, std::memory_order_release);
  wake_writer();
  wait_for_flush(ticket, 5000000000ull);
}

void forget_after_fork() {
  g_running.store(false, std::memory_order_relaxed);
  g_finish_requested.store(false, std::memory_order_relaxed);
  g_flush_requested.store(0, std::memory_order_relaxed);
  g_flush_done_word = 0;
  g_wake_word = 0;
  // The parent's descriptors and buffers, copied into this child: release them.
  RuntimeScope scope;
  if (g_writer.fd >= 0) close(g_writer.fd);
  if (g_writer.statm_fd >= 0) close(g_writer.statm_fd);
  if (g_writer.compressor != nullptr) ZSTD_freeCCtx(g_writer.compressor);
  internal_alloc::release(g_writer.frame);
  internal_alloc::release(g_writer.events);
  internal_alloc::release(g_writer.compressed);
  g_writer = WriterState{};
}

}  // namespace trace_writer
}  // namespace dprof
