#include "trace_decoder.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <queue>

#include "byte_reader.h"
#include "damon_prof/trace_format.h"
#include "trace_error.h"

namespace dprof::analyzer {
namespace {

// Order: time, then releases before acquisitions at the same instant (a block freed and reused
// within one clock tick), then arrival.
struct EventOrder {
  static int rank(const Event& event) {
    return (event.kind == EventKind::kFree || event.kind == EventKind::kMunmap) ? 0 : 1;
  }
  bool operator()(const Event& a, const Event& b) const {
    if (a.time_ns != b.time_ns) return a.time_ns > b.time_ns;
    if (a.thread_index == b.thread_index) return a.sequence > b.sequence;
    if (rank(a) != rank(b)) return rank(a) > rank(b);
    return a.sequence > b.sequence;
  }
};

class Decoder {
  // One EVENTS record's events, in time order, and how many of them were delivered.
  struct Run {
    std::vector<Event> events;
    size_t next = 0;
  };

 public:
  Decoder(TraceConsumer& consumer, DecodeSummary& summary)
      : consumer_(consumer), summary_(summary) {}

  void decode_payload(const std::vector<uint8_t>& payload) {
    ByteReader frame(payload.data(), payload.size());
    while (!frame.at_end()) {
      uint64_t type = frame.u64();
      std::string_view body = frame.bytes();
      ByteReader reader(reinterpret_cast<const uint8_t*>(body.data()), body.size());
      ++summary_.records;
      ++record_order_;
      decode_record(type, reader);
    }
  }

  // Events and the timed records (memory samples, region snapshots, access samples) in one time
  // order, so that a snapshot meets the heap as it was at its time. Each EVENTS record is one
  // thread's events in time order (a run): the runs pending are merged through a small heap of
  // their next events, far cheaper than ordering every event on its own.
  void release_until(uint64_t watermark) {
    while (true) {
      bool event_ready = !run_heap_.empty() && next_event().time_ns < watermark;
      uint64_t timed = earliest_timed();
      bool timed_ready = timed < watermark;
      if (!event_ready && !timed_ready) break;
      if (timed_ready && (!event_ready || timed <= next_event().time_ns)) {
        flush_ahead();
        deliver_earliest_timed();
      } else {
        std::pop_heap(run_heap_.begin(), run_heap_.end(), RunOrder{});
        Run* run = run_heap_.back();
        // The run keeps the lead until its next event would come after another run's next
        // event, the watermark or a timed record: that stretch is delivered without touching the
        // heap (long for a thread that ran alone for a while, one event when threads ran at once).
        const Event* rival = run_heap_.size() > 1 ? &next_event() : nullptr;
        do {
          pass_on(run->events[run->next++]);
          --pending_events_;
        } while (run->next < run->events.size() && run->events[run->next].time_ns < watermark &&
                 run->events[run->next].time_ns < timed &&
                 (rival == nullptr || !EventOrder{}(run->events[run->next], *rival)));
        if (run->next < run->events.size()) {
          std::push_heap(run_heap_.begin(), run_heap_.end(), RunOrder{});
        } else {
          run_heap_.pop_back();
          recycle(run);
        }
      }
    }
    flush_ahead();
    released_until_ = std::max(released_until_, watermark);
  }

  // Events reach the consumer kPrefetchDistance events after it was told to prefetch them, so
  // the cache misses of looking up their blocks overlap the work on the events in between.
  void pass_on(const Event& event) {
    consumer_.prefetch(event);
    if (ahead_count_ < kPrefetchDistance) {
      ahead_[(ahead_head_ + ahead_count_++) % kPrefetchDistance] = event;
      return;
    }
    consumer_.on_event(ahead_[ahead_head_]);
    ahead_[ahead_head_] = event;
    ahead_head_ = (ahead_head_ + 1) % kPrefetchDistance;
  }
  void flush_ahead() {
    for (; ahead_count_ > 0; --ahead_count_) {
      consumer_.on_event(ahead_[ahead_head_]);
      ahead_head_ = (ahead_head_ + 1) % kPrefetchDistance;
    }
  }

  void release_all() { release_until(UINT64_MAX); }

  void decode_record(uint64_t type, ByteReader& reader) {
    switch (type) {
      case DPROF_REC_PROCESS: {
        ProcessInfo info;
        info.pid = reader.u64();
        info.ppid = reader.u64();
        info.start_wall_ns = reader.u64();
        info.page_size = reader.u64();
        info.flags = reader.u64();
        info.hostname = reader.str();
        info.executable = reader.str();
        info.command_line = split_nul(reader.bytes());
        info.runtime_version = reader.str();
        info.options = split_nul(reader.bytes());
        if (!reader.at_end()) info.allocation_sample_rate = reader.u64();
        consumer_.on_process(info);
        break;
      }
      case DPROF_REC_MODULE_LOAD: {
        ModuleInfo module;
        module.id = reader.u64();
        module.load_time_ns = reader.u64();
        module.load_bias = reader.u64();
        module.path = reader.str();
        module.build_id = reader.str();
        uint64_t segments = reader.u64();
        if (segments > 64) throw TraceError("module record with too many segments");
        for (uint64_t i = 0; i < segments; ++i) {
          Segment segment;
          segment.start = reader.u64();
          segment.end = reader.u64();
          segment.executable = (reader.u64() & 1) != 0;
          module.segments.push_back(segment);
        }
        module.load_order = record_order_;
        consumer_.on_module_load(module);
        break;
      }
      case DPROF_REC_MODULE_UNLOAD: {
        uint64_t id = reader.u64();
        uint64_t time = reader.u64();
        consumer_.on_module_unload(id, time);
        break;
      }
      case DPROF_REC_STACK: {
        StackInfo stack;
        stack.id = reader.u64();
        uint64_t count = reader.u64();
        if (count > 4096) throw TraceError("stack record with too many frames");
        stack.frames.reserve(count);
        uint64_t previous = 0;
        for (uint64_t i = 0; i < count; ++i) {
          previous = i == 0 ? reader.u64() : previous + static_cast<uint64_t>(reader.s64());
          stack.frames.push_back(previous);
        }
        stack.defined_order = record_order_;
        consumer_.on_stack(stack);
        break;
      }
      case DPROF_REC_THREAD: {
        ThreadInfo thread;
        thread.index = reader.u64();
        thread.tid = reader.u64();
        thread.start_time_ns = reader.u64();
        thread.name = reader.str();
        consumer_.on_thread(thread);
        break;
      }
      case DPROF_REC_EVENTS:
        decode_events(reader);
        break;
      case DPROF_REC_WATERMARK:
        release_until(reader.u64());
        break;
      case DPROF_REC_MEMORY_SAMPLE: {
        MemorySample sample;
        sample.time_ns = reader.u64();
        sample.rss_bytes = reader.u64();
        sample.heap_in_use_bytes = reader.u64();
        sample.heap_arena_bytes = reader.u64();
        if (!reader.at_end()) sample.runtime_bytes = reader.u64();
        hold(sample.time_ns, std::move(sample));
        break;
      }
      case DPROF_REC_END: {
        EndInfo end;
        end.time_ns = reader.u64();
        end.how = static_cast<uint32_t>(reader.u64());
        end.code = reader.s64();
        end.dropped_events = reader.u64();
        summary_.has_end = true;
        consumer_.on_end(end);
        break;
      }
      case DPROF_REC_DIAGNOSTIC: {
        Diagnostic diagnostic;
        diagnostic.time_ns = reader.u64();
        diagnostic.severity = reader.u64();
        diagnostic.text = reader.str();
        // An exec that failed after its end record: the trace goes on.
        summary_.has_end = false;
        consumer_.on_diagnostic(diagnostic);
        break;
      }
      case DPROF_REC_MONITOR_SETTINGS: {
        MonitorSettingsInfo settings;
        settings.time_ns = reader.u64();
        settings.backend = reader.str();
        settings.reason = reader.str();
        settings.sampling_ns = reader.u64();
        settings.aggregation_ns = reader.u64();
        settings.update_ns = reader.u64();
        settings.min_regions = reader.u64();
        settings.max_regions = reader.u64();
        settings.overhead_budget_ppm = reader.u64();
        settings.measured_overhead_ppm = reader.u64();
        consumer_.on_monitor_settings(settings);
        break;
      }
      case DPROF_REC_REGION_SNAPSHOT: {
        RegionSnapshot snapshot;
        snapshot.time_ns = reader.u64();
        snapshot.sampling_ns = reader.u64();
        snapshot.aggregation_ns = reader.u64();
        uint64_t count = reader.u64();
        if (count > reader.remaining())
          throw TraceError("snapshot claims more regions than it holds");
        snapshot.regions.reserve(count);
        uint64_t previous_end = 0;
        for (uint64_t i = 0; i < count; ++i) {
          SnapshotRegion region;
          region.start = previous_end + reader.u64();
          region.end = region.start + reader.u64();
          region.nr_accesses = reader.u64();
          region.age = reader.u64();
          region.read_samples = reader.u64();
          region.write_samples = reader.u64();
          region.written_pages = reader.u64();
          previous_end = region.end;
          snapshot.regions.push_back(region);
        }
        if (reader.remaining() > 0) {  // 1.8: each region's read probes
          for (SnapshotRegion& region : snapshot.regions) region.read_probes = reader.u64();
          snapshot.read_probes_known = true;
        }
        hold(snapshot.time_ns, std::move(snapshot));
        break;
      }
      case DPROF_REC_ACCESS_SAMPLE: {
        AccessSample sample;
        sample.time_ns = reader.u64();
        sample.thread_id = reader.u64();
        sample.page = reader.u64();
        sample.pc = reader.u64();
        sample.is_write = (reader.u64() & DPROF_ACCESS_WRITE) != 0;
        uint64_t length = reader.u64();
        if (length > 15 || length > reader.remaining())
          throw TraceError("access sample claims more instruction bytes than it holds");
        sample.code.resize(length);
        for (uint64_t i = 0; i < length; ++i) sample.code[i] = reader.byte();
        sample.address = reader.remaining() > 0 ? reader.u64() : sample.page;
        hold(sample.time_ns, std::move(sample));
        break;
      }
      case DPROF_REC_ANNOTATION: {
        Annotation annotation;
        annotation.time_ns = reader.u64();
        annotation.thread_id = reader.u64();
        uint64_t kind = reader.u64();
        annotation.name = std::string(reader.bytes());
        if (kind < DPROF_ANNOTATION_MARKER || kind > DPROF_ANNOTATION_PHASE_END) {
          ++summary_.unknown_records;  // a kind from a newer minor version
          break;
        }
        annotation.kind = static_cast<AnnotationKind>(kind);
        // Every thread writes them: unlike the other timed records, they arrive out of order.
        if (annotation.time_ns < released_until_ && annotations_.empty()) {
          consumer_.on_annotation(annotation);
        } else {
          annotations_.push(std::move(annotation));
        }
        break;
      }
      case DPROF_REC_CHILD: {
        ChildStart child;
        child.time_ns = reader.u64();
        child.pid = reader.u64();
        uint64_t how = reader.u64();
        if (how < DPROF_CHILD_FORK || how > DPROF_CHILD_SHELL) {
          ++summary_.unknown_records;  // a way from a newer minor version
          break;
        }
        child.how = static_cast<uint32_t>(how);
        consumer_.on_child_start(child);
        break;
      }
      case DPROF_REC_ALLOCATION_TOTALS: {
        AllocationTotals totals;
        totals.time_ns = reader.u64();
        totals.allocations = reader.u64();
        totals.allocated_bytes = reader.u64();
        totals.releases = reader.u64();
        totals.lost_sampled_blocks = reader.u64();
        consumer_.on_allocation_totals(totals);
        break;
      }
      default:
        ++summary_.unknown_records;  // a newer minor version's record: skip it
        break;
    }
  }

  void decode_events(ByteReader& reader) {
    uint32_t thread = static_cast<uint32_t>(reader.u64());
    uint64_t time = reader.u64();
    uint64_t address = reader.u64();
    Run* run = fresh_run();
    std::vector<Event>& events = run->events;
    // What was decoded before a corrupt event stays (salvage mode reports it).
    struct Commit {
      Decoder* decoder;
      Run* run;
      ~Commit() { decoder->add_run(run); }
    } commit{this, run};
    while (!reader.at_end()) {
      uint8_t tag = reader.byte();
      Event& event = events.emplace_back();
      event.kind = static_cast<EventKind>(tag & 0x0f);
      event.function = static_cast<uint8_t>(tag >> 4);
      event.thread_index = thread;
      time += reader.u64();
      address += static_cast<uint64_t>(reader.s64());
      event.time_ns = time;
      event.address = address;
      event.sequence = sequence_++;
      switch (event.kind) {
        case EventKind::kAlloc:
          event.size = reader.u64();
          event.stack_id = reader.u64();
          break;
        case EventKind::kFree:
          break;
        case EventKind::kMmap:
          event.size = reader.u64();
          event.stack_id = reader.u64();
          event.prot = static_cast<uint32_t>(reader.u64());
          event.flags = static_cast<uint32_t>(reader.u64());
          break;
        case EventKind::kMunmap:
          event.size = reader.u64();
          break;
        default:
          events.pop_back();
          throw TraceError("unknown event kind " + std::to_string(tag & 0x0f));
      }
    }
  }

  // A run joins the merge. Times are deltas, so a run is in time order unless a signal handler
  // allocated while the thread was inside a release (the release is stamped first, written last):
  // then it is sorted, keeping arrival order among equal times.
  void add_run(Run* run) {
    std::vector<Event>& events = run->events;
    if (events.empty()) {
      recycle(run);
      return;
    }
    bool ordered = true;
    for (size_t i = 1; i < events.size() && ordered; ++i) {
      ordered = events[i - 1].time_ns <= events[i].time_ns;
    }
    if (!ordered) {
      std::stable_sort(events.begin(), events.end(),
                       [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
    }
    summary_.events += events.size();
    pending_events_ += events.size();
    summary_.max_pending_events = std::max<uint64_t>(summary_.max_pending_events, pending_events_);
    run_heap_.push_back(run);
    std::push_heap(run_heap_.begin(), run_heap_.end(), RunOrder{});
  }

  // A timed record waits for the watermark like an event does, unless its time is already past
  // (then every event before it has been delivered). Each kind comes from one writer in time
  // order, so one queue per kind, merged on release.
  template <typename Record>
  void hold(uint64_t time_ns, Record&& record) {
    auto& queue = queue_for(record);
    if (time_ns < released_until_ && queue.empty()) {
      deliver(record);
    } else {
      queue.push_back(std::forward<Record>(record));
    }
  }
  std::deque<MemorySample>& queue_for(const MemorySample&) { return memory_samples_; }
  std::deque<RegionSnapshot>& queue_for(const RegionSnapshot&) { return snapshots_; }
  std::deque<AccessSample>& queue_for(const AccessSample&) { return access_samples_; }
  void deliver(const MemorySample& sample) { consumer_.on_memory_sample(sample); }
  void deliver(const RegionSnapshot& snapshot) { consumer_.on_region_snapshot(snapshot); }
  void deliver(const AccessSample& sample) { consumer_.on_access_sample(sample); }

  // The earliest held timed record's time (UINT64_MAX: none), and delivers it when asked.
  uint64_t earliest_timed() const {
    uint64_t earliest = UINT64_MAX;
    if (!memory_samples_.empty()) earliest = std::min(earliest, memory_samples_.front().time_ns);
    if (!snapshots_.empty()) earliest = std::min(earliest, snapshots_.front().time_ns);
    if (!access_samples_.empty()) earliest = std::min(earliest, access_samples_.front().time_ns);
    if (!annotations_.empty()) earliest = std::min(earliest, annotations_.top().time_ns);
    return earliest;
  }
  void deliver_earliest_timed() {
    uint64_t earliest = earliest_timed();
    if (!memory_samples_.empty() && memory_samples_.front().time_ns == earliest) {
      deliver(memory_samples_.front());
      memory_samples_.pop_front();
    } else if (!snapshots_.empty() && snapshots_.front().time_ns == earliest) {
      deliver(snapshots_.front());
      snapshots_.pop_front();
    } else if (!access_samples_.empty() && access_samples_.front().time_ns == earliest) {
      deliver(access_samples_.front());
      access_samples_.pop_front();
    } else if (!annotations_.empty()) {
      consumer_.on_annotation(annotations_.top());
      annotations_.pop();
    }
  }

  static std::vector<std::string> split_nul(std::string_view text) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\0', start);
      if (end == std::string_view::npos) end = text.size();
      parts.emplace_back(text.substr(start, end - start));
      start = end + 1;
    }
    return parts;
  }

  // Max-heap order for std::*_heap: the run whose next event comes later is "less".
  // How many events ahead the consumer is told to fetch what an event will need: far enough to
  // hide a cache miss behind the work of the events in between.
  static constexpr size_t kPrefetchDistance = 8;
  Event ahead_[kPrefetchDistance];
  size_t ahead_head_ = 0;
  size_t ahead_count_ = 0;
  struct RunOrder {
    bool operator()(const Run* a, const Run* b) const {
      return EventOrder{}(a->events[a->next], b->events[b->next]);
    }
  };
  const Event& next_event() const {
    const Run* run = run_heap_.front();
    return run->events[run->next];
  }
  Run* fresh_run() {
    if (spare_runs_.empty()) {
      runs_.push_back(std::make_unique<Run>());
      return runs_.back().get();
    }
    Run* run = spare_runs_.back();
    spare_runs_.pop_back();
    return run;
  }
  void recycle(Run* run) {
    run->events.clear();
    run->next = 0;
    spare_runs_.push_back(run);
  }

  TraceConsumer& consumer_;
  DecodeSummary& summary_;
  std::vector<std::unique_ptr<Run>> runs_;  // every run, in use or spare
  std::vector<Run*> run_heap_;
  std::vector<Run*> spare_runs_;
  uint64_t pending_events_ = 0;
  std::deque<MemorySample> memory_samples_;
  std::deque<RegionSnapshot> snapshots_;
  std::deque<AccessSample> access_samples_;
  struct LaterAnnotation {
    bool operator()(const Annotation& a, const Annotation& b) const {
      return a.time_ns > b.time_ns;
    }
  };
  std::priority_queue<Annotation, std::vector<Annotation>, LaterAnnotation> annotations_;
  uint64_t released_until_ = 0;
  uint64_t sequence_ = 0;
  uint64_t record_order_ = 0;
};

}  // namespace

DecodeSummary decode_trace(const std::string& path, TraceConsumer& consumer,
                           ReaderOptions options) {
  DecodeSummary summary;
  TraceReader reader(path, options);
  summary.version_major = reader.version_major();
  summary.version_minor = reader.version_minor();
  summary.file_bytes = reader.file_size();
  Decoder decoder(consumer, summary);
  std::vector<uint8_t> payload;
  try {
    while (reader.next_frame(payload)) {
      ++summary.frames;
      if (options.progress) options.progress(reader.offset(), reader.file_size());
      try {
        decoder.decode_payload(payload);
      } catch (const TraceError& error) {
        if (!options.salvage) {
          throw TraceError("frame " + std::to_string(summary.frames) + " holds a corrupt record: " +
                           error.what() + " (use --salvage to report what can still be read)");
        }
      }
    }
  } catch (...) {
    decoder.release_all();
    throw;
  }
  decoder.release_all();
  summary.truncated = reader.truncated();
  summary.corrupt_frames_skipped = reader.corrupt_frames_skipped();
  return summary;
}

namespace {

// The PROCESS record of a frame's payload (the runtime writes it first), if it holds one whole.
std::optional<ProcessInfo> process_record_in(const std::vector<uint8_t>& payload) {
  struct ProcessCapture : TraceConsumer {
    std::optional<ProcessInfo> process;
    void on_process(const ProcessInfo& info) override { process = info; }
  } capture;
  DecodeSummary summary;
  Decoder decoder(capture, summary);
  ByteReader frame(payload.data(), payload.size());
  while (!frame.at_end()) {
    uint64_t type = frame.u64();
    std::string_view body = frame.bytes();
    if (type != DPROF_REC_PROCESS) continue;
    ByteReader record(reinterpret_cast<const uint8_t*>(body.data()), body.size());
    decoder.decode_record(type, record);
    break;
  }
  return capture.process;
}

}  // namespace

std::optional<ProcessInfo> read_process_info(const std::string& path) {
  // A report reads this from every trace beside its own: only the start of the first frame is
  // decompressed (an exact trace's first frame can be megabytes), the whole frame only when the
  // record does not fit in it (a very long command line).
  constexpr size_t kFirstBytes = size_t{64} << 10;
  std::vector<uint8_t> payload;
  bool whole = false;
  {
    TraceReader reader(path, {});
    if (!reader.first_frame_start(payload, kFirstBytes, &whole)) return std::nullopt;
  }
  if (!whole) {
    try {
      if (std::optional<ProcessInfo> process = process_record_in(payload)) return process;
    } catch (const TraceError&) {
      // The record runs past the bytes decompressed.
    }
    TraceReader reader(path, {});
    if (!reader.next_frame(payload)) return std::nullopt;
  }
  return process_record_in(payload);
}

}  // namespace dprof::analyzer
