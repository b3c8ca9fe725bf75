#include "allocation_sampler.h"

#include <math.h>

#include "environment_check.h"
#include "sys.h"

namespace dprof::allocation_sampler {

uint64_t g_rate_bytes = 0;

namespace {

// splitmix64: a fast generator with good statistics; each thread seeds its own.
uint64_t next_random(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The distance to the next sample point: exponential with mean `rate`, at least one byte.
uint64_t draw_distance(uint64_t* random_state) {
  // A uniform number in (0, 1]: never 0, whose logarithm is infinite.
  double uniform = static_cast<double>((next_random(random_state) >> 11) + 1) * 0x1.0p-53;
  double distance = -log(uniform) * static_cast<double>(g_rate_bytes);
  if (distance < 1.0) return 1;
  if (distance > 0x1.0p62) return uint64_t{1} << 62;
  return static_cast<uint64_t>(distance);
}

}  // namespace

void configure_from_environment() {
  uint64_t rate = 0;
  g_rate_bytes =
      environment_check::number_from_environment("DAMON_PROF_SAMPLE_RATE", &rate) ? rate : 0;
}

bool take_slow(ThreadState& state, size_t size) {
  if (!state.sampler_seeded) {
    // Threads (and fork children) must not share a sequence: mix in the thread id and the clock.
    state.sampler_random = sys::monotonic_ns() ^ (static_cast<uint64_t>(sys::current_tid()) << 32) ^
                           reinterpret_cast<uint64_t>(&state);
    state.sampler_seeded = 1;
    state.bytes_until_sample = draw_distance(&state.sampler_random);
    if (state.bytes_until_sample > size) {
      state.bytes_until_sample -= size;
      return false;
    }
  }
  // A point falls inside this allocation. The exponential distribution has no memory, so the
  // next point's distance is drawn afresh from the allocation's end.
  state.bytes_until_sample = draw_distance(&state.sampler_random);
  return true;
}

}  // namespace dprof::allocation_sampler
