#include "module_map.h"

#include <elf.h>
#include <link.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "byte_writer.h"
#include "damon_prof/trace_format.h"
#include "event_recorder.h"
#include "internal_alloc.h"
#include "spin_lock.h"

namespace dprof::module_map {
namespace {

constexpr size_t kMaxPath = 4096;
constexpr size_t kRecordCapacity = kMaxPath + 1024;
constexpr int kMaxSegments = 16;

struct KnownModule {
  uint64_t load_bias;
  uint64_t path_hash;
  uint64_t id;
  bool seen_in_scan;
};

SpinLock g_lock;
KnownModule* g_known = nullptr;
size_t g_known_count = 0;
size_t g_known_capacity = 0;
uint64_t g_next_module_id = 1;

uint64_t hash_text(const char* text) {
  uint64_t hash = 1469598103934665603ull;
  for (; *text != '\0'; ++text) {
    hash ^= static_cast<unsigned char>(*text);
    hash *= 1099511628211ull;
  }
  return hash;
}

// The build-id note's bytes, or 0 when the object has none.
size_t find_build_id(const dl_phdr_info* info, const uint8_t** out) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type != PT_NOTE) continue;
    const auto* cursor = reinterpret_cast<const uint8_t*>(info->dlpi_addr + header.p_vaddr);
    const uint8_t* end = cursor + header.p_memsz;
    while (cursor + sizeof(ElfW(Nhdr)) <= end) {
      const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(cursor);
      const uint8_t* name = cursor + sizeof(ElfW(Nhdr));
      const uint8_t* desc = name + ((note->n_namesz + 3) & ~3u);
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
          desc + note->n_descsz <= end) {
        *out = desc;
        return note->n_descsz;
      }
      cursor = desc + ((note->n_descsz + 3) & ~3u);
    }
  }
  return 0;
}

void emit_load(RecordSink sink, uint64_t id, const dl_phdr_info* info, const char* path,
               uint8_t* scratch) {
  uint8_t* body = scratch + kRecordCapacity;
  ByteWriter writer(body, kRecordCapacity - 16);
  writer.u64(id);
  writer.u64(recorder::now_ns());
  writer.u64(info->dlpi_addr);
  writer.str(path);
  const uint8_t* build_id = nullptr;
  size_t build_id_size = find_build_id(info, &build_id);
  writer.bytes(build_id, build_id_size);
  int loads = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) loads += info->dlpi_phdr[i].p_type == PT_LOAD;
  if (loads > kMaxSegments) loads = kMaxSegments;
  writer.u64(static_cast<uint64_t>(loads));
  int written = 0;
  for (int i = 0; i < info->dlpi_phnum && written < loads; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type != PT_LOAD) continue;
    uint64_t start = info->dlpi_addr + header.p_vaddr;
    writer.u64(start);
    writer.u64(start + header.p_memsz);
    writer.u64((header.p_flags & PF_X) != 0 ? 1 : 0);
    ++written;
  }
  if (writer.overflowed()) return;
  ByteWriter record(scratch, kRecordCapacity);
  record.u64(DPROF_REC_MODULE_LOAD);
  record.bytes(body, writer.size());
  sink(scratch, record.size());
}

void emit_unload(RecordSink sink, uint64_t id) {
  uint8_t body[32];
  ByteWriter writer(body, sizeof(body));
  writer.u64(id);
  writer.u64(recorder::now_ns());
  uint8_t buffer[48];
  ByteWriter record(buffer, sizeof(buffer));
  record.u64(DPROF_REC_MODULE_UNLOAD);
  record.bytes(body, writer.size());
  sink(buffer, record.size());
}

struct ScanContext {
  RecordSink sink;
  uint8_t* scratch;
  char* exe_path;
};

int visit(dl_phdr_info* info, size_t, void* data) {
  auto* context = static_cast<ScanContext*>(data);
  const char* path = info->dlpi_name;
  if (path == nullptr || path[0] == '\0') path = context->exe_path;  // the main program
  uint64_t path_hash = hash_text(path);
  for (size_t i = 0; i < g_known_count; ++i) {
    KnownModule& known = g_known[i];
    if (known.load_bias == info->dlpi_addr && known.path_hash == path_hash) {
      known.seen_in_scan = true;
      return 0;
    }
  }
  if (g_known_count == g_known_capacity) {
    size_t capacity = g_known_capacity == 0 ? 64 : g_known_capacity * 2;
    auto* grown = static_cast<KnownModule*>(
        internal_alloc::reallocate(g_known, capacity * sizeof(KnownModule)));
    if (grown == nullptr) return 0;
    g_known = grown;
    g_known_capacity = capacity;
  }
  uint64_t id = g_next_module_id++;
  g_known[g_known_count++] = KnownModule{info->dlpi_addr, path_hash, id, true};
  emit_load(context->sink, id, info, path, context->scratch);
  return 0;
}

unsigned long long g_seen_adds = 0;
unsigned long long g_seen_subs = 0;

int read_counters(dl_phdr_info* info, size_t size, void* data) {
  auto* counters = static_cast<unsigned long long*>(data);
  if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
    counters[0] = info->dlpi_adds;
    counters[1] = info->dlpi_subs;
  }
  return 1;  // the first object is enough: the counters are global
}

}  // namespace

bool changed_since_last_scan() {
  unsigned long long counters[2] = {0, 0};
  dl_iterate_phdr(read_counters, counters);
  return counters[0] != __atomic_load_n(&g_seen_adds, __ATOMIC_RELAXED) ||
         counters[1] != __atomic_load_n(&g_seen_subs, __ATOMIC_RELAXED);
}

void rescan(RecordSink sink) {
  RuntimeScope scope;
  auto* scratch = static_cast<uint8_t*>(internal_alloc::allocate(2 * kRecordCapacity));
  auto* exe_path = static_cast<char*>(internal_alloc::allocate(kMaxPath));
  if (scratch == nullptr || exe_path == nullptr) {
    internal_alloc::release(scratch);
    internal_alloc::release(exe_path);
    return;
  }
  ssize_t length = readlink("/proc/self/exe", exe_path, kMaxPath - 1);
  exe_path[length > 0 ? length : 0] = '\0';
  {
    SpinGuard guard(g_lock);
    unsigned long long counters[2] = {0, 0};
    dl_iterate_phdr(read_counters, counters);
    __atomic_store_n(&g_seen_adds, counters[0], __ATOMIC_RELAXED);
    __atomic_store_n(&g_seen_subs, counters[1], __ATOMIC_RELAXED);
    for (size_t i = 0; i < g_known_count; ++i) g_known[i].seen_in_scan = false;
    ScanContext context{sink, scratch, exe_path};
    dl_iterate_phdr(visit, &context);
    size_t kept = 0;
    for (size_t i = 0; i < g_known_count; ++i) {
      if (g_known[i].seen_in_scan) {
        g_known[kept++] = g_known[i];
      } else {
        emit_unload(sink, g_known[i].id);
      }
    }
    g_known_count = kept;
  }
  internal_alloc::release(scratch);
  internal_alloc::release(exe_path);
}

void reset() {
  SpinGuard guard(g_lock);
  g_known_count = 0;
  g_next_module_id = 1;
  g_seen_adds = 0;
  g_seen_subs = 0;
}

void lock_for_fork() {
  g_lock.lock();
}
void unlock_after_fork(bool in_child) {
  if (in_child) {
    g_lock.reset_after_fork();
  } else {
    g_lock.unlock();
  }
}

}  // namespace dprof::module_map
