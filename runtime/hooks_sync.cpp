// Synchronisation objects the kernel touches on the program's behalf: a futex wait reads the
// lock word, a robust mutex list is walked at thread exit, and the program's own futex calls go
// through syscall(). The objects a call works on stay accessible for as long as it runs (a
// blocked pthread_cond_wait keeps its condition and mutex accessible while it sleeps).
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kernel_handoff.h"
#include "segv_dispatch.h"

using dprof::KernelHandoff;

namespace {

// A robust mutex is on its owner's robust list, which the kernel walks when the thread dies, at
// no call of ours: such a mutex is never sampled.
void pin_if_robust(const pthread_mutex_t* mutex) {
  // glibc's internal PTHREAD_MUTEX_ROBUST_NORMAL_NP bit of the mutex kind.
  constexpr int kRobustKind = 16;
  if (dprof::page_guard::enabled() && mutex != nullptr &&
      (mutex->__data.__kind & kRobustKind) != 0) {
    dprof::pin_for_good(mutex, sizeof(*mutex));
  }
}

// A mutex whose uncontended lock and whose unlock never make the kernel read its memory: not
// robust, not priority-inheriting or -protecting, not process-shared (glibc's kind bits 16, 32,
// 64 and 128). Its trylock is user-space atomics only, and its unlock wakes waiters with a
// private futex, which the kernel finds by address without reading it. sqlite takes such a mutex
// around every allocation: tainting each lock and unlock cost it 2-3% with read sampling on.
bool plain_private(const pthread_mutex_t* mutex) {
  constexpr int kKernelReadsIt = 16 | 32 | 64 | 128;
  return mutex != nullptr && (mutex->__data.__kind & kKernelReadsIt) == 0;
}

}  // namespace

DPROF_EXPORT int pthread_mutex_lock(pthread_mutex_t* mutex) {
  if (dprof::page_guard::enabled() && plain_private(mutex)) {
    // Uncontended: taken in user space, nothing to hand over. Contended: the futex wait below
    // reads the lock word, which must stay accessible.
    auto try_lock = DPROF_NEXT(pthread_mutex_trylock);
    if (try_lock != nullptr && try_lock(mutex) == 0) return 0;
  }
  KernelHandoff handoff;
  handoff.object(mutex);
  pin_if_robust(mutex);
  DPROF_FORWARD(ENOSYS, pthread_mutex_lock, mutex);
}

DPROF_EXPORT int pthread_mutex_trylock(pthread_mutex_t* mutex) {
  if (plain_private(mutex)) DPROF_FORWARD(ENOSYS, pthread_mutex_trylock, mutex);
  KernelHandoff handoff;
  handoff.object(mutex);
  pin_if_robust(mutex);
  DPROF_FORWARD(ENOSYS, pthread_mutex_trylock, mutex);
}

DPROF_EXPORT int pthread_mutex_timedlock(pthread_mutex_t* mutex, const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(mutex);
  handoff.object(timeout);
  pin_if_robust(mutex);
  DPROF_FORWARD(ENOSYS, pthread_mutex_timedlock, mutex, timeout);
}

DPROF_EXPORT int pthread_mutex_clocklock(pthread_mutex_t* mutex, clockid_t clock,
                                         const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(mutex);
  handoff.object(timeout);
  pin_if_robust(mutex);
  DPROF_FORWARD(ENOSYS, pthread_mutex_clocklock, mutex, clock, timeout);
}

DPROF_EXPORT int pthread_mutex_unlock(pthread_mutex_t* mutex) {
  if (plain_private(mutex)) DPROF_FORWARD(ENOSYS, pthread_mutex_unlock, mutex);
  KernelHandoff handoff;
  handoff.object(mutex);
  DPROF_FORWARD(ENOSYS, pthread_mutex_unlock, mutex);
}

DPROF_EXPORT int pthread_mutex_consistent(pthread_mutex_t* mutex) {
  KernelHandoff handoff;
  handoff.object(mutex);
  DPROF_FORWARD(ENOSYS, pthread_mutex_consistent, mutex);
}

DPROF_EXPORT int pthread_cond_wait(pthread_cond_t* condition, pthread_mutex_t* mutex) {
  KernelHandoff handoff;
  handoff.object(condition);
  handoff.object(mutex);
  DPROF_FORWARD(ENOSYS, pthread_cond_wait, condition, mutex);
}

DPROF_EXPORT int pthread_cond_timedwait(pthread_cond_t* condition, pthread_mutex_t* mutex,
                                        const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(condition);
  handoff.object(mutex);
  handoff.object(timeout);
  DPROF_FORWARD(ENOSYS, pthread_cond_timedwait, condition, mutex, timeout);
}

DPROF_EXPORT int pthread_cond_clockwait(pthread_cond_t* condition, pthread_mutex_t* mutex,
                                        clockid_t clock, const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(condition);
  handoff.object(mutex);
  handoff.object(timeout);
  DPROF_FORWARD(ENOSYS, pthread_cond_clockwait, condition, mutex, clock, timeout);
}

DPROF_EXPORT int pthread_cond_signal(pthread_cond_t* condition) {
  KernelHandoff handoff;
  handoff.object(condition);
  DPROF_FORWARD(ENOSYS, pthread_cond_signal, condition);
}

DPROF_EXPORT int pthread_cond_broadcast(pthread_cond_t* condition) {
  KernelHandoff handoff;
  handoff.object(condition);
  DPROF_FORWARD(ENOSYS, pthread_cond_broadcast, condition);
}

#define RWLOCK_WRAPPER(name)                      \
  DPROF_EXPORT int name(pthread_rwlock_t* lock) { \
    KernelHandoff handoff;                        \
    handoff.object(lock);                         \
    DPROF_FORWARD(ENOSYS, name, lock);            \
  }

RWLOCK_WRAPPER(pthread_rwlock_rdlock)
RWLOCK_WRAPPER(pthread_rwlock_wrlock)
RWLOCK_WRAPPER(pthread_rwlock_tryrdlock)
RWLOCK_WRAPPER(pthread_rwlock_trywrlock)
RWLOCK_WRAPPER(pthread_rwlock_unlock)

DPROF_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t* lock,
                                            const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(lock);
  handoff.object(timeout);
  DPROF_FORWARD(ENOSYS, pthread_rwlock_timedrdlock, lock, timeout);
}

DPROF_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t* lock,
                                            const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(lock);
  handoff.object(timeout);
  DPROF_FORWARD(ENOSYS, pthread_rwlock_timedwrlock, lock, timeout);
}

DPROF_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t* lock, clockid_t clock,
                                            const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(lock);
  handoff.object(timeout);
  DPROF_FORWARD(ENOSYS, pthread_rwlock_clockrdlock, lock, clock, timeout);
}

DPROF_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t* lock, clockid_t clock,
                                            const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(lock);
  handoff.object(timeout);
  DPROF_FORWARD(ENOSYS, pthread_rwlock_clockwrlock, lock, clock, timeout);
}

DPROF_EXPORT int pthread_barrier_wait(pthread_barrier_t* barrier) {
  KernelHandoff handoff;
  handoff.object(barrier);
  DPROF_FORWARD(ENOSYS, pthread_barrier_wait, barrier);
}

DPROF_EXPORT int pthread_once(pthread_once_t* once, void (*routine)()) {
  KernelHandoff handoff;
  handoff.object(once);
  DPROF_FORWARD(ENOSYS, pthread_once, once, routine);
}

DPROF_EXPORT int pthread_join(pthread_t thread, void** result) {
  KernelHandoff handoff;
  handoff.object(result);
  DPROF_FORWARD(ENOSYS, pthread_join, thread, result);
}

// Semaphores report errors through errno and -1, pthread functions by returning the error.
DPROF_EXPORT int sem_wait(sem_t* semaphore) {
  KernelHandoff handoff;
  handoff.object(semaphore);
  DPROF_FORWARD(-1, sem_wait, semaphore);
}

DPROF_EXPORT int sem_trywait(sem_t* semaphore) {
  KernelHandoff handoff;
  handoff.object(semaphore);
  DPROF_FORWARD(-1, sem_trywait, semaphore);
}

DPROF_EXPORT int sem_timedwait(sem_t* semaphore, const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(semaphore);
  handoff.object(timeout);
  DPROF_FORWARD(-1, sem_timedwait, semaphore, timeout);
}

DPROF_EXPORT int sem_clockwait(sem_t* semaphore, clockid_t clock, const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(semaphore);
  handoff.object(timeout);
  DPROF_FORWARD(-1, sem_clockwait, semaphore, clock, timeout);
}

DPROF_EXPORT int sem_post(sem_t* semaphore) {
  KernelHandoff handoff;
  handoff.object(semaphore);
  DPROF_FORWARD(-1, sem_post, semaphore);
}

// --- syscall(): the program's (and libstdc++'s std::atomic wait's) own system calls
// ---------------

namespace {

// System calls that take no pointer the kernel dereferences.
bool takes_no_pointers(long number) {
  switch (number) {
    case SYS_gettid:
    case SYS_getpid:
    case SYS_getppid:
    case SYS_sched_yield:
    case SYS_tgkill:
    case SYS_tkill:
    case SYS_kill:
    case SYS_close:
    case SYS_dup:
    case SYS_dup3:
    case SYS_membarrier:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
    case SYS_madvise:
    case SYS_munmap:
    case SYS_exit:
    case SYS_exit_group:
      return true;
    default:
      return false;
  }
}

}  // namespace

DPROF_EXPORT long syscall(long number, ...) {
  va_list arguments;
  va_start(arguments, number);
  long a[6];
  for (long& value : a) value = va_arg(arguments, long);
  va_end(arguments);
  auto next = DPROF_NEXT(syscall);
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  KernelHandoff handoff;
  sigset_t mask_copy;
  if (handoff.active()) {
    auto pointer = [](long value) { return reinterpret_cast<const void*>(value); };
    switch (number) {
      case SYS_futex:
        handoff.buffer(pointer(a[0]), sizeof(uint32_t));
        handoff.buffer(pointer(a[3]), sizeof(struct timespec));  // or a value: finds no page
        handoff.buffer(pointer(a[4]), sizeof(uint32_t));
        break;
      case SYS_read:
      case SYS_write:
      case SYS_pread64:
      case SYS_pwrite64:
        handoff.buffer(pointer(a[1]), static_cast<size_t>(a[2]));
        break;
      case SYS_getrandom:
        handoff.buffer(pointer(a[0]), static_cast<size_t>(a[1]));
        break;
      case SYS_rt_sigprocmask: {
        // As pthread_sigmask(): SIGSEGV stays unblocked, the program's belief is kept.
        const auto* set = static_cast<const sigset_t*>(pointer(a[1]));
        handoff.buffer(set, sizeof(sigset_t));
        handoff.buffer(pointer(a[2]), sizeof(sigset_t));
        bool believed = dprof::thread_state().program_blocks_segv != 0;
        long result =
            next(number, a[0],
                 reinterpret_cast<long>(dprof::segv_dispatch::without_segv(set, &mask_copy)), a[2],
                 a[3], a[4], a[5]);
        if (result == 0) {
          if (a[2] != 0 && believed) {
            sigaddset(reinterpret_cast<sigset_t*>(a[2]), SIGSEGV);
          }
          dprof::segv_dispatch::note_mask_change(static_cast<int>(a[0]), set);
        }
        return result;
      }
      case SYS_io_setup:
      case SYS_io_submit:
      case SYS_io_uring_setup:
      case SYS_io_uring_enter:
        // The kernel will touch this process's buffers at any time from now on.
        dprof::page_guard::disable(dprof::page_guard::kAsyncIoReason);
        break;
      default:
        if (!takes_no_pointers(number)) handoff.pause();
        break;
    }
  }
  return next(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
