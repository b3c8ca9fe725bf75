// The access monitor's thread: refreshes the targets, runs the sampling and aggregation
// intervals over the chosen backends, writes a region snapshot per aggregation interval, and
// keeps its own cost within the overhead budget by stretching its intervals.
#pragma once

namespace dprof::monitor {

// Starts monitoring as the environment asks (see monitor_settings.h). Writes the settings record
// either way, saying which backend runs and why. Returns false if no thread was started.
bool start_monitor();
// Stops the thread and removes every protection. `wait` is false in a signal handler.
void stop_monitor(bool wait);
// In a fork child: the parent's monitor thread does not exist here; drop its state.
void forget_monitor_after_fork();
// The program mapped or unmapped memory: the monitor looks its targets up again soon, rather
// than at the next update interval (new large buffers are watched within a few samples).
void note_mappings_changed();

}  // namespace dprof::monitor
