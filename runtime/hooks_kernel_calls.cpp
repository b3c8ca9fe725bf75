// The C library's system-call wrappers that hand program memory to the kernel. Each names the
// buffers the kernel reads or writes (kernel_handoff.h), so that a sampled page among them is made
// accessible before the call and stays so until it returns: the program never sees an EFAULT or
// a short read it would not have had. Calls whose buffers cannot be named run paused.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "kernel_handoff.h"
#include "segv_dispatch.h"
#include "thread_state.h"

using dprof::KernelHandoff;

namespace dprof {

void* lookup_next_function(const char* name) {
  RuntimeScope scope;
  return dlsym(RTLD_NEXT, name);
}

}  // namespace dprof

// --- Reading and writing ------------------------------------------------------------------------

DPROF_EXPORT ssize_t read(int fd, void* data, size_t length) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, read, fd, data, length);
}

DPROF_EXPORT ssize_t write(int fd, const void* data, size_t length) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, write, fd, data, length);
}

DPROF_EXPORT ssize_t pread(int fd, void* data, size_t length, off_t offset) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, pread, fd, data, length, offset);
}

DPROF_EXPORT ssize_t pread64(int fd, void* data, size_t length, off64_t offset) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, pread64, fd, data, length, offset);
}

DPROF_EXPORT ssize_t pwrite(int fd, const void* data, size_t length, off_t offset) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, pwrite, fd, data, length, offset);
}

DPROF_EXPORT ssize_t pwrite64(int fd, const void* data, size_t length, off64_t offset) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, pwrite64, fd, data, length, offset);
}

DPROF_EXPORT ssize_t readv(int fd, const struct iovec* vector, int count) {
  KernelHandoff handoff;
  handoff.iovecs(vector, count);
  DPROF_FORWARD(-1, readv, fd, vector, count);
}

DPROF_EXPORT ssize_t writev(int fd, const struct iovec* vector, int count) {
  KernelHandoff handoff;
  handoff.iovecs(vector, count);
  DPROF_FORWARD(-1, writev, fd, vector, count);
}

DPROF_EXPORT ssize_t preadv(int fd, const struct iovec* vector, int count, off_t offset) {
  KernelHandoff handoff;
  handoff.iovecs(vector, count);
  DPROF_FORWARD(-1, preadv, fd, vector, count, offset);
}

DPROF_EXPORT ssize_t pwritev(int fd, const struct iovec* vector, int count, off_t offset) {
  KernelHandoff handoff;
  handoff.iovecs(vector, count);
  DPROF_FORWARD(-1, pwritev, fd, vector, count, offset);
}

DPROF_EXPORT ssize_t preadv64(int fd, const struct iovec* vector, int count, off64_t offset) {
  KernelHandoff handoff;
  handoff.iovecs(vector, count);
  DPROF_FORWARD(-1, preadv64, fd, vector, count, offset);
}

DPROF_EXPORT ssize_t pwritev64(int fd, const struct iovec* vector, int count, off64_t offset) {
  KernelHandoff handoff;
  handoff.iovecs(vector, count);
  DPROF_FORWARD(-1, pwritev64, fd, vector, count, offset);
}

DPROF_EXPORT ssize_t preadv2(int fd, const struct iovec* vector, int count, off_t offset,
                             int flags) {
  KernelHandoff handoff;
  handoff.iovecs(vector, count);
  DPROF_FORWARD(-1, preadv2, fd, vector, count, offset, flags);
}

DPROF_EXPORT ssize_t pwritev2(int fd, const struct iovec* vector, int count, off_t offset,
                              int flags) {
  KernelHandoff handoff;
  handoff.iovecs(vector, count);
  DPROF_FORWARD(-1, pwritev2, fd, vector, count, offset, flags);
}

DPROF_EXPORT ssize_t getdents64(int fd, void* data, size_t length) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, getdents64, fd, data, length);
}

DPROF_EXPORT ssize_t sendfile(int out, int in, off_t* offset, size_t count) {
  KernelHandoff handoff;
  handoff.object(offset);
  DPROF_FORWARD(-1, sendfile, out, in, offset, count);
}

DPROF_EXPORT ssize_t splice(int in, off64_t* in_offset, int out, off64_t* out_offset, size_t length,
                            unsigned int flags) {
  KernelHandoff handoff;
  handoff.object(in_offset);
  handoff.object(out_offset);
  DPROF_FORWARD(-1, splice, in, in_offset, out, out_offset, length, flags);
}

DPROF_EXPORT ssize_t vmsplice(int fd, const struct iovec* vector, size_t count,
                              unsigned int flags) {
  KernelHandoff handoff;
  handoff.iovecs(vector, static_cast<long>(count));
  DPROF_FORWARD(-1, vmsplice, fd, vector, count, flags);
}

DPROF_EXPORT ssize_t copy_file_range(int in, off64_t* in_offset, int out, off64_t* out_offset,
                                     size_t length, unsigned int flags) {
  KernelHandoff handoff;
  handoff.object(in_offset);
  handoff.object(out_offset);
  DPROF_FORWARD(-1, copy_file_range, in, in_offset, out, out_offset, length, flags);
}

DPROF_EXPORT ssize_t process_vm_readv(pid_t pid, const struct iovec* local, unsigned long count,
                                      const struct iovec* remote, unsigned long remote_count,
                                      unsigned long flags) {
  KernelHandoff handoff;
  handoff.iovecs(local, static_cast<long>(count));
  handoff.buffer(remote, remote_count * sizeof(*remote));
  DPROF_FORWARD(-1, process_vm_readv, pid, local, count, remote, remote_count, flags);
}

DPROF_EXPORT ssize_t process_vm_writev(pid_t pid, const struct iovec* local, unsigned long count,
                                       const struct iovec* remote, unsigned long remote_count,
                                       unsigned long flags) {
  KernelHandoff handoff;
  handoff.iovecs(local, static_cast<long>(count));
  handoff.buffer(remote, remote_count * sizeof(*remote));
  DPROF_FORWARD(-1, process_vm_writev, pid, local, count, remote, remote_count, flags);
}

// --- Sockets -------------------------------------------------------------------------------------

DPROF_EXPORT ssize_t recv(int fd, void* data, size_t length, int flags) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, recv, fd, data, length, flags);
}

DPROF_EXPORT ssize_t send(int fd, const void* data, size_t length, int flags) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, send, fd, data, length, flags);
}

DPROF_EXPORT ssize_t recvfrom(int fd, void* data, size_t length, int flags,
                              struct sockaddr* address, socklen_t* address_length) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  handoff.address(address, address_length);
  DPROF_FORWARD(-1, recvfrom, fd, data, length, flags, address, address_length);
}

DPROF_EXPORT ssize_t sendto(int fd, const void* data, size_t length, int flags,
                            const struct sockaddr* address, socklen_t address_length) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  handoff.buffer(address, address_length);
  DPROF_FORWARD(-1, sendto, fd, data, length, flags, address, address_length);
}

DPROF_EXPORT ssize_t recvmsg(int fd, struct msghdr* message, int flags) {
  KernelHandoff handoff;
  handoff.message(message);
  DPROF_FORWARD(-1, recvmsg, fd, message, flags);
}

DPROF_EXPORT ssize_t sendmsg(int fd, const struct msghdr* message, int flags) {
  KernelHandoff handoff;
  handoff.message(message);
  DPROF_FORWARD(-1, sendmsg, fd, message, flags);
}

DPROF_EXPORT int recvmmsg(int fd, struct mmsghdr* messages, unsigned int count, int flags,
                          struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.buffer(messages, count * sizeof(*messages));
  for (unsigned int i = 0; i < count && messages != nullptr; ++i) {
    handoff.message(&messages[i].msg_hdr);
  }
  handoff.object(timeout);
  DPROF_FORWARD(-1, recvmmsg, fd, messages, count, flags, timeout);
}

DPROF_EXPORT int sendmmsg(int fd, struct mmsghdr* messages, unsigned int count, int flags) {
  KernelHandoff handoff;
  handoff.buffer(messages, count * sizeof(*messages));
  for (unsigned int i = 0; i < count && messages != nullptr; ++i) {
    handoff.message(&messages[i].msg_hdr);
  }
  DPROF_FORWARD(-1, sendmmsg, fd, messages, count, flags);
}

DPROF_EXPORT int accept(int fd, struct sockaddr* address, socklen_t* address_length) {
  KernelHandoff handoff;
  handoff.address(address, address_length);
  DPROF_FORWARD(-1, accept, fd, address, address_length);
}

DPROF_EXPORT int accept4(int fd, struct sockaddr* address, socklen_t* address_length, int flags) {
  KernelHandoff handoff;
  handoff.address(address, address_length);
  DPROF_FORWARD(-1, accept4, fd, address, address_length, flags);
}

DPROF_EXPORT int connect(int fd, const struct sockaddr* address, socklen_t address_length) {
  KernelHandoff handoff;
  handoff.buffer(address, address_length);
  DPROF_FORWARD(-1, connect, fd, address, address_length);
}

DPROF_EXPORT int bind(int fd, const struct sockaddr* address, socklen_t address_length) {
  KernelHandoff handoff;
  handoff.buffer(address, address_length);
  DPROF_FORWARD(-1, bind, fd, address, address_length);
}

DPROF_EXPORT int getsockname(int fd, struct sockaddr* address, socklen_t* address_length) {
  KernelHandoff handoff;
  handoff.address(address, address_length);
  DPROF_FORWARD(-1, getsockname, fd, address, address_length);
}

DPROF_EXPORT int getpeername(int fd, struct sockaddr* address, socklen_t* address_length) {
  KernelHandoff handoff;
  handoff.address(address, address_length);
  DPROF_FORWARD(-1, getpeername, fd, address, address_length);
}

DPROF_EXPORT int getsockopt(int fd, int level, int name, void* value, socklen_t* value_length) {
  KernelHandoff handoff;
  handoff.address(value, value_length);
  DPROF_FORWARD(-1, getsockopt, fd, level, name, value, value_length);
}

DPROF_EXPORT int setsockopt(int fd, int level, int name, const void* value,
                            socklen_t value_length) {
  KernelHandoff handoff;
  handoff.buffer(value, value_length);
  DPROF_FORWARD(-1, setsockopt, fd, level, name, value, value_length);
}

DPROF_EXPORT int socketpair(int domain, int type, int protocol, int pair[2]) {
  KernelHandoff handoff;
  handoff.buffer(pair, 2 * sizeof(int));
  DPROF_FORWARD(-1, socketpair, domain, type, protocol, pair);
}

DPROF_EXPORT int pipe(int pair[2]) {
  KernelHandoff handoff;
  handoff.buffer(pair, 2 * sizeof(int));
  DPROF_FORWARD(-1, pipe, pair);
}

DPROF_EXPORT int pipe2(int pair[2], int flags) {
  KernelHandoff handoff;
  handoff.buffer(pair, 2 * sizeof(int));
  DPROF_FORWARD(-1, pipe2, pair, flags);
}

// --- Waiting for files
// -----------------------------------------------------------------------------

DPROF_EXPORT int poll(struct pollfd* fds, nfds_t count, int timeout) {
  KernelHandoff handoff;
  handoff.buffer(fds, count * sizeof(*fds));
  DPROF_FORWARD(-1, poll, fds, count, timeout);
}

DPROF_EXPORT int ppoll(struct pollfd* fds, nfds_t count, const struct timespec* timeout,
                       const sigset_t* mask) {
  KernelHandoff handoff;
  handoff.buffer(fds, count * sizeof(*fds));
  handoff.object(timeout);
  handoff.object(mask);
  sigset_t copy;
  DPROF_FORWARD(-1, ppoll, fds, count, timeout, dprof::segv_dispatch::without_segv(mask, &copy));
}

DPROF_EXPORT int select(int count, fd_set* readable, fd_set* writable, fd_set* failed,
                        struct timeval* timeout) {
  KernelHandoff handoff;
  handoff.object(readable);
  handoff.object(writable);
  handoff.object(failed);
  handoff.object(timeout);
  DPROF_FORWARD(-1, select, count, readable, writable, failed, timeout);
}

DPROF_EXPORT int pselect(int count, fd_set* readable, fd_set* writable, fd_set* failed,
                         const struct timespec* timeout, const sigset_t* mask) {
  KernelHandoff handoff;
  handoff.object(readable);
  handoff.object(writable);
  handoff.object(failed);
  handoff.object(timeout);
  handoff.object(mask);
  sigset_t copy;
  DPROF_FORWARD(-1, pselect, count, readable, writable, failed, timeout,
                dprof::segv_dispatch::without_segv(mask, &copy));
}

DPROF_EXPORT int epoll_wait(int fd, struct epoll_event* events, int count, int timeout) {
  KernelHandoff handoff;
  if (count > 0) handoff.buffer(events, static_cast<size_t>(count) * sizeof(*events));
  DPROF_FORWARD(-1, epoll_wait, fd, events, count, timeout);
}

DPROF_EXPORT int epoll_pwait(int fd, struct epoll_event* events, int count, int timeout,
                             const sigset_t* mask) {
  KernelHandoff handoff;
  if (count > 0) handoff.buffer(events, static_cast<size_t>(count) * sizeof(*events));
  handoff.object(mask);
  sigset_t copy;
  DPROF_FORWARD(-1, epoll_pwait, fd, events, count, timeout,
                dprof::segv_dispatch::without_segv(mask, &copy));
}

DPROF_EXPORT int epoll_ctl(int fd, int operation, int target, struct epoll_event* event) {
  KernelHandoff handoff;
  handoff.object(event);
  DPROF_FORWARD(-1, epoll_ctl, fd, operation, target, event);
}

// open()'s mode is passed only when a file may be created; `flags` is the last named parameter.
#define READ_CREATION_MODE(flags, mode)                   \
  do {                                                    \
    if (((flags) & (O_CREAT | O_TMPFILE)) != 0) {         \
      va_list arguments;                                  \
      va_start(arguments, flags);                         \
      mode = static_cast<mode_t>(va_arg(arguments, int)); \
      va_end(arguments);                                  \
    }                                                     \
  } while (0)

// --- File names and metadata
// ------------------------------------------------------------------------

DPROF_EXPORT int open(const char* path, int flags, ...) {
  mode_t mode = 0;
  READ_CREATION_MODE(flags, mode);
  KernelHandoff handoff;
  handoff.string(path);
  DPROF_FORWARD(-1, open, path, flags, mode);
}

DPROF_EXPORT int open64(const char* path, int flags, ...) {
  mode_t mode = 0;
  READ_CREATION_MODE(flags, mode);
  KernelHandoff handoff;
  handoff.string(path);
  DPROF_FORWARD(-1, open64, path, flags, mode);
}

DPROF_EXPORT int openat(int directory, const char* path, int flags, ...) {
  mode_t mode = 0;
  READ_CREATION_MODE(flags, mode);
  KernelHandoff handoff;
  handoff.string(path);
  DPROF_FORWARD(-1, openat, directory, path, flags, mode);
}

DPROF_EXPORT int creat(const char* path, mode_t mode) {
  KernelHandoff handoff;
  handoff.string(path);
  DPROF_FORWARD(-1, creat, path, mode);
}

DPROF_EXPORT int access(const char* path, int mode) {
  KernelHandoff handoff;
  handoff.string(path);
  DPROF_FORWARD(-1, access, path, mode);
}

DPROF_EXPORT int unlink(const char* path) {
  KernelHandoff handoff;
  handoff.string(path);
  DPROF_FORWARD(-1, unlink, path);
}

DPROF_EXPORT int mkdir(const char* path, mode_t mode) {
  KernelHandoff handoff;
  handoff.string(path);
  DPROF_FORWARD(-1, mkdir, path, mode);
}

DPROF_EXPORT int rename(const char* from, const char* to) {
  KernelHandoff handoff;
  handoff.string(from);
  handoff.string(to);
  DPROF_FORWARD(-1, rename, from, to);
}

DPROF_EXPORT int stat(const char* path, struct stat* result) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.object(result);
  DPROF_FORWARD(-1, stat, path, result);
}

DPROF_EXPORT int lstat(const char* path, struct stat* result) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.object(result);
  DPROF_FORWARD(-1, lstat, path, result);
}

DPROF_EXPORT int fstat(int fd, struct stat* result) {
  KernelHandoff handoff;
  handoff.object(result);
  DPROF_FORWARD(-1, fstat, fd, result);
}

DPROF_EXPORT int fstatat(int directory, const char* path, struct stat* result, int flags) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.object(result);
  DPROF_FORWARD(-1, fstatat, directory, path, result, flags);
}

DPROF_EXPORT int stat64(const char* path, struct stat64* result) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.object(result);
  DPROF_FORWARD(-1, stat64, path, result);
}

DPROF_EXPORT int lstat64(const char* path, struct stat64* result) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.object(result);
  DPROF_FORWARD(-1, lstat64, path, result);
}

DPROF_EXPORT int fstat64(int fd, struct stat64* result) {
  KernelHandoff handoff;
  handoff.object(result);
  DPROF_FORWARD(-1, fstat64, fd, result);
}

DPROF_EXPORT int fstatat64(int directory, const char* path, struct stat64* result, int flags) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.object(result);
  DPROF_FORWARD(-1, fstatat64, directory, path, result, flags);
}

DPROF_EXPORT int statx(int directory, const char* path, int flags, unsigned int mask,
                       struct statx* result) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.buffer(result, 256);
  DPROF_FORWARD(-1, statx, directory, path, flags, mask, result);
}

DPROF_EXPORT int statfs(const char* path, struct statfs* result) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.object(result);
  DPROF_FORWARD(-1, statfs, path, result);
}

DPROF_EXPORT int fstatfs(int fd, struct statfs* result) {
  KernelHandoff handoff;
  handoff.object(result);
  DPROF_FORWARD(-1, fstatfs, fd, result);
}

DPROF_EXPORT ssize_t readlink(const char* path, char* data, size_t length) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, readlink, path, data, length);
}

DPROF_EXPORT ssize_t readlinkat(int directory, const char* path, char* data, size_t length) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, readlinkat, directory, path, data, length);
}

DPROF_EXPORT ssize_t getxattr(const char* path, const char* name, void* value, size_t length) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.string(name);
  handoff.buffer(value, length);
  DPROF_FORWARD(-1, getxattr, path, name, value, length);
}

DPROF_EXPORT ssize_t fgetxattr(int fd, const char* name, void* value, size_t length) {
  KernelHandoff handoff;
  handoff.string(name);
  handoff.buffer(value, length);
  DPROF_FORWARD(-1, fgetxattr, fd, name, value, length);
}

DPROF_EXPORT int mincore(void* address, size_t length, unsigned char* vector) {
  KernelHandoff handoff;
  handoff.buffer(vector, (length + 4095) / 4096);
  DPROF_FORWARD(-1, mincore, address, length, vector);
}

// --- Clocks, limits, process information
// -------------------------------------------------------------

DPROF_EXPORT int clock_gettime(clockid_t clock, struct timespec* now) {
  KernelHandoff handoff;
  handoff.object(now);
  DPROF_FORWARD(-1, clock_gettime, clock, now);
}

DPROF_EXPORT int nanosleep(const struct timespec* duration, struct timespec* remaining) {
  KernelHandoff handoff;
  handoff.object(duration);
  handoff.object(remaining);
  DPROF_FORWARD(-1, nanosleep, duration, remaining);
}

DPROF_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec* duration,
                                 struct timespec* remaining) {
  KernelHandoff handoff;
  handoff.object(duration);
  handoff.object(remaining);
  DPROF_FORWARD(ENOSYS, clock_nanosleep, clock, flags, duration, remaining);
}

DPROF_EXPORT int getrusage(int who, struct rusage* usage) {
  KernelHandoff handoff;
  handoff.object(usage);
  DPROF_FORWARD(-1, getrusage, who, usage);
}

DPROF_EXPORT int getrlimit(__rlimit_resource_t resource, struct rlimit* limit) {
  KernelHandoff handoff;
  handoff.object(limit);
  DPROF_FORWARD(-1, getrlimit, resource, limit);
}

DPROF_EXPORT int prlimit(pid_t pid, enum __rlimit_resource resource, const struct rlimit* limit,
                         struct rlimit* previous) {
  KernelHandoff handoff;
  handoff.object(limit);
  handoff.object(previous);
  DPROF_FORWARD(-1, prlimit, pid, resource, limit, previous);
}

DPROF_EXPORT int uname(struct utsname* result) {
  KernelHandoff handoff;
  handoff.object(result);
  DPROF_FORWARD(-1, uname, result);
}

DPROF_EXPORT int sysinfo(struct sysinfo* result) {
  KernelHandoff handoff;
  handoff.object(result);
  DPROF_FORWARD(-1, sysinfo, result);
}

DPROF_EXPORT char* getcwd(char* data, size_t length) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(nullptr, getcwd, data, length);
}

DPROF_EXPORT int sched_getaffinity(pid_t pid, size_t size, cpu_set_t* set) {
  KernelHandoff handoff;
  handoff.buffer(set, size);
  DPROF_FORWARD(-1, sched_getaffinity, pid, size, set);
}

DPROF_EXPORT int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t* set) {
  KernelHandoff handoff;
  handoff.buffer(set, size);
  DPROF_FORWARD(-1, sched_setaffinity, pid, size, set);
}

DPROF_EXPORT pid_t waitpid(pid_t pid, int* status, int options) {
  KernelHandoff handoff;
  handoff.object(status);
  DPROF_FORWARD(-1, waitpid, pid, status, options);
}

DPROF_EXPORT pid_t wait(int* status) {
  KernelHandoff handoff;
  handoff.object(status);
  DPROF_FORWARD(-1, wait, status);
}

DPROF_EXPORT pid_t wait4(pid_t pid, int* status, int options, struct rusage* usage) {
  KernelHandoff handoff;
  handoff.object(status);
  handoff.object(usage);
  DPROF_FORWARD(-1, wait4, pid, status, options, usage);
}

DPROF_EXPORT int waitid(idtype_t type, id_t id, siginfo_t* info, int options) {
  KernelHandoff handoff;
  handoff.object(info);
  DPROF_FORWARD(-1, waitid, type, id, info, options);
}

DPROF_EXPORT int timerfd_settime(int fd, int flags, const struct itimerspec* value,
                                 struct itimerspec* previous) {
  KernelHandoff handoff;
  handoff.object(value);
  handoff.object(previous);
  DPROF_FORWARD(-1, timerfd_settime, fd, flags, value, previous);
}

DPROF_EXPORT int getitimer(__itimer_which_t which, struct itimerval* value) {
  KernelHandoff handoff;
  handoff.object(value);
  DPROF_FORWARD(-1, getitimer, which, value);
}

DPROF_EXPORT int setitimer(__itimer_which_t which, const struct itimerval* value,
                           struct itimerval* previous) {
  KernelHandoff handoff;
  handoff.object(value);
  handoff.object(previous);
  DPROF_FORWARD(-1, setitimer, which, value, previous);
}

DPROF_EXPORT int sigtimedwait(const sigset_t* set, siginfo_t* info,
                              const struct timespec* timeout) {
  KernelHandoff handoff;
  handoff.object(set);
  handoff.object(info);
  handoff.object(timeout);
  DPROF_FORWARD(-1, sigtimedwait, set, info, timeout);
}

DPROF_EXPORT int sigwaitinfo(const sigset_t* set, siginfo_t* info) {
  KernelHandoff handoff;
  handoff.object(set);
  handoff.object(info);
  DPROF_FORWARD(-1, sigwaitinfo, set, info);
}

DPROF_EXPORT int sigpending(sigset_t* set) {
  KernelHandoff handoff;
  handoff.object(set);
  DPROF_FORWARD(-1, sigpending, set);
}

// --- Random numbers
// ----------------------------------------------------------------------------------

DPROF_EXPORT ssize_t getrandom(void* data, size_t length, unsigned int flags) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, getrandom, data, length, flags);
}

DPROF_EXPORT int getentropy(void* data, size_t length) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, getentropy, data, length);
}

// --- Calls whose buffers cannot all be named
// -------------------------------------------------------

DPROF_EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list arguments;
  va_start(arguments, request);
  void* argument = va_arg(arguments, void*);
  va_end(arguments);
  KernelHandoff handoff;
  // The size is encoded in most requests; older ones (terminals, FIONREAD) have none. A request's
  // structure may point to more memory: the common ones do not.
  size_t size = _IOC_SIZE(request);
  handoff.buffer(argument, size > 4096 ? size : 4096);
  DPROF_FORWARD(-1, ioctl, fd, request, argument);
}

DPROF_EXPORT int fcntl(int fd, int command, ...) {
  va_list arguments;
  va_start(arguments, command);
  void* argument = va_arg(arguments, void*);
  va_end(arguments);
  KernelHandoff handoff;
  handoff.buffer(argument, 256);  // struct flock, f_owner_ex, ...; integers find no page
  DPROF_FORWARD(-1, fcntl, fd, command, argument);
}

DPROF_EXPORT int fcntl64(int fd, int command, ...) {
  va_list arguments;
  va_start(arguments, command);
  void* argument = va_arg(arguments, void*);
  va_end(arguments);
  KernelHandoff handoff;
  handoff.buffer(argument, 256);
  DPROF_FORWARD(-1, fcntl64, fd, command, argument);
}

DPROF_EXPORT int prctl(int option, ...) {
  va_list arguments;
  va_start(arguments, option);
  unsigned long values[4];
  for (unsigned long& value : values) value = va_arg(arguments, unsigned long);
  va_end(arguments);
  KernelHandoff handoff;
  for (unsigned long value : values) handoff.buffer(reinterpret_cast<void*>(value), 256);
  DPROF_FORWARD(-1, prctl, option, values[0], values[1], values[2], values[3]);
}

// --- _FORTIFY_SOURCE entry points (Debian builds its packages with them)
// ----------------------------

extern "C" {
ssize_t __read_chk(int, void*, size_t, size_t);
ssize_t __pread_chk(int, void*, size_t, off_t, size_t);
ssize_t __pread64_chk(int, void*, size_t, off64_t, size_t);
ssize_t __recv_chk(int, void*, size_t, size_t, int);
ssize_t __recvfrom_chk(int, void*, size_t, size_t, int, struct sockaddr*, socklen_t*);
ssize_t __readlink_chk(const char*, char*, size_t, size_t);
char* __getcwd_chk(char*, size_t, size_t);
int __poll_chk(struct pollfd*, nfds_t, int, size_t);
int __open_2(const char*, int);
int __open64_2(const char*, int);
int __openat_2(int, const char*, int);
}

DPROF_EXPORT ssize_t __read_chk(int fd, void* data, size_t length, size_t room) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, __read_chk, fd, data, length, room);
}

DPROF_EXPORT ssize_t __pread_chk(int fd, void* data, size_t length, off_t offset, size_t room) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, __pread_chk, fd, data, length, offset, room);
}

DPROF_EXPORT ssize_t __pread64_chk(int fd, void* data, size_t length, off64_t offset, size_t room) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, __pread64_chk, fd, data, length, offset, room);
}

DPROF_EXPORT ssize_t __recv_chk(int fd, void* data, size_t length, size_t room, int flags) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, __recv_chk, fd, data, length, room, flags);
}

DPROF_EXPORT ssize_t __recvfrom_chk(int fd, void* data, size_t length, size_t room, int flags,
                                    struct sockaddr* address, socklen_t* address_length) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  handoff.address(address, address_length);
  DPROF_FORWARD(-1, __recvfrom_chk, fd, data, length, room, flags, address, address_length);
}

DPROF_EXPORT ssize_t __readlink_chk(const char* path, char* data, size_t length, size_t room) {
  KernelHandoff handoff;
  handoff.string(path);
  handoff.buffer(data, length);
  DPROF_FORWARD(-1, __readlink_chk, path, data, length, room);
}

DPROF_EXPORT char* __getcwd_chk(char* data, size_t length, size_t room) {
  KernelHandoff handoff;
  handoff.buffer(data, length);
  DPROF_FORWARD(nullptr, __getcwd_chk, data, length, room);
}

DPROF_EXPORT int __poll_chk(struct pollfd* fds, nfds_t count, int timeout, size_t room) {
  KernelHandoff handoff;
  handoff.buffer(fds, count * sizeof(*fds));
  DPROF_FORWARD(-1, __poll_chk, fds, count, timeout, room);
}

DPROF_EXPORT int __open_2(const char* path, int flags) {
  KernelHandoff handoff;
  handoff.string(path);
  DPROF_FORWARD(-1, __open_2, path, flags);
}

DPROF_EXPORT int __open64_2(const char* path, int flags) {
  KernelHandoff handoff;
  handoff.string(path);
  DPROF_FORWARD(-1, __open64_2, path, flags);
}

DPROF_EXPORT int __openat_2(int directory, const char* path, int flags) {
  KernelHandoff handoff;
  handoff.string(path);
  DPROF_FORWARD(-1, __openat_2, directory, path, flags);
}
