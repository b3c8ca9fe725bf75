// Known heap use from known functions, for the check and diff tests:
//   footprint PARSER_KIB CACHE_KIB LEAK_KIB
// leaks LEAK_KIB in one block from leak_config(), then holds PARSER_KIB (in 4 KiB blocks, from
// app::Parser::read_block) and CACHE_KIB (one block, from app::Cache::fill) at once, then frees
// them. The peak heap is the sum of the three. Prints nothing (no stdio buffer to count).
#include <cstdlib>
#include <cstring>

namespace app {

struct Parser {
  __attribute__((noinline)) static void* read_block() {
    void* block = std::malloc(4096);
    std::memset(block, 1, 4096);
    return block;
  }
};

struct Cache {
  __attribute__((noinline)) static void* fill(size_t bytes) {
    void* block = std::malloc(bytes);
    std::memset(block, 2, bytes);
    return block;
  }
};

}  // namespace app

__attribute__((noinline)) void* leak_config(size_t bytes) {
  void* block = std::malloc(bytes);
  std::memset(block, 3, bytes);
  return block;
}

volatile void* sink;

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  size_t parser_kib = std::strtoul(argv[1], nullptr, 10);
  size_t cache_kib = std::strtoul(argv[2], nullptr, 10);
  size_t leak_kib = std::strtoul(argv[3], nullptr, 10);
  if (leak_kib > 0) sink = leak_config(leak_kib << 10);
  void** blocks = static_cast<void**>(std::malloc(sizeof(void*) * (parser_kib / 4 + 1)));
  for (size_t i = 0; i < parser_kib / 4; ++i) blocks[i] = app::Parser::read_block();
  void* cache = cache_kib > 0 ? app::Cache::fill(cache_kib << 10) : nullptr;
  std::free(cache);
  for (size_t i = 0; i < parser_kib / 4; ++i) std::free(blocks[i]);
  std::free(blocks);
  return 0;
}
