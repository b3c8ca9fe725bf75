// Allocations where the runtime's own life is delicate: before main (static constructors and
// constructor functions), after main (static destructors, atexit handlers), in exceptions, in a
// dlopen'ed library's constructor, and 64 threads allocating at once.
#include <dlfcn.h>
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

volatile void* sink;

struct StaticObject {
  StaticObject() { block = malloc(111); }  // before main, freed in the destructor
  ~StaticObject() {
    free(block);
    sink = malloc(222);  // after main, leaked
  }
  void* block;
};
StaticObject static_object;

__attribute__((constructor)) void constructor_function() {
  sink = malloc(444);
}  // leaked

void exit_handler() {
  sink = malloc(333);
}  // leaked

__attribute__((noinline)) int throw_and_catch(int times) {
  int caught = 0;
  for (int i = 0; i < times; ++i) {
    try {
      throw std::runtime_error("failure number " + std::to_string(i) + " with a long message");
    } catch (const std::runtime_error&) {
      ++caught;
    }
  }
  return caught;
}

pthread_barrier_t start_together;

__attribute__((noinline)) void storm_allocations(int thread_number) {
  // 1000 blocks of (16 + thread_number) bytes; every other one freed.
  void* blocks[1000];
  for (auto& block : blocks) block = malloc(16 + static_cast<size_t>(thread_number));
  for (int i = 0; i < 1000; i += 2) free(blocks[i]);
}

void* storm_thread(void* argument) {
  pthread_barrier_wait(&start_together);
  storm_allocations(static_cast<int>(reinterpret_cast<intptr_t>(argument)));
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  atexit(exit_handler);
  int caught = throw_and_catch(10);
  constexpr int kThreads = 64;
  pthread_barrier_init(&start_together, nullptr, kThreads);
  pthread_t threads[kThreads];
  for (intptr_t i = 0; i < kThreads; ++i) {
    pthread_create(&threads[i], nullptr, storm_thread, reinterpret_cast<void*>(i));
  }
  for (auto& thread : threads) pthread_join(thread, nullptr);
  if (argc > 1) {
    void* plugin = dlopen(argv[1], RTLD_NOW);
    if (plugin == nullptr) {
      std::fprintf(stderr, "dlopen: %s\n", dlerror());
      return 1;
    }
    auto make = reinterpret_cast<void* (*)()>(dlsym(plugin, "plugin_make_buffer"));
    sink = make();
    dlclose(plugin);
  }
  std::printf("lifecycle: caught %d\n", caught);
  return 0;
}
