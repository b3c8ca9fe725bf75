// Allocation sites of very different shapes, for checking that allocation sampling's per-site
// estimates agree with exact mode (tests/test_sampling.cpp): many tiny short-lived blocks, medium
// blocks held until the end, blocks near and far above the sampling rate, operator new, realloc
// growth, and a leak. Deterministic: the same calls every run.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

volatile unsigned char g_sink;

void touch(void* block, size_t size) {
  auto* bytes = static_cast<unsigned char*>(block);
  bytes[0] = 1;
  g_sink = bytes[size - 1];
}

__attribute__((noinline)) void tiny_blocks() {
  for (int i = 0; i < 400000; ++i) {
    void* block = malloc(40);
    touch(block, 40);
    free(block);
  }
}

// Static arrays hold the kept blocks: no other allocation in these functions.
void* g_medium[16000];
void* g_huge[4];

__attribute__((noinline)) void medium_blocks() {
  for (void*& block : g_medium) {
    block = malloc(1000);
    touch(block, 1000);
  }
}

__attribute__((noinline)) void large_blocks() {
  for (int i = 0; i < 400; ++i) {
    void* block = malloc(40000);
    touch(block, 40000);
    free(block);
  }
}

__attribute__((noinline)) void huge_blocks() {
  for (void*& block : g_huge) {
    block = malloc(4u << 20);
    memset(block, 1, 4096);
  }
}

struct Node {
  char payload[80];
};

__attribute__((noinline)) void new_blocks() {
  for (int i = 0; i < 200000; ++i) {
    Node* node = new Node;
    node->payload[0] = 1;
    g_sink = static_cast<unsigned char>(node->payload[0]);
    delete node;
  }
}

__attribute__((noinline)) void growing_blocks() {
  for (int i = 0; i < 2000; ++i) {
    void* block = nullptr;
    for (size_t size = 64; size <= 8192; size *= 2) block = realloc(block, size);
    touch(block, 8192);
    free(block);
  }
}

__attribute__((noinline)) void leaky_blocks() {
  for (int i = 0; i < 20000; ++i) {
    void* block = malloc(512);
    touch(block, 512);
  }
}

}  // namespace

int main() {
  tiny_blocks();
  medium_blocks();
  large_blocks();
  huge_blocks();
  new_blocks();
  growing_blocks();
  leaky_blocks();
  for (void* block : g_medium) free(block);
  for (void* block : g_huge) free(block);
  std::puts("sampled_sites done");
  return 0;
}
