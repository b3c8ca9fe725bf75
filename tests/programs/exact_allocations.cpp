// Makes a known number of allocations of known sizes from known functions, through every
// interposed entry point; tests/test_exact_allocations.cpp holds the expected figures. Built with
// -O0 so that no allocation is optimised away or inlined into another function.
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

namespace {

volatile void* sink;

__attribute__((noinline)) void via_malloc() {  // 10 x 100, all freed
  void* blocks[10];
  for (auto& block : blocks) block = malloc(100);
  for (auto* block : blocks) {
    sink = block;
    free(block);
  }
}

__attribute__((noinline)) void via_calloc() {  // 5 x (4 * 25), all freed
  void* blocks[5];
  for (auto& block : blocks) block = calloc(4, 25);
  for (auto* block : blocks) free(block);
}

__attribute__((noinline)) void via_realloc_chain() {  // 4 calls: 10, 20, 4000, 100000; freed
  void* block = realloc(nullptr, 10);
  block = realloc(block, 20);
  block = realloc(block, 4000);
  block = realloc(block, 100000);
  free(block);
}

__attribute__((noinline)) void via_reallocarray() {  // 2 calls: 8*16, 16*16; freed
  void* block = reallocarray(nullptr, 8, 16);
  block = reallocarray(block, 16, 16);
  free(block);
}

__attribute__((noinline)) void
via_aligned_functions() {  // 3 x 300 + 2 x 500 + 2 x 512 + 1000 + 1000
  void* blocks[9];
  int count = 0;
  for (int i = 0; i < 3; ++i) blocks[count++] = memalign(64, 300);
  for (int i = 0; i < 2; ++i) {
    void* block = nullptr;
    if (posix_memalign(&block, 128, 500) == 0) blocks[count++] = block;
  }
  for (int i = 0; i < 2; ++i) blocks[count++] = aligned_alloc(256, 512);
  blocks[count++] = valloc(1000);
  blocks[count++] = pvalloc(1000);
  for (int i = 0; i < count; ++i) {
    sink = reinterpret_cast<void*>(malloc_usable_size(blocks[i]));  // not an allocation
    free(blocks[i]);
  }
}

struct Widget {
  char payload[48];
};

struct alignas(128) AlignedWidget {
  char payload[256];
};

__attribute__((noinline)) void
via_operator_new() {  // 4 x new[700], 3 x new Widget(48), 2 x aligned(256), 1 x nothrow(90)
  for (int i = 0; i < 4; ++i) {
    char* array = new char[700];
    sink = array;
    delete[] array;
  }
  for (int i = 0; i < 3; ++i) {
    auto* widget = new Widget;
    sink = widget;
    delete widget;
  }
  for (int i = 0; i < 2; ++i) {
    auto* widget = new AlignedWidget;
    sink = widget;
    delete widget;
  }
  char* nothrow = new (std::nothrow) char[90];
  sink = nothrow;
  delete[] nothrow;
}

// A failing new throws through the runtime's operator new wrappers. The only allocations are the
// exception objects (the nothrow form throws and catches inside the C++ library too).
__attribute__((noinline)) void failing_new() {
  size_t impossible = static_cast<size_t>(-1) / 2;
  sink = &impossible;
  try {
    sink = new char[*static_cast<volatile size_t*>(&impossible)];
    std::abort();
  } catch (const std::bad_alloc&) {
  }
  if (new (std::nothrow) char[*static_cast<volatile size_t*>(&impossible)] != nullptr) std::abort();
}

__attribute__((noinline)) void make_temporaries() {  // 7 x 33, each freed at once: 7 temporary
  for (int i = 0; i < 7; ++i) {
    void* block = malloc(33);
    sink = block;
    free(block);
  }
}

__attribute__((noinline)) void leak_in_thread() {  // per thread: 3 x 1000, never freed
  for (int i = 0; i < 3; ++i) sink = malloc(1000);
}

void* thread_main(void*) {
  leak_in_thread();
  return nullptr;
}

__attribute__((noinline)) void via_mmap() {  // 2 mappings: 4 pages (unmapped), 8 pages (2 left)
  long page = sysconf(_SC_PAGESIZE);
  void* first = mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(first, 4 * page);
  auto* second = static_cast<char*>(
      mmap(nullptr, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  munmap(second, 6 * page);  // the last 2 pages stay mapped: leaked
}

std::vector<void*>* freed_at_exit;

__attribute__((noinline)) void allocate_freed_at_exit() {  // 6 x 64, freed by an atexit handler
  freed_at_exit = new std::vector<void*>();
  freed_at_exit->reserve(6);
  for (int i = 0; i < 6; ++i) freed_at_exit->push_back(malloc(64));
}

void free_at_exit() {
  for (void* block : *freed_at_exit) free(block);
  delete freed_at_exit;
}

}  // namespace

int main(int argc, char** argv) {
  // "single-thread" leaves out the threads (and so the thread-local storage glibc allocates for
  // them), for comparisons with tools that do not record those.
  bool threads_wanted = !(argc > 1 && std::string(argv[1]) == "single-thread");
  via_malloc();
  via_calloc();
  via_realloc_chain();
  via_reallocarray();
  via_aligned_functions();
  via_operator_new();
  failing_new();
  make_temporaries();
  if (threads_wanted) {
    pthread_t threads[4];
    for (auto& thread : threads) pthread_create(&thread, nullptr, thread_main, nullptr);
    for (auto& thread : threads) pthread_join(thread, nullptr);
  }
  via_mmap();
  allocate_freed_at_exit();
  atexit(free_at_exit);
  std::puts("exact_allocations done");
  return 0;
}
