// A library loaded with dlopen and unloaded with dlclose: its allocations must still be
// attributed to its functions after it is gone.
#include <cstdlib>

namespace {
volatile void* sink;
__attribute__((constructor)) void plugin_constructor() {
  sink = malloc(555);
}  // leaked
}  // namespace

extern "C" __attribute__((noinline)) void* plugin_make_buffer() {
  return malloc(666);
}  // leaked
