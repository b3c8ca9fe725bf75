#include "monitor_thread.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <atomic>
#include <new>

#include "../byte_writer.h"
#include "../event_recorder.h"
#include "../internal_alloc.h"
#include "../sampled_blocks.h"
#include "../segv_dispatch.h"
#include "../stack_table.h"
#include "../sys.h"
#include "../thread_ring.h"
#include "../thread_stacks.h"
#include "../thread_state.h"
#include "budget_tuner.h"
#include "damon_prof/trace_format.h"
#include "large_blocks.h"
#include "monitor_core.h"
#include "monitor_settings.h"
#include "mprotect_backend.h"
#include "page_guard.h"
#include "target_discovery.h"
#include "uffd_wp_backend.h"

namespace dprof::monitor {
namespace {

constexpr size_t kMaxTargets = 4096;
constexpr size_t kMaxExcluded = 1024;
constexpr size_t kMaxBlockEdges = 2 * large_blocks::kCapacity;
// The tuner's cost window is at least this long (a shorter one is mostly noise), and the settings
// go into the trace at least this often even when unchanged, with the cost measured.
constexpr uint64_t kShortestCostWindow = 40000000ull;        // 40 ms
constexpr uint64_t kSettingsRecordInterval = 1000000000ull;  // 1 s
// A cost window ends early, after one sampling interval, when its cost is already this many
// times the target: the first interval of exact write tracking is its dearest (every page the
// program writes faults), and waiting for a second one cost python's start 8 ms more (55-57 ms
// against 48-50 for `python3 -c pass`, 27 ms natively).
constexpr uint64_t kEarlyTuneOvershoot = 2;
// After the first second the window is at least this long, and ends early only past this
// overshoot: one TLB shootdown that waits for a virtual CPU the host has descheduled costs the
// monitor a millisecond or more (seen 1.1-1.5 ms, a few times in 12 s), which over a 20 ms window
// read as three to six times the budget and made the tuner see-saw.
constexpr uint64_t kSettledAfterNs = 1000000000ull;    // 1 s
constexpr uint64_t kSettledCostWindow = 250000000ull;  // 250 ms
constexpr uint64_t kSettledEarlyTuneOvershoot = 8;
// Exact write tracking starts only for targets up to this size; larger ones start sampled.
constexpr uint64_t kExactModeLargestStart = 256ull << 20;

struct MonitorState {
  MonitorSettings settings;
  const char* backend_name = "none";
  const char* reason = "";
  uint64_t sampling_ns = 0;
  uint64_t aggregation_ns = 0;
  uint32_t max_regions = 0;         // as tuned (settings.max_regions is what was asked for)
  uint64_t fault_cost_ns = 0;       // a uffd-wp write fault
  uint64_t read_fault_cost_ns = 0;  // an mprotect fault round trip
  uint32_t measured_ppm = 0;
  UffdWpBackend* uffd = nullptr;     // writes, exactly or sampled (may be absent)
  MprotectBackend* reads = nullptr;  // reads and writes, sampled (may be absent)
  MonitorCore* core = nullptr;
  AddressRange* targets = nullptr;
  AddressRange* excluded = nullptr;
  uint64_t* block_edges = nullptr;  // large_blocks::edges()
  uint32_t regions_wanted = 0;      // to give each large block a region of its own
  uint8_t* record = nullptr;        // an encoded record, header included
  size_t record_capacity = 0;
  uint8_t* body = nullptr;  // a snapshot's body, before it becomes a record
  size_t body_capacity = 0;
  pthread_t thread{};
};

MonitorState g_monitor;
std::atomic<bool> g_running{false};
uint32_t g_stop_word = 0;  // futex: set to 1 to stop the thread
std::atomic<bool> g_thread_done{false};
std::atomic<uint64_t> g_mapping_changes{0};

// brk(0) changes nothing and returns the current break.
uint64_t current_program_break() {
  return static_cast<uint64_t>(syscall(SYS_brk, 0));
}

uint64_t thread_cpu_ns() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
}

void push(uint32_t type, const uint8_t* body, size_t length) {
  Ring* ring = recorder::ring_for_this_thread();
  if (ring == nullptr) return;
  ByteWriter record(g_monitor.record, g_monitor.record_capacity);
  record.u64(type);
  record.bytes(body, length);
  if (!record.overflowed()) recorder::push_raw_record(ring, g_monitor.record, record.size());
}

void write_settings_record() {
  uint8_t body[512];
  ByteWriter writer(body, sizeof(body));
  writer.u64(recorder::now_ns());
  writer.str(g_monitor.backend_name);
  writer.str(g_monitor.reason);
  writer.u64(g_monitor.sampling_ns);
  writer.u64(g_monitor.aggregation_ns);
  writer.u64(g_monitor.settings.update_ns);
  writer.u64(g_monitor.settings.min_regions);
  writer.u64(g_monitor.max_regions);
  writer.u64(g_monitor.settings.overhead_budget_ppm);
  writer.u64(g_monitor.measured_ppm);
  if (!writer.overflowed()) push(DPROF_REC_MONITOR_SETTINGS, body, writer.size());
}

// One aggregation interval's regions, sampled every `sampling_ns` for `aggregation_ns`.
void write_snapshot(uint64_t sampling_ns, uint64_t aggregation_ns) {
  const MonitorCore& core = *g_monitor.core;
  ByteWriter writer(g_monitor.body, g_monitor.body_capacity);
  writer.u64(recorder::now_ns());
  writer.u64(sampling_ns);
  writer.u64(aggregation_ns);
  writer.u64(core.count());
  uint64_t previous_end = 0;
  for (size_t i = 0; i < core.count(); ++i) {
    const Region& region = core.regions()[i];
    writer.u64(region.start - previous_end);
    writer.u64(region.size());
    writer.u64(region.nr_accesses);
    writer.u64(region.age);
    writer.u64(region.read_samples);
    writer.u64(region.write_samples);
    writer.u64(region.written_pages);
    previous_end = region.end;
  }
  // Since 1.8, while read sampling runs: how often each region's reads were watched at all.
  if (g_monitor.reads != nullptr) {
    for (size_t i = 0; i < core.count(); ++i) writer.u64(core.regions()[i].read_probes);
  }
  if (!writer.overflowed()) push(DPROF_REC_REGION_SNAPSHOT, g_monitor.body, writer.size());
}

size_t collect_exclusions(AddressRange* out) {
  size_t count = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  internal_alloc::reserved_range(&start, &end);
  if (end > start) out[count++] = {start, end};
  stack_table::memory_range(&start, &end);
  if (end > start) out[count++] = {start, end};
  sampled_blocks::memory_range(&start, &end);
  if (end > start) out[count++] = {start, end};
  uint64_t ranges[kMaxExcluded][2];
  size_t found = ring_registry::memory_ranges(ranges, (kMaxExcluded - 3) / 2);
  for (size_t i = 0; i < found; ++i) out[count++] = {ranges[i][0], ranges[i][1]};
  found = thread_stacks::live_ranges(ranges, (kMaxExcluded - count) / 2);
  for (size_t i = 0; i < found; ++i) out[count++] = {ranges[i][0], ranges[i][1]};
  found = page_guard::memory_ranges(ranges, kMaxExcluded - count);
  for (size_t i = 0; i < found; ++i) out[count++] = {ranges[i][0], ranges[i][1]};
  return count;
}

void stop_reads(const char* reason) {
  if (g_monitor.reads == nullptr) return;
  g_monitor.reads->disarm();
  g_monitor.reads->~MprotectBackend();
  internal_alloc::release(g_monitor.reads);
  g_monitor.reads = nullptr;
  g_monitor.backend_name = g_monitor.uffd != nullptr ? "uffd-wp" : "none";
  g_monitor.reason = reason;
  write_settings_record();
}

TunerLimits tuner_limits();

void refresh_targets() {
  size_t separated = 0;
  size_t edges = large_blocks::edges(g_monitor.block_edges, kMaxBlockEdges, &separated);
  g_monitor.core->set_boundaries(g_monitor.block_edges, edges);
  // Blocks at or above the separation size, each between two other regions at worst.
  uint64_t wanted = 2 * static_cast<uint64_t>(separated) + 1;
  g_monitor.regions_wanted =
      wanted > kMaxRegionsLimit ? kMaxRegionsLimit : static_cast<uint32_t>(wanted);
  // A new large block gets its region now, whatever the tuner cut before.
  uint32_t floor = region_floor(tuner_limits());
  if (g_monitor.max_regions < floor) {
    g_monitor.max_regions = floor;
    g_monitor.core->set_region_limits(g_monitor.settings.min_regions, g_monitor.max_regions);
  }
  size_t excluded = collect_exclusions(g_monitor.excluded);
  bool async_io = false;
  size_t count =
      discover_targets(g_monitor.excluded, excluded, g_monitor.targets, kMaxTargets, &async_io,
                       g_monitor.reads != nullptr ? page_guard::sampler_may_protect : nullptr);
  g_monitor.core->set_targets(g_monitor.targets, count);
  if (g_monitor.uffd != nullptr) g_monitor.uffd->update_targets(g_monitor.targets, count);
  if (async_io && g_monitor.reads != nullptr) page_guard::disable(page_guard::kAsyncIoReason);
}

// Read sampling stops when the program made it unsafe: asynchronous I/O, or a SIGSEGV handler
// installed behind the runtime's back (every protected page is restored at once).
void check_read_sampling_still_safe() {
  if (g_monitor.reads == nullptr) return;
  if (const char* reason = page_guard::disabled_reason()) {
    stop_reads(reason);
  } else if (!segv_dispatch::still_ours()) {
    page_guard::disable(
        "read sampling stopped: the SIGSEGV handler was replaced behind the runtime's back");
    stop_reads(page_guard::disabled_reason());
  }
}

void write_access_samples() {
  size_t count = 0;
  page_guard::SampledPage* samples = g_monitor.reads->last_results(&count);
  // In the order of their faults: the reader merges each kind of record as one timed stream
  // (a few hundred at most; insertion sort, no allocation).
  for (size_t i = 1; i < count; ++i) {
    page_guard::SampledPage moved = samples[i];
    size_t j = i;
    for (; j > 0 && samples[j - 1].fault_ns > moved.fault_ns; --j) samples[j] = samples[j - 1];
    samples[j] = moved;
  }
  uint64_t now = recorder::now_ns();
  uint64_t monotonic_now = sys::monotonic_ns();
  for (size_t i = 0; i < count; ++i) {
    const page_guard::SampledPage& sample = samples[i];
    // The fault's own time: the analyzer credits the block live at that moment.
    uint64_t ago = sample.fault_ns != 0 && sample.fault_ns < monotonic_now
                       ? monotonic_now - sample.fault_ns
                       : 0;
    uint8_t body[112];
    ByteWriter writer(body, sizeof(body));
    writer.u64(now > ago ? now - ago : 0);
    writer.u64(sample.tid);
    writer.u64(sample.page);
    writer.u64(sample.pc);
    writer.u64((sample.outcome & page_guard::kOutcomeWrite) != 0 ? DPROF_ACCESS_WRITE : 0);
    writer.bytes(sample.code, sample.code_length);  // length, then the bytes
    writer.u64(sample.address);
    if (!writer.overflowed()) push(DPROF_REC_ACCESS_SAMPLE, body, writer.size());
  }
}

bool uffd_exact() {
  return g_monitor.uffd != nullptr && !g_monitor.uffd->sampled();
}

bool stop_requested() {
  return __atomic_load_n(&g_stop_word, __ATOMIC_ACQUIRE) != 0;
}

// Sleeps until `deadline` (monotonic ns) or a stop request.
void sleep_until(uint64_t deadline) {
  for (;;) {
    uint64_t now = sys::monotonic_ns();
    if (now >= deadline || stop_requested()) return;
    sys::futex_wait(&g_stop_word, 0, deadline - now);
  }
}

// How long the cost is measured over before the tuner acts: a few sampling intervals, shorter
// than a snapshot's. The first intervals are the dearest (exact write tracking faults on every
// page the program writes), and over a whole aggregation interval a short program paid five
// times the budget for half its run before the first retune.
uint64_t cost_window(bool settled) {
  uint64_t window = 4 * g_monitor.sampling_ns;
  if (settled) return window < kSettledCostWindow ? kSettledCostWindow : window;
  if (window < kShortestCostWindow) window = kShortestCostWindow;
  return window < g_monitor.aggregation_ns ? window : g_monitor.aggregation_ns;
}

// The monitor's cost over `wall_ns`, in millionths of a CPU: its thread's CPU time plus the
// faults the program took because of it.
uint32_t cost_ppm(uint64_t cpu_ns, uint64_t write_faults, uint64_t read_faults, uint64_t wall_ns) {
  if (wall_ns == 0) return 0;
  uint64_t cost_ns =
      cpu_ns + write_faults * g_monitor.fault_cost_ns + read_faults * g_monitor.read_fault_cost_ns;
  uint64_t ppm = cost_ns * 1000000ull / wall_ns;
  return ppm > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(ppm);
}

// What the tuner aims at: a little under the budget, since the cost of one window is noisy and
// the tuner only reacts after a window over its target.
uint32_t target_ppm() {
  return g_monitor.settings.overhead_budget_ppm / 10 * 8;
}

TunerLimits tuner_limits() {
  const MonitorSettings& settings = g_monitor.settings;
  return {settings.sampling_ns, settings.aggregation_ns, settings.min_regions, settings.max_regions,
          target_ppm(),         g_monitor.regions_wanted};
}

// What checking one region costs per sampling interval in sampled mode, predicted from what was
// measured at start: a page protected, its fault, and its protection again (a region touched in
// every interval; an untouched page stays armed and costs nothing), or two uffd-wp faults where
// reads cannot be sampled.
uint64_t region_cost_ns() {
  uint64_t cost = g_monitor.read_fault_cost_ns != 0 ? 2 * g_monitor.read_fault_cost_ns
                                                    : 4 * g_monitor.fault_cost_ns;
  return cost == 0 ? 1 : cost;
}

void apply(const TunedSettings& settings) {
  g_monitor.sampling_ns = settings.sampling_ns;
  g_monitor.aggregation_ns = settings.aggregation_ns;
  g_monitor.max_regions = settings.max_regions;
  g_monitor.core->set_region_limits(g_monitor.settings.min_regions, g_monitor.max_regions);
}

// Sampled mode from now on, with settings predicted to fit the budget.
void start_sampling_writes(const char* reason) {
  g_monitor.uffd->set_sampled(true);
  apply(sampled_start(tuner_limits(), region_cost_ns()));
  g_monitor.reason = reason;
}

// Keeps the monitor's cost (its CPU time plus the faults it causes) within the budget
// (budget_tuner.h decides). Returns whether anything changed.
bool tune(uint64_t cpu_ns, uint64_t write_faults, uint64_t read_faults, uint64_t wall_ns) {
  if (wall_ns == 0) return false;
  g_monitor.measured_ppm = cost_ppm(cpu_ns, write_faults, read_faults, wall_ns);
  size_t regions = g_monitor.core->count();
  CostMeasurement cost{g_monitor.measured_ppm,
                       regions > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(regions),
                       uffd_exact()};
  TunedSettings now{g_monitor.sampling_ns, g_monitor.aggregation_ns, g_monitor.max_regions};
  TunerDecision decision = decide(tuner_limits(), now, cost, region_cost_ns());
  if (!decision.changed) return false;
  if (decision.to_sampled) {
    g_monitor.uffd->set_sampled(true);
    g_monitor.reason = "sampling one page per region: exact write tracking stayed over the budget";
  }
  apply(decision.next);
  return true;
}

void* monitor_main(void*) {
  thread_state().in_runtime = 1;
  prctl(PR_SET_NAME, "damon-prof-mon", 0, 0, 0);
  if (g_monitor.uffd != nullptr) g_monitor.fault_cost_ns = g_monitor.uffd->measure_fault_cost_ns();
  if (g_monitor.reads != nullptr) {
    g_monitor.read_fault_cost_ns = g_monitor.reads->measure_fault_cost_ns();
  }
  // Read before the first refresh: a mapping the program makes while /proc/self/maps is being
  // read must still count as new, or it would wait for the periodic update (a second or more).
  uint64_t changes_seen = g_mapping_changes.load(std::memory_order_relaxed);
  uint64_t break_seen = current_program_break();
  refresh_targets();
  if (g_monitor.uffd != nullptr && g_monitor.core->total_bytes() > kExactModeLargestStart) {
    // Exact write tracking walks and re-protects all of it every sampling interval: with this
    // much memory the first intervals alone would cost far more than the budget.
    start_sampling_writes("sampling one page per region: too much memory for exact write tracking");
    write_settings_record();
  }
  uint64_t now = sys::monotonic_ns();
  const uint64_t monitor_start = now;
  uint64_t next_update = now + g_monitor.settings.update_ns;
  uint64_t aggregation_start = now;
  uint64_t cost_window_start = now;
  uint64_t last_settings_record = now;
  uint64_t cpu_at_start = thread_cpu_ns();
  uint64_t write_faults = 0;
  uint64_t read_faults = 0;
  uint64_t last_refresh = now;
  while (!stop_requested()) {
    MonitorCore& core = *g_monitor.core;
    check_read_sampling_still_safe();
    core.choose_sampling_addresses();
    // Reads first: sampled write-protection leaves out the regions read sampling watches.
    if (g_monitor.reads != nullptr) {
      g_monitor.reads->prepare_access_checks(core.regions(), core.count());
    }
    if (g_monitor.uffd != nullptr)
      g_monitor.uffd->prepare_access_checks(core.regions(), core.count());
    sleep_until(sys::monotonic_ns() + g_monitor.sampling_ns);
    if (g_monitor.uffd != nullptr) {
      g_monitor.uffd->check_accesses(core.regions(), core.count());
      write_faults += g_monitor.uffd->last_write_faults();
    }
    if (g_monitor.reads != nullptr) {
      // Always, even when stopping: the last interval's accesses are counted. (Untouched pages
      // stay armed; disarm() restores them when the monitor stops.)
      g_monitor.reads->check_accesses(core.regions(), core.count());
      read_faults += g_monitor.reads->last_faults();
      write_access_samples();
    }
    if (stop_requested()) break;
    core.count_sample_hits();
    now = sys::monotonic_ns();
    if (now - aggregation_start >= g_monitor.aggregation_ns) {
      core.merge_regions();
      write_snapshot(g_monitor.sampling_ns, g_monitor.aggregation_ns);
      core.reset_and_split();
      aggregation_start = now;
    }
    uint64_t window_elapsed = now - cost_window_start;
    bool settled = now - monitor_start >= kSettledAfterNs;
    bool window_over = window_elapsed >= cost_window(settled);
    uint64_t shortest = (settled ? 2 : 1) * g_monitor.sampling_ns;
    if (!window_over && window_elapsed >= shortest) {
      // Far over the budget already: act now rather than at the end of the window (exact write
      // tracking of a busy program costs many times the budget until the tuner reacts).
      uint64_t overshoot = settled ? kSettledEarlyTuneOvershoot : kEarlyTuneOvershoot;
      window_over = cost_ppm(thread_cpu_ns() - cpu_at_start, write_faults, read_faults,
                             window_elapsed) > overshoot * target_ppm();
    }
    if (window_over) {
      uint64_t cpu = thread_cpu_ns();
      uint64_t sampling_before = g_monitor.sampling_ns;
      bool exact_before = uffd_exact();
      bool changed = tune(cpu - cpu_at_start, write_faults, read_faults, now - cost_window_start);
      bool snapshot_ends = g_monitor.sampling_ns != sampling_before || uffd_exact() != exact_before;
      if (snapshot_ends && aggregation_start != now) {
        // A snapshot says how often its regions were sampled, and how (written pages exactly or
        // sampled): the one under way ends here, as long as it lasted, and the next one starts
        // under the new settings.
        core.merge_regions();
        write_snapshot(sampling_before, now - aggregation_start);
        core.reset_and_split();
      }
      // Every change, and once a second anyway, goes into the trace with the cost measured:
      // after the snapshot it ended, and before the next one starts (it has no sample yet), so
      // that each snapshot lies wholly under one settings record.
      if (changed || now - last_settings_record >= kSettingsRecordInterval) {
        write_settings_record();
        last_settings_record = now;
      }
      if (snapshot_ends) aggregation_start = sys::monotonic_ns();
      cpu_at_start = cpu;
      write_faults = 0;
      read_faults = 0;
      cost_window_start = now;
    }
    uint64_t changes = g_mapping_changes.load(std::memory_order_relaxed);
    // malloc grows the main heap with brk from inside the C library, where no hook sees it.
    uint64_t program_break = current_program_break();
    // New mappings are picked up at once, but at most every other sampling interval.
    bool mappings_moved = (changes != changes_seen || program_break != break_seen) &&
                          now - last_refresh >= 2 * g_monitor.sampling_ns;
    if (now >= next_update || mappings_moved) {
      changes_seen = changes;
      break_seen = program_break;
      refresh_targets();
      last_refresh = now;
      next_update = now + g_monitor.settings.update_ns;
    }
  }
  if (g_monitor.reads != nullptr) g_monitor.reads->disarm();
  if (g_monitor.uffd != nullptr) g_monitor.uffd->disarm();
  g_thread_done.store(true, std::memory_order_release);
  return nullptr;
}

}  // namespace

bool start_monitor() {
  RuntimeScope scope;
  g_monitor = MonitorState{};
  g_monitor.settings = read_monitor_settings();
  g_monitor.sampling_ns = g_monitor.settings.sampling_ns;
  g_monitor.aggregation_ns = g_monitor.settings.aggregation_ns;
  g_monitor.max_regions = g_monitor.settings.max_regions;
  // A snapshot: a few numbers, then eight varints per region (at most 3x max_regions between a
  // split and the next merge).
  g_monitor.body_capacity = 64 + 8 * 10 * 3 * kMaxRegionsLimit;
  g_monitor.record_capacity = g_monitor.body_capacity + 32;
  g_monitor.body = static_cast<uint8_t*>(internal_alloc::allocate(g_monitor.body_capacity));
  g_monitor.record = static_cast<uint8_t*>(internal_alloc::allocate(g_monitor.record_capacity));
  if (g_monitor.record == nullptr || g_monitor.body == nullptr) return false;
  // Invalid DAMON_PROF_* values are reported one by one at start-up (environment_check.h).
  if (g_monitor.settings.backend == BackendChoice::kNone) {
    g_monitor.reason = "access monitoring was not asked for (--backend none)";
    write_settings_record();
    return false;
  }
  BackendChoice choice = g_monitor.settings.backend;
  const char* uffd_problem = nullptr;
  const char* reads_problem = nullptr;
  if (choice == BackendChoice::kAuto || choice == BackendChoice::kUffdWp) {
    void* memory = internal_alloc::allocate(sizeof(UffdWpBackend));
    g_monitor.uffd = memory == nullptr ? nullptr : new (memory) UffdWpBackend();
    uffd_problem = "out of memory";
    if (g_monitor.uffd != nullptr && !g_monitor.uffd->open(&uffd_problem)) {
      g_monitor.uffd->~UffdWpBackend();
      internal_alloc::release(memory);
      g_monitor.uffd = nullptr;
    } else if (g_monitor.uffd != nullptr) {
      uffd_problem = nullptr;
    }
  }
  g_monitor.targets =
      static_cast<AddressRange*>(internal_alloc::allocate(kMaxTargets * sizeof(AddressRange)));
  g_monitor.excluded =
      static_cast<AddressRange*>(internal_alloc::allocate(kMaxExcluded * sizeof(AddressRange)));
  g_monitor.block_edges =
      static_cast<uint64_t*>(internal_alloc::allocate(kMaxBlockEdges * sizeof(uint64_t)));
  if (g_monitor.targets == nullptr || g_monitor.excluded == nullptr ||
      g_monitor.block_edges == nullptr) {
    return false;
  }
  if (choice == BackendChoice::kAuto || choice == BackendChoice::kMprotect) {
    void* memory = internal_alloc::allocate(sizeof(MprotectBackend));
    g_monitor.reads = memory == nullptr ? nullptr : new (memory) MprotectBackend();
    reads_problem = "out of memory";
    size_t runtime_ranges = collect_exclusions(g_monitor.excluded);
    if (g_monitor.reads != nullptr &&
        !g_monitor.reads->open(g_monitor.excluded, runtime_ranges, &reads_problem)) {
      g_monitor.reads->~MprotectBackend();
      internal_alloc::release(memory);
      g_monitor.reads = nullptr;
    } else if (g_monitor.reads != nullptr) {
      reads_problem = nullptr;
    }
  }
  if (g_monitor.uffd == nullptr && g_monitor.reads == nullptr) {
    g_monitor.reason = uffd_problem != nullptr ? uffd_problem : reads_problem;
    write_settings_record();
    return false;
  }
  if (g_monitor.uffd != nullptr && g_monitor.reads != nullptr) {
    g_monitor.backend_name = "uffd-wp+mprotect";
    g_monitor.reads->set_write_silence(true);
    g_monitor.reason =
        "auto: writes exactly with asynchronous userfaultfd write-protect and PAGEMAP_SCAN, "
        "reads sampled with mprotect (one page per region)";
  } else if (g_monitor.uffd != nullptr) {
    g_monitor.backend_name = "uffd-wp";
    g_monitor.reason = choice == BackendChoice::kUffdWp
                           ? "asked for with --backend uffd-wp"
                           : "auto: writes with uffd-wp; read sampling is not available";
  } else {
    g_monitor.backend_name = "mprotect";
    g_monitor.reason = choice == BackendChoice::kMprotect
                           ? "asked for with --backend mprotect"
                           : "auto: mprotect sampling only (userfaultfd write-protect is not "
                             "available here)";
  }
  CoreSettings core_settings;
  core_settings.min_nr_regions = g_monitor.settings.min_regions;
  core_settings.max_nr_regions = g_monitor.settings.max_regions;
  void* core_memory = internal_alloc::allocate(sizeof(MonitorCore));
  if (core_memory == nullptr) return false;
  g_monitor.core = new (core_memory) MonitorCore(core_settings, sys::monotonic_ns());
  // Written here, before the thread exists, so that even a process that ends at once has it.
  write_settings_record();
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  // Except SIGSEGV: the thread measures a read fault's cost by taking one, and a synchronous
  // SIGSEGV that is blocked kills the process.
  sigdelset(&all, SIGSEGV);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  __atomic_store_n(&g_stop_word, 0, __ATOMIC_RELEASE);
  g_thread_done.store(false);
  int created = thread_stacks::create_runtime_thread(&g_monitor.thread, monitor_main);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (created != 0) return false;
  g_running.store(true, std::memory_order_release);
  return true;
}

void stop_monitor(bool wait) {
  if (!g_running.exchange(false)) return;
  __atomic_store_n(&g_stop_word, 1, __ATOMIC_RELEASE);
  sys::futex_wake_all(&g_stop_word);
  if (!wait) return;
  // Bounded: the thread checks the flag at least once per sampling interval and wakes on it.
  uint64_t deadline = sys::monotonic_ns() + 2000000000ull;
  while (!g_thread_done.load(std::memory_order_acquire) && sys::monotonic_ns() < deadline) {
    sys::sleep_ns(1000000);
  }
}

void note_mappings_changed() {
  g_mapping_changes.fetch_add(1, std::memory_order_relaxed);
}

void forget_monitor_after_fork() {
  // The child has no monitor thread, and its mappings carry no userfaultfd registration (the
  // kernel drops it at fork); only the parent's descriptors need closing.
  RuntimeScope scope;
  if (g_monitor.uffd != nullptr) g_monitor.uffd->~UffdWpBackend();
  // The read backend's state is page_guard's, reset by lifecycle; its SIGSEGV handler stays.
  g_running.store(false);
  g_monitor = MonitorState{};
}

}  // namespace dprof::monitor
