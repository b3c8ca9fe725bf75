#include "real_functions.h"

#include <malloc.h>

#include <atomic>

#include "thread_state.h"

namespace dprof {

namespace detail {
RealFunctions g_real;
std::atomic<int> g_resolved{0};
}  // namespace detail

namespace {

using detail::g_real;
using detail::g_resolved;

template <typename Function>
void resolve(Function& slot, const char* name) {
  slot = reinterpret_cast<Function>(dlsym(RTLD_NEXT, name));
}

}  // namespace

void resolve_real_functions() {
  int expected = 0;
  if (!g_resolved.compare_exchange_strong(expected, 1)) {
    // Another thread is resolving: wait; this thread is never the resolver here, since the
    // resolver's own nested hook calls run inside the runtime and do not come back to this.
    while (g_resolved.load(std::memory_order_acquire) != 2) {
    }
    return;
  }
  RuntimeScope scope;
  resolve(g_real.malloc, "malloc");
  resolve(g_real.free, "free");
  resolve(g_real.calloc, "calloc");
  resolve(g_real.realloc, "realloc");
  resolve(g_real.reallocarray, "reallocarray");
  resolve(g_real.memalign, "memalign");
  resolve(g_real.posix_memalign, "posix_memalign");
  resolve(g_real.aligned_alloc, "aligned_alloc");
  resolve(g_real.valloc, "valloc");
  resolve(g_real.pvalloc, "pvalloc");
  resolve(g_real.malloc_usable_size, "malloc_usable_size");
  resolve(g_real.mmap, "mmap");
  resolve(g_real.mmap64, "mmap64");
  resolve(g_real.munmap, "munmap");
  resolve(g_real.mremap, "mremap");
  resolve(g_real.dlopen, "dlopen");
  resolve(g_real.dlmopen, "dlmopen");
  resolve(g_real.dlclose, "dlclose");
  resolve(g_real.execve, "execve");
  resolve(g_real.execv, "execv");
  resolve(g_real.execvp, "execvp");
  resolve(g_real.execvpe, "execvpe");
  resolve(g_real.fexecve, "fexecve");
  resolve(g_real.exit, "exit");
  resolve(g_real.underscore_exit, "_exit");
  resolve(g_real.underscore_Exit, "_Exit");
  resolve(g_real.sigaction, "sigaction");
  resolve(g_real.signal, "signal");
  resolve(g_real.sigprocmask, "sigprocmask");
  resolve(g_real.pthread_sigmask, "pthread_sigmask");
  resolve(g_real.sigsuspend, "sigsuspend");
  resolve(g_real.libc_start_main, "__libc_start_main");
  resolve(g_real.pthread_create, "pthread_create");
  g_resolved.store(2, std::memory_order_release);
}

}  // namespace dprof
