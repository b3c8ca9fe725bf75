#include "phases.h"

#include <algorithm>

namespace dprof::analyzer {

size_t PhaseTracker::phase_index(const std::string& name) {
  auto [position, inserted] = by_name_.emplace(name, phases_.size());
  if (inserted) {
    phases_.emplace_back();
    phases_.back().name = name;
  }
  return position->second;
}

void PhaseTracker::on_annotation(const Annotation& annotation, uint64_t heap_live_bytes) {
  if (annotation.kind == AnnotationKind::kMarker) {
    ++marker_count_;
    if (markers_.size() < kMaxMarkers) {
      markers_.push_back({annotation.time_ns, annotation.thread_id, annotation.name});
    }
    return;
  }
  size_t phase = phase_index(annotation.name);
  auto open = std::find_if(open_.begin(), open_.end(),
                           [&](const Open& entry) { return entry.phase == phase; });
  if (annotation.kind == AnnotationKind::kPhaseBegin) {
    if (open != open_.end()) {
      ++open->depth;
      return;
    }
    open_.push_back({phase, 1, annotation.time_ns, annotation.thread_id});
    PhaseStats& stats = phases_[phase];
    if (stats.spans == 0) stats.first_begin_ns = annotation.time_ns;
    if (heap_live_bytes > stats.peak_heap_bytes) {
      stats.peak_heap_bytes = heap_live_bytes;
      stats.peak_heap_time_ns = annotation.time_ns;
    }
    return;
  }
  // An end without a begin is ignored: the phase began before the trace did, or never.
  if (open == open_.end()) return;
  if (--open->depth == 0) close(static_cast<size_t>(open - open_.begin()), annotation.time_ns);
}

void PhaseTracker::close(size_t open_index, uint64_t end_ns) {
  Open open = open_[open_index];
  open_.erase(open_.begin() + static_cast<std::ptrdiff_t>(open_index));
  PhaseStats& stats = phases_[open.phase];
  ++stats.spans;
  stats.total_ns += end_ns - std::min(end_ns, open.begin_ns);
  ++span_count_;
  if (spans_.size() < kMaxSpans) {
    spans_.push_back({open.phase, open.begin_ns, end_ns, open.thread_id});
  }
}

void PhaseTracker::on_event(const Event& event, uint64_t heap_live_bytes) {
  for (const Open& open : open_) {
    PhaseStats& stats = phases_[open.phase];
    if (heap_live_bytes > stats.peak_heap_bytes) {
      stats.peak_heap_bytes = heap_live_bytes;
      stats.peak_heap_time_ns = event.time_ns;
    }
    if (event.kind == EventKind::kAlloc || event.kind == EventKind::kMmap) {
      ++stats.alloc_count;
      stats.alloc_bytes += event.size;
      stats.alloc_bytes_by_stack[event.stack_id] += event.size;
    }
  }
}

void PhaseTracker::on_rss_sample(uint64_t /*time_ns*/, uint64_t rss_bytes) {
  for (const Open& open : open_) {
    PhaseStats& stats = phases_[open.phase];
    stats.peak_rss_bytes = std::max(stats.peak_rss_bytes, rss_bytes);
    ++stats.rss_samples;
  }
}

void PhaseTracker::finish(uint64_t end_ns) {
  while (!open_.empty()) {
    phases_[open_.back().phase].left_open = true;
    close(open_.size() - 1, std::max(end_ns, open_.back().begin_ns));
  }
}

}  // namespace dprof::analyzer
