#include "stack_capture.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

namespace dprof {

int capture_stack(void** frames, int capacity) {
  int count = unw_backtrace(frames, capacity);
  return count < 0 ? 0 : count;
}

}  // namespace dprof
