/* damon-prof trace format — the one contract between the runtime (writer) and the analyzer
 * (reader).
 *
 * Plain C so that either side, and third-party readers, can include it. Everything is
 * little-endian.
 *
 *   file    = file_header frame*
 *   frame   = frame_header zstd_frame            (each frame decodes alone; zstd content checksum
 * on) payload = record*                            (the decompressed bytes of one frame) record  =
 * varint type, varint length, length bytes of body
 *
 * A reader skips record types it does not know, so minor versions may add types. A major version
 * bump means an older reader must refuse the file. Full description: docs/trace-format.md.
 */
#ifndef DAMON_PROF_TRACE_FORMAT_H
#define DAMON_PROF_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DPROF_FILE_MAGIC \
  "\x89"                 \
  "DPROF\r\n"
#define DPROF_FILE_MAGIC_SIZE 8
#define DPROF_VERSION_MAJOR 1
#define DPROF_VERSION_MINOR 8

/* 32 bytes at offset 0 of every trace file. */
struct dprof_file_header {
  char magic[DPROF_FILE_MAGIC_SIZE];
  uint16_t version_major;
  uint16_t version_minor;
  uint32_t header_size; /* sizeof(struct dprof_file_header) when written; readers seek past it */
  uint64_t reserved[2];
};

#define DPROF_FRAME_MAGIC 0x52465044u /* "DPFR" */

/* Precedes each zstd frame. header_check lets a reader tell a damaged header from a real one
 * before trusting the sizes in it. */
struct dprof_frame_header {
  uint32_t magic;
  uint32_t compressed_size;
  uint32_t raw_size;
  uint32_t header_check; /* dprof_frame_header_check() of the three fields above */
};

static inline uint32_t dprof_frame_header_check(uint32_t magic, uint32_t compressed_size,
                                                uint32_t raw_size) {
  /* FNV-1a over the 12 bytes: cheap, and enough to reject a header that is not one. */
  uint32_t words[3] = {magic, compressed_size, raw_size};
  uint32_t hash = 2166136261u;
  for (int w = 0; w < 3; ++w) {
    for (int b = 0; b < 4; ++b) {
      hash ^= (words[w] >> (8 * b)) & 0xffu;
      hash *= 16777619u;
    }
  }
  return hash;
}

/* Frames never exceed this many decompressed bytes; a reader rejects larger claims as corrupt. */
#define DPROF_MAX_FRAME_RAW_SIZE (64u << 20)

/* Record types. Bodies are sequences of unsigned LEB128 varints ("u"), zigzag varints ("s"),
 * and byte strings ("str" = varint length + bytes). */
enum dprof_record_type {
  /* u pid, u ppid, u start_wall_ns, u page_size, u flags (dprof_process_flags),
   * str hostname, str executable, str command line (NUL-separated), str runtime version,
   * str options ("key=value" separated by NUL), and since 1.5 u allocation_sample_rate: 0 when
   * every allocation of the malloc family is an event; else the mean distance in bytes between
   * Poisson sample points, and an allocation of size s is an event with probability
   * 1 - exp(-s / rate) (its release then is too; mappings are always events) */
  DPROF_REC_PROCESS = 1,
  /* u module_id, u time_ns, u load_bias, str path, str build_id (raw bytes),
   * u segment_count, then per segment: u start, u end (absolute addresses), u flags (PF_X=1) */
  DPROF_REC_MODULE_LOAD = 2,
  /* u module_id, u time_ns */
  DPROF_REC_MODULE_UNLOAD = 3,
  /* u stack_id, u frame_count, then frame_count return addresses, innermost first: the first
   * as u, each next as s delta from the previous */
  DPROF_REC_STACK = 4,
  /* u thread_index, u tid, u time_ns, str name */
  DPROF_REC_THREAD = 5,
  /* u thread_index, u base_time_ns, u base_address, then events until the body ends
   * (see dprof_event_kind). Times and addresses are deltas from the previous event of the
   * same record, starting at the base values. */
  DPROF_REC_EVENTS = 6,
  /* u time_ns: every event with a time below this has been written in this or an earlier frame */
  DPROF_REC_WATERMARK = 7,
  /* u time_ns, u rss_bytes, u heap_in_use_bytes and u heap_arena_bytes (the allocator's own view;
   * always 0, not measured, since 1.6), and since 1.4 u runtime_bytes (the runtime's own resident
   * memory, part of rss_bytes) */
  DPROF_REC_MEMORY_SAMPLE = 8,
  /* u time_ns, u how (dprof_end_how), s code (exit status or signal number),
   * u events_after_end: count of events made after the end was written (lost) */
  DPROF_REC_END = 9,
  /* u time_ns, u severity (0 info, 1 warning), str text */
  DPROF_REC_DIAGNOSTIC = 10,
  /* The access monitor's settings, written when monitoring starts, whenever they change and at
   * least once a second:
   * u time_ns, str backend ("uffd-wp", "none", ...), str why this backend (or why none),
   * u sampling_ns, u aggregation_ns, u update_ns, u min_regions, u max_regions,
   * u overhead_budget_ppm (share of one CPU, parts per million),
   * u measured_overhead_ppm (over the tuner's last cost window; 0 in the first record) */
  DPROF_REC_MONITOR_SETTINGS = 11,
  /* One aggregation interval of the access monitor, as the kernel DAMON's region snapshots:
   * u time_ns (end of the interval), u sampling_ns, u aggregation_ns (the interval's length; a
   * retune of the sampling interval ends a snapshot early, with its actual length), u region_count,
   * then per region: u gap (start minus the previous region's end; the first region's start is
   * absolute), u size, u nr_accesses, u age, u read_samples, u write_samples, u written_pages;
   * since 1.8, while read sampling runs, then per region u read_probes (sampling intervals in
   * which read sampling watched a page of the region) */
  DPROF_REC_REGION_SNAPSHOT = 12,
  /* Since 1.2. A sampled page the program touched (mprotect backend): u time_ns, u tid,
   * u page address, u pc, u flags (DPROF_ACCESS_*), u code length, then that many bytes of the
   * instruction at pc; since 1.7 u address (the exact address the fault touched), and time_ns
   * is the fault's (before, the end of its sampling interval). */
  DPROF_REC_ACCESS_SAMPLE = 13,
  /* Since 1.3. A marker or a phase boundary the program annotated (damon_prof/annotate.h):
   * u time_ns, u tid, u kind (dprof_annotation_kind), str name. Written by any thread: readers
   * order them by time with the events. */
  DPROF_REC_ANNOTATION = 14,
  /* Since 1.4. The process started a child: u time_ns, u pid (0 when not known, as for
   * system()), u how (dprof_child_how). The child writes its own trace, whose process record
   * names this process as its parent. Written by any thread, like annotations. */
  DPROF_REC_CHILD = 15,
  /* Since 1.5. Exact counts of the malloc family since the trace started, events or not (with
   * each memory sample and at the end; the last one holds): u time_ns, u allocations,
   * u allocated_bytes (as requested), u releases (frees of a block, realloc's release of the old
   * one), u lost_sampled_blocks (sampled blocks whose release could not be followed: the table of
   * sampled blocks was full) */
  DPROF_REC_ALLOCATION_TOTALS = 16,
};

enum dprof_child_how {
  DPROF_CHILD_FORK = 1,       /* fork() */
  DPROF_CHILD_VFORK_EXEC = 2, /* vfork() (or clone(CLONE_VFORK)) then exec */
  DPROF_CHILD_SPAWN = 3,      /* posix_spawn(), posix_spawnp() */
  DPROF_CHILD_SHELL = 4,      /* system(), popen(): a shell runs the command */
};

enum dprof_annotation_kind {
  DPROF_ANNOTATION_MARKER = 1,
  DPROF_ANNOTATION_PHASE_BEGIN = 2,
  DPROF_ANNOTATION_PHASE_END = 3,
};

enum dprof_access_flags {
  DPROF_ACCESS_WRITE = 1, /* the fault was a write (else a read) */
};

enum dprof_process_flags {
  DPROF_PROCESS_FORKED = 1, /* a fork child: allocations before time 0 were the parent's */
  DPROF_PROCESS_EXECED = 2, /* this image replaced a traced image by exec */
};

enum dprof_end_how {
  DPROF_END_EXIT = 1,           /* code = exit status */
  DPROF_END_SIGNAL = 2,         /* code = signal number */
  DPROF_END_EXEC = 3,           /* image replaced by exec; the new image writes its own trace */
  DPROF_END_UNKNOWN_STATUS = 4, /* the process ended through a path that hid its status */
};

/* Events inside a DPROF_REC_EVENTS body: one byte = (function << 4) | kind, then fields.
 *   ALLOC : u dt, s daddr, u size, u stack_id
 *   FREE  : u dt, s daddr
 *   MMAP  : u dt, s daddr, u length, u stack_id, u prot, u flags
 *   MUNMAP: u dt, s daddr, u length
 * daddr is the zigzag difference from the previous event's address in the same record. */
enum dprof_event_kind {
  DPROF_EV_ALLOC = 1,
  DPROF_EV_FREE = 2,
  DPROF_EV_MMAP = 3,
  DPROF_EV_MUNMAP = 4,
};

/* Which entry point made the event (the high nibble of the event byte). */
enum dprof_alloc_function {
  DPROF_FN_MALLOC = 0,
  DPROF_FN_CALLOC = 1,
  DPROF_FN_REALLOC = 2, /* ALLOC: the new block; FREE: the old block released by realloc */
  DPROF_FN_REALLOCARRAY = 3,
  DPROF_FN_MEMALIGN = 4,
  DPROF_FN_POSIX_MEMALIGN = 5,
  DPROF_FN_ALIGNED_ALLOC = 6,
  DPROF_FN_VALLOC = 7,
  DPROF_FN_PVALLOC = 8,
  DPROF_FN_FREE = 9,
  DPROF_FN_MMAP = 10,
  DPROF_FN_MUNMAP = 11,
  DPROF_FN_MREMAP = 12,
  /* Since 1.3: a block of a custom allocator (damon_prof/annotate.h), ALLOC and FREE. Readers
   * count it inside the tracked block or mapping that holds it, not on top of it. */
  DPROF_FN_CUSTOM = 13,
  DPROF_FN_COUNT_ = 14
};

/* Varint helpers shared by both sides. Writers must leave room for 10 bytes per varint. */
static inline size_t dprof_put_u64(uint8_t* out, uint64_t value) {
  size_t n = 0;
  while (value >= 0x80u) {
    out[n++] = (uint8_t)(value | 0x80u);
    value >>= 7;
  }
  out[n++] = (uint8_t)value;
  return n;
}

static inline uint64_t dprof_zigzag_encode(int64_t value) {
  return ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
}

static inline int64_t dprof_zigzag_decode(uint64_t value) {
  return (int64_t)(value >> 1) ^ -(int64_t)(value & 1u);
}

#ifdef __cplusplus
}
#endif

#endif /* DAMON_PROF_TRACE_FORMAT_H */
