// Starts children every way a program can, each of which allocates a known amount:
//   process_tree tree     3 x 333 in parent_allocations, then children "leaf 1" .. "leaf 6":
//                         1 fork (the child allocates, no exec), 2 vfork + exec, 3 posix_spawn,
//                         4 posix_spawn with an empty environment, 5 system(), 6 popen()
//   process_tree many N   N short children (posix_spawn of "leaf 1"), 16 at a time
//   process_tree leaf K   K x 1000 in leaf_allocations, then exit 0
// Exits 0 when every child exited 0.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {
volatile void* sink;

__attribute__((noinline)) void parent_allocations() {
  for (int i = 0; i < 3; ++i) sink = malloc(333);
}
__attribute__((noinline)) void leaf_allocations(int count) {
  for (int i = 0; i < count; ++i) sink = malloc(1000);
}

std::string self_path() {
  char path[4096];
  ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length <= 0) return "/proc/self/exe";
  return std::string(path, static_cast<size_t>(length));
}

bool exited_cleanly(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

pid_t spawn_leaf(const std::string& self, const char* count, char* const* environment) {
  std::string name = self;
  char leaf[] = "leaf";
  char* argv[] = {name.data(), leaf, const_cast<char*>(count), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, environment) != 0) return -1;
  return pid;
}

bool wait_for(pid_t pid) {
  int status = 0;
  return pid > 0 && waitpid(pid, &status, 0) == pid && exited_cleanly(status);
}

int tree() {
  std::string self = self_path();
  parent_allocations();
  bool ok = true;
  pid_t child = fork();
  if (child == 0) {
    leaf_allocations(1);
    std::exit(0);
  }
  ok = wait_for(child) && ok;
  char leaf[] = "leaf";
  char two[] = "2";
  char* argv[] = {self.data(), leaf, two, nullptr};
  child = vfork();
  if (child == 0) {
    execv(self.c_str(), argv);
    _exit(127);
  }
  ok = wait_for(child) && ok;
  ok = wait_for(spawn_leaf(self, "3", environ)) && ok;
  char* empty_environment[] = {nullptr};
  ok = wait_for(spawn_leaf(self, "4", empty_environment)) && ok;
  std::string command = "'" + self + "' leaf 5";
  ok = exited_cleanly(std::system(command.c_str())) && ok;
  command = "'" + self + "' leaf 6";
  FILE* pipe = popen(command.c_str(), "r");
  ok = pipe != nullptr && exited_cleanly(pclose(pipe)) && ok;
  return ok ? 0 : 1;
}

int many(int count) {
  std::string self = self_path();
  bool ok = true;
  std::vector<pid_t> running;
  for (int started = 0; started < count || !running.empty();) {
    while (started < count && running.size() < 16) {
      pid_t pid = spawn_leaf(self, "1", environ);
      ok = pid > 0 && ok;
      if (pid > 0) running.push_back(pid);
      ++started;
    }
    if (running.empty()) break;
    ok = wait_for(running.front()) && ok;
    running.erase(running.begin());
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "leaf") == 0) {
    leaf_allocations(std::atoi(argv[2]));
    return 0;
  }
  if (argc >= 3 && std::strcmp(argv[1], "many") == 0) return many(std::atoi(argv[2]));
  if (argc >= 2 && std::strcmp(argv[1], "tree") == 0) return tree();
  std::fprintf(stderr, "usage: process_tree tree | many N | leaf K\n");
  return 2;
}
