// Uses the annotation API (include/damon_prof/annotate.h), for the annotation tests:
//   annotated
// Marker "start"; phase "load" (1 MiB from load_table, kept) with a nested begin/end of itself;
// phase "work" three times (256 KiB from work_buffer each, freed); a custom arena: one 1 MiB
// malloc'ed chunk (arena_create) carved into 100 blocks of 1000 bytes (make_node) and one of
// 64 KiB (make_buffer), 50 nodes freed one by one, the rest ended when the arena is freed;
// markers "arena built" and "done". Each phase lasts at least 30 ms so that RSS samples can fall in
// it.
#include <time.h>

#include <cstdlib>
#include <cstring>

#include "damon_prof/annotate.h"

namespace {

volatile void* sink;

void pause_ms(long milliseconds) {
  timespec delay{0, milliseconds * 1000000};
  nanosleep(&delay, nullptr);
}

__attribute__((noinline)) void* load_table() {
  void* table = std::malloc(1 << 20);
  std::memset(table, 1, 1 << 20);
  return table;
}

__attribute__((noinline)) void work_buffer() {
  void* buffer = std::malloc(256 << 10);
  std::memset(buffer, 2, 256 << 10);
  sink = buffer;
  pause_ms(30);
  std::free(buffer);
}

struct Arena {
  char* chunk;
  size_t used;
};

__attribute__((noinline)) Arena arena_create() {
  Arena arena{static_cast<char*>(std::malloc(1 << 20)), 0};
  return arena;
}

void* arena_alloc(Arena& arena, size_t size) {
  void* block = arena.chunk + arena.used;
  arena.used += (size + 15) / 16 * 16;
  damon_prof_custom_alloc(block, size);
  return block;
}

__attribute__((noinline)) void* make_node(Arena& arena) {
  return arena_alloc(arena, 1000);
}
__attribute__((noinline)) void* make_buffer(Arena& arena) {
  return arena_alloc(arena, 64 << 10);
}

}  // namespace

int main() {
  damon_prof_marker("start");
  damon_prof_phase_begin("load");
  damon_prof_phase_begin("load");  // nested: the phase stays one span
  sink = load_table();
  pause_ms(30);
  damon_prof_phase_end("load");
  damon_prof_phase_end("load");
  for (int round = 0; round < 3; ++round) {
    damon_prof::Phase phase("work");
    work_buffer();
  }
  Arena arena = arena_create();
  void* nodes[100];
  for (void*& node : nodes) node = make_node(arena);
  sink = make_buffer(arena);
  for (int i = 0; i < 50; ++i) damon_prof_custom_free(nodes[i]);
  damon_prof_marker("arena built");
  pause_ms(30);
  std::free(arena.chunk);
  damon_prof_marker("done");
  return 0;
}
