#include "output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "damon_prof/trace_format.h"
#include "sys.h"

extern char* program_invocation_short_name;

namespace dprof::output_file {
namespace {

int open_exclusive(const char* path) {
  return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

bool write_header(int fd) {
  dprof_file_header header;
  memset(&header, 0, sizeof(header));
  memcpy(header.magic, DPROF_FILE_MAGIC, DPROF_FILE_MAGIC_SIZE);
  header.version_major = DPROF_VERSION_MAJOR;
  header.version_minor = DPROF_VERSION_MINOR;
  header.header_size = sizeof(header);
  return sys::write_all(fd, &header, sizeof(header));
}

const char* program_name() {
  const char* name = program_invocation_short_name;
  return (name != nullptr && name[0] != '\0') ? name : "process";
}

// "<stem>.exec<N>.dprof" for the N-th image that replaced the root process by exec, where the
// root's trace is "<stem>.dprof": the launcher follows this chain to the last image.
int open_exec_successor(const char* root_path, char* path, size_t path_capacity) {
  size_t length = strlen(root_path);
  const char* suffix = ".dprof";
  size_t stem = length;
  if (length >= 6 && strcmp(root_path + length - 6, suffix) == 0) stem = length - 6;
  for (int image = 1; image < 1000; ++image) {
    int written = snprintf(path, path_capacity, "%.*s.exec%d.dprof", static_cast<int>(stem),
                           root_path, image);
    if (written < 0 || static_cast<size_t>(written) >= path_capacity) return -1;
    int fd = open_exclusive(path);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

}  // namespace

int create(char* path, size_t path_capacity, bool* replaced_earlier_image) {
  *replaced_earlier_image = false;
  pid_t pid = sys::current_pid();
  const char* root_path = getenv("DAMON_PROF_OUTPUT");
  const char* root_pid = getenv("DAMON_PROF_OUTPUT_PID");
  if (root_path != nullptr && root_pid != nullptr && atol(root_pid) == pid) {
    if (strlen(root_path) >= path_capacity) return -1;
    strcpy(path, root_path);
    int fd = open_exclusive(path);
    if (fd < 0 && errno == EEXIST) {
      // Taken by an earlier image of this very process, before it called exec.
      *replaced_earlier_image = true;
      fd = open_exec_successor(root_path, path, path_capacity);
    }
    if (fd >= 0 && !write_header(fd)) {
      close(fd);
      unlink(path);
      return -1;
    }
    return fd;
  }
  int fd = -1;
  const char* directory = getenv("DAMON_PROF_OUTPUT_DIR");
  if (directory == nullptr || directory[0] == '\0') directory = ".";
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    int length = attempt == 0 ? snprintf(path, path_capacity, "%s/%s.%d.dprof", directory,
                                         program_name(), static_cast<int>(pid))
                              : snprintf(path, path_capacity, "%s/%s.%d.%d.dprof", directory,
                                         program_name(), static_cast<int>(pid), attempt);
    if (length < 0 || static_cast<size_t>(length) >= path_capacity) return -1;
    fd = open_exclusive(path);
    if (fd < 0 && errno != EEXIST) return -1;
  }
  if (fd >= 0 && !write_header(fd)) {
    close(fd);
    unlink(path);
    return -1;
  }
  return fd;
}

}  // namespace dprof::output_file
