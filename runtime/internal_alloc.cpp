#include "internal_alloc.h"

#include <string.h>

#include <atomic>

#include "spin_lock.h"
#include "sys.h"

namespace dprof::internal_alloc {

namespace detail {
std::atomic<char*> g_base{nullptr};
}  // namespace detail

namespace {

// Power-of-two size classes from 16 bytes to 1 GiB. Blocks carry a 16-byte header holding their
// class so that free and realloc need no lookup. Freed blocks go on per-class free lists; memory is
// handed out from the reserved range by a bump pointer and never returned to the kernel.
constexpr size_t kHeaderSize = 16;
constexpr int kMinClassShift = 4;
constexpr int kClassCount = 27;  // 2^4 .. 2^30

struct BlockHeader {
  uint32_t size_class;
  uint32_t alignment_padding;  // bytes between the raw block and this header
  uint64_t reserved;
};

struct FreeBlock {
  FreeBlock* next;
};

struct State {
  char* limit = nullptr;
  std::atomic<size_t> bump{0};
  SpinLock reserve_lock;
  SpinLock class_locks[kClassCount];
  FreeBlock* free_lists[kClassCount] = {};
  std::atomic<size_t> in_use{0};
};

State state;

char* reserved_base() {
  char* base = detail::g_base.load(std::memory_order_acquire);
  if (base != nullptr) return base;
  SpinGuard guard(state.reserve_lock);
  base = detail::g_base.load(std::memory_order_relaxed);
  if (base == nullptr) {
    // MAP_NORESERVE: only the pages actually used are committed.
    base = static_cast<char*>(sys::map_anonymous(kReservedBytes, MAP_NORESERVE));
    if (base == nullptr) return nullptr;
    state.limit = base + kReservedBytes;
    detail::g_base.store(base, std::memory_order_release);
  }
  return base;
}

int class_for(size_t total) {
  int size_class = 0;
  size_t class_size = size_t{1} << kMinClassShift;
  while (class_size < total) {
    class_size <<= 1;
    if (++size_class >= kClassCount) return -1;
  }
  return size_class;
}

size_t class_bytes(int size_class) {
  return size_t{1} << (size_class + kMinClassShift);
}

void* take_block(int size_class) {
  {
    SpinGuard guard(state.class_locks[size_class]);
    FreeBlock* block = state.free_lists[size_class];
    if (block != nullptr) {
      state.free_lists[size_class] = block->next;
      return block;
    }
  }
  char* base = reserved_base();
  if (base == nullptr) return nullptr;
  size_t bytes = class_bytes(size_class);
  size_t offset = state.bump.fetch_add(bytes, std::memory_order_relaxed);
  if (offset + bytes > kReservedBytes) return nullptr;
  return base + offset;
}

BlockHeader* header_of(const void* block) {
  return reinterpret_cast<BlockHeader*>(const_cast<char*>(static_cast<const char*>(block)) -
                                        kHeaderSize);
}

}  // namespace

void* allocate(size_t size, size_t alignment) {
  if (alignment < 16) alignment = 16;
  if ((alignment & (alignment - 1)) != 0) return nullptr;
  size_t total = size + kHeaderSize + (alignment - 16);
  if (total < size) return nullptr;
  int size_class = class_for(total);
  if (size_class < 0) return nullptr;
  char* raw = static_cast<char*>(take_block(size_class));
  if (raw == nullptr) return nullptr;
  uintptr_t user = (reinterpret_cast<uintptr_t>(raw) + kHeaderSize + alignment - 1) &
                   ~static_cast<uintptr_t>(alignment - 1);
  auto* header = reinterpret_cast<BlockHeader*>(user - kHeaderSize);
  header->size_class = static_cast<uint32_t>(size_class);
  header->alignment_padding = static_cast<uint32_t>(reinterpret_cast<char*>(header) - raw);
  state.in_use.fetch_add(class_bytes(size_class), std::memory_order_relaxed);
  return reinterpret_cast<void*>(user);
}

void* allocate_zeroed(size_t count, size_t size) {
  size_t total = 0;
  if (__builtin_mul_overflow(count, size, &total)) return nullptr;
  void* block = allocate(total);
  // Reused blocks hold old data; fresh ones are already zero but clearing is cheap enough here.
  if (block != nullptr) memset(block, 0, total);
  return block;
}

size_t usable_size(const void* block) {
  const BlockHeader* header = header_of(block);
  return class_bytes(static_cast<int>(header->size_class)) - kHeaderSize -
         header->alignment_padding;
}

void release(void* block) {
  if (block == nullptr) return;
  BlockHeader* header = header_of(block);
  int size_class = static_cast<int>(header->size_class);
  auto* raw =
      reinterpret_cast<FreeBlock*>(reinterpret_cast<char*>(header) - header->alignment_padding);
  state.in_use.fetch_sub(class_bytes(size_class), std::memory_order_relaxed);
  SpinGuard guard(state.class_locks[size_class]);
  raw->next = state.free_lists[size_class];
  state.free_lists[size_class] = raw;
}

void* reallocate(void* block, size_t size) {
  if (block == nullptr) return allocate(size);
  size_t old_size = usable_size(block);
  if (size <= old_size) return block;
  void* grown = allocate(size);
  if (grown == nullptr) return nullptr;
  memcpy(grown, block, old_size);
  release(block);
  return grown;
}

void reserved_range(uint64_t* start, uint64_t* end) {
  auto base = reinterpret_cast<uint64_t>(detail::g_base.load(std::memory_order_acquire));
  *start = base;
  *end = base == 0 ? 0 : base + kReservedBytes;
}

void used_range(uint64_t* start, uint64_t* end) {
  auto base = reinterpret_cast<uint64_t>(detail::g_base.load(std::memory_order_acquire));
  size_t bump = state.bump.load(std::memory_order_relaxed);
  *start = base;
  *end = base == 0 ? 0 : base + (bump < kReservedBytes ? bump : kReservedBytes);
}

size_t bytes_in_use() {
  return state.in_use.load(std::memory_order_relaxed);
}

void lock_all_for_fork() {
  state.reserve_lock.lock();
  for (SpinLock& lock : state.class_locks) lock.lock();
}

void unlock_all_after_fork(bool in_child) {
  for (SpinLock& lock : state.class_locks) {
    if (in_child) {
      lock.reset_after_fork();
    } else {
      lock.unlock();
    }
  }
  if (in_child) {
    state.reserve_lock.reset_after_fork();
  } else {
    state.reserve_lock.unlock();
  }
}

}  // namespace dprof::internal_alloc
