// A parent that forks a child (which allocates and exits), then replaces itself by exec.
//   fork_exec            parent: 2 x 211, fork, wait, exec "fork_exec exec-stage"
//   child of the fork:   5 x 555 leaked, _exit(0) after flushing stdio
//   fork_exec exec-stage 7 x 777 leaked, exit 4
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
volatile void* sink;

__attribute__((noinline)) void parent_allocations() {
  for (int i = 0; i < 2; ++i) sink = malloc(211);
}
__attribute__((noinline)) void child_allocations() {
  for (int i = 0; i < 5; ++i) sink = malloc(555);
}
__attribute__((noinline)) void exec_stage_allocations() {
  for (int i = 0; i < 7; ++i) sink = malloc(777);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "exec-stage") == 0) {
    exec_stage_allocations();
    return 4;
  }
  parent_allocations();
  pid_t child = fork();
  if (child == 0) {
    child_allocations();
    std::exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  char stage[] = "exec-stage";
  char* new_argv[] = {argv[0], stage, nullptr};
  execv("/proc/self/exe", new_argv);
  std::perror("execv");
  return 1;
}
