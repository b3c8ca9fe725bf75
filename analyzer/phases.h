// Markers and named phases the program annotated (include/damon_prof/annotate.h), and what the
// heap did during each phase: its peak, the largest RSS sample, the allocations made. A phase is
// open from its first begin to the matching end (begins and ends of one name nest and may come
// from different threads); each opening is one span. Memory is bounded: at most kMaxMarkers
// markers and kMaxSpans spans are kept (counts go on).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "trace_records.h"

namespace dprof::analyzer {

struct Marker {
  uint64_t time_ns = 0;
  uint64_t thread_id = 0;
  std::string name;
};

struct PhaseSpan {
  size_t phase = 0;  // index into the phases
  uint64_t begin_ns = 0;
  uint64_t end_ns = 0;
  uint64_t thread_id = 0;  // the thread that opened it
};

struct PhaseStats {
  std::string name;
  uint64_t spans = 0;
  uint64_t total_ns = 0;
  uint64_t first_begin_ns = 0;
  uint64_t peak_heap_bytes = 0;  // heap in use at its highest while the phase was open
  uint64_t peak_heap_time_ns = 0;
  uint64_t peak_rss_bytes = 0;  // the largest RSS sample taken while it was open
  uint64_t rss_samples = 0;
  uint64_t alloc_count = 0;  // allocations made while it was open
  uint64_t alloc_bytes = 0;
  bool left_open = false;  // still open when the trace ended
  std::unordered_map<uint64_t, uint64_t> alloc_bytes_by_stack;
};

class PhaseTracker {
 public:
  static constexpr size_t kMaxMarkers = 10000;
  static constexpr size_t kMaxSpans = 10000;

  // `heap_live_bytes`: the heap in use at the annotation's time.
  void on_annotation(const Annotation& annotation, uint64_t heap_live_bytes);
  // After the heap model applied the event.
  void on_event(const Event& event, uint64_t heap_live_bytes);
  void on_rss_sample(uint64_t time_ns, uint64_t rss_bytes);
  // Closes the phases still open at `end_ns`.
  void finish(uint64_t end_ns);

  std::vector<Marker>& markers() { return markers_; }
  uint64_t marker_count() const { return marker_count_; }
  std::vector<PhaseSpan>& spans() { return spans_; }
  uint64_t span_count() const { return span_count_; }
  std::vector<PhaseStats>& phases() { return phases_; }

 private:
  struct Open {
    size_t phase;
    uint32_t depth;
    uint64_t begin_ns;
    uint64_t thread_id;
  };
  size_t phase_index(const std::string& name);
  void close(size_t open_index, uint64_t end_ns);

  std::vector<Marker> markers_;
  uint64_t marker_count_ = 0;
  std::vector<PhaseSpan> spans_;
  uint64_t span_count_ = 0;
  std::vector<PhaseStats> phases_;
  std::unordered_map<std::string, size_t> by_name_;
  std::vector<Open> open_;  // the phases open now (few)
};

}  // namespace dprof::analyzer
