// What makes read sampling safe (docs/design-notes.md, "Read sampling"): a page is made
// inaccessible only while nothing but user-mode code can touch it, and only when every byte
// allocated on it belongs to blocks the program allocated itself.
//
// One 64-bit word per page of the address space (leaves of 1 GiB are materialised on first use)
// says what the runtime knows about the page:
//  - how many live blocks lie on it, wholly or in part (the hooks count every block, small ones
//    included, from the moment read sampling is enabled);
//  - SHARED: one of those blocks was allocated by the C library or the dynamic linker for its
//    own use, or inside a wrapped call (a stdio buffer, a FILE, a DIR, NSS state): internal calls
//    no hook sees may hand it to the kernel. Sticky until the page holds no block at all, since
//    a free does not say which kind of block it ends;
//  - PINNED: never to be sampled (memory that existed before the runtime watched, a signal
//    stack, a thread stack, memory the program mprotects);
//  - a count of system calls in flight that hand the page to the kernel (taints);
//  - the protection state, changed only by compare-and-swap: IDLE -> PROTECTING (the sampler) ->
//    PROTECTED -> RELEASING (whoever restores access: the fault handler, a taint, a free) -> IDLE.
// A page may be protected when it holds at least one block, is neither SHARED nor PINNED and has
// no taint. Allocator metadata and free chunks between the blocks are touched only by malloc and
// free in user mode, whose faults the handler resolves like any other; a page whose last block
// goes is restored before the allocator may trim or unmap it.
// Every change that makes a page unsafe to protect is a read-modify-write of the same word, so it
// is ordered with the sampler's own: either the sampler sees the taint and rolls back, or the
// tainting thread sees PROTECTED (or waits out PROTECTING) and restores access before its call.
// A global pause (exec, spawn, fork, calls whose buffers cannot be known) uses a counter and a
// Dekker-style publish-then-check against the list of sampled pages.
//
// All of it is async-signal-safe: atomics and raw system calls only, no locks.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <atomic>

namespace dprof::page_guard {

constexpr uint64_t kPageSize = 4096;

namespace detail {
extern std::atomic<bool> g_enabled;
// The word directory: leaves of 1 GiB of pages, over a 48-bit user address space (nullptr until
// enable()).
using Word = std::atomic<uint64_t>;
constexpr unsigned kPageShift = 12;
constexpr unsigned kLeafShift = 30;
constexpr size_t kLeafWords = size_t{1} << (kLeafShift - kPageShift);
constexpr size_t kTopEntries = size_t{1} << (48 - kLeafShift);
extern std::atomic<Word*>* g_top;
}  // namespace detail

// Read sampling may be running in this process: hooks keep their bookkeeping only then.
inline bool enabled() {
  return detail::g_enabled.load(std::memory_order_relaxed);
}
// Before the sampler's first protection. Allocates the sampled-page list; from here on the hooks
// count blocks. Memory that already held blocks must then be pinned (pin()): those blocks were
// never counted.
bool enable();
// Read sampling stops for good in this process: everything protected is restored and nothing is
// protected again. `reason` (a static string) is kept for the trace; the first one given stays.
void disable(const char* reason);
// Why it was disabled, or nullptr.
const char* disabled_reason();
constexpr const char* kAsyncIoReason =
    "read sampling stopped: the program uses asynchronous I/O (io_uring or AIO)";

// --- Bookkeeping by the program's threads ------------------------------------------------------
// A block goes live on [start, end) (its usable extent: the same range must be removed).
// `shared`: the C library made it for its own use (see SHARED above). Pinned pages are left
// alone, both here and in remove_block, so that a block counted nowhere is removed nowhere.
void add_block(uint64_t start, uint64_t end, bool shared);
// The block on [start, end) goes away (free, munmap, realloc): a page left with no block is
// made accessible again first, and forgets that it was SHARED.
void remove_block(uint64_t start, uint64_t end);
// Whether any live block lies on `page`. Inline (below): every wrapped call asks.
inline bool has_blocks(uint64_t page);
// Never sample these pages again.
void pin(uint64_t start, uint64_t end);
// The kernel may touch [start, end) until the matching taint_end. Returns false when nothing
// needed marking (no covered page in the range): then no taint_end is needed either.
bool taint_begin(uint64_t start, uint64_t end);
void taint_end(uint64_t start, uint64_t end);
// Nothing is protected between pause_begin and pause_end, in any thread.
void pause_begin();
void pause_end();

// --- The fault handler -------------------------------------------------------------------------
// A SIGSEGV for `address` with access error: true when it was a sampled page (access is restored
// and the instruction may be retried), false when the fault is the program's own.
bool handle_fault(uint64_t address, bool is_write, uint64_t pc);

// --- The sampler (monitor thread) ---------------------------------------------------------------
enum Outcome : uint32_t {
  kOutcomeRead = 1,     // the program read the page (fault, no write bit)
  kOutcomeWrite = 2,    // the program wrote it
  kOutcomeKernel = 4,   // it was handed to the kernel (a system call's buffer)
  kOutcomeDropped = 8,  // access restored for another reason (freed, paused, pinned)
};

struct SampledPage {
  uint64_t page;
  uint32_t region;
  uint32_t outcome;   // Outcome bits
  uint64_t pc;        // of the faulting instruction, for kOutcomeRead/kOutcomeWrite
  uint64_t address;   // the address it touched (the block it belongs to is the one accessed)
  uint64_t fault_ns;  // when (monotonic), 0 when not touched by the program
  uint32_t tid;
  uint8_t code_length;
  uint8_t code[15];  // the instruction's bytes (as many as lie in pc's page)
};

// True if `page` may be protected now (covered, not pinned, not tainted, not protected).
bool eligible(uint64_t page);
// True if every page of [start, end) is the program's memory that the sampler protects or may
// protect (it holds counted blocks and is not pinned, or is protected now): what an inaccessible
// mapping there in /proc/self/maps means is a sampled page, not the program's own PROT_NONE.
bool sampler_may_protect(uint64_t start, uint64_t end);

// A sampled page lives in a slot from arm() to disarm(), over as many sampling intervals as the
// sampler likes: a page the program does not touch stays protected and costs nothing more.
constexpr uint32_t kNoSlot = UINT32_MAX;
// Protects `page` (for `region`) in a free slot; kNoSlot if it is not eligible, no slot is free,
// or a race made it unsafe.
uint32_t arm(uint64_t page, uint32_t region);
// What happened to the slot's page since it was armed, into `out`. Returns true while the page is
// still protected: nothing touched it, and it stays armed (its outcome is 0).
bool inspect(uint32_t slot, SampledPage* out);
// Restores access to the slot's page if it is still protected, and frees the slot.
void disarm(uint32_t slot);
// Disarms every slot.
void disarm_all();
// The sampled pages at once (at most this many slots).
constexpr size_t kMaxSampledPages = 8192;

// One interval's worth, for measurements and tests: begin_sampling() disarms everything,
// protect() arms a page, end_sampling() disarms every slot and copies out what happened to each
// (`out` holds at least the number of protect() successes). Returns how many.
void begin_sampling();
bool protect(uint64_t page, uint32_t region);
size_t end_sampling(SampledPage* out, size_t capacity);

// --- Process lifecycle ---------------------------------------------------------------------------
// In a fork child: the parent's sampler does not exist here; clear its states and pauses.
void reset_after_fork();

// The runtime's own memory for all this, as (start, end) pairs, for the monitor to leave out.
size_t memory_ranges(uint64_t (*out)[2], size_t capacity);

// For tests: the word of a page (0 when no leaf exists), and its fields.
uint64_t page_word(uint64_t page);
constexpr uint64_t kStateMask = 3u;
constexpr unsigned kStateShift = 0;
constexpr uint64_t kPinned = 1u << 2;
constexpr uint64_t kShared = 1u << 3;
constexpr unsigned kBlockShift = 16;
constexpr uint64_t kBlockUnit = uint64_t{1} << kBlockShift;
constexpr uint64_t kBlockMask = uint64_t{0xffff} << kBlockShift;
constexpr uint64_t kTaintUnit = uint64_t{1} << 32;
enum State : uint32_t { kIdle = 0, kProtecting = 1, kProtected = 2, kReleasing = 3 };
inline uint64_t blocks_of(uint64_t word) {
  return (word & kBlockMask) >> kBlockShift;
}

namespace detail {
// The word of `page`, or nullptr when its leaf does not exist (then nothing about it is known).
inline Word* existing_word(uint64_t page) {
  std::atomic<Word*>* top = g_top;
  size_t index = page >> kLeafShift;
  if (top == nullptr || index >= kTopEntries) return nullptr;
  Word* leaf = top[index].load(std::memory_order_acquire);
  return leaf == nullptr ? nullptr : &leaf[(page >> kPageShift) & (kLeafWords - 1)];
}
}  // namespace detail

inline bool has_blocks(uint64_t page) {
  detail::Word* word = detail::existing_word(page);
  return word != nullptr && (word->load(std::memory_order_relaxed) & kBlockMask) != 0;
}

}  // namespace dprof::page_guard
