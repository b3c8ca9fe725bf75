#include "page_guard.h"

#include <sys/mman.h>

#include "../internal_alloc.h"
#include "../sys.h"

namespace dprof::page_guard {
namespace detail {
std::atomic<bool> g_enabled{false};
std::atomic<Word*>* g_top = nullptr;
}  // namespace detail

namespace {

using detail::g_top;
using detail::kLeafShift;
using detail::kLeafWords;
using detail::kPageShift;
using detail::kTopEntries;
using detail::Word;

// Leaves are mapped directly (zero pages until written, so a leaf of 2 MiB costs only the pages of
// its words in use) and listed so that the monitor leaves them out of its targets.
constexpr size_t kMaxLeaves = 4096;
std::atomic<uint64_t> g_leaf_addresses[kMaxLeaves];
std::atomic<size_t> g_leaf_count{0};
std::atomic<uint32_t> g_pauses{0};
std::atomic<bool> g_disabled{false};
std::atomic<const char*> g_disabled_reason{nullptr};

// The sampled pages. Slots are filled by the sampler before it protects their page; whoever
// restores a page's access writes the outcome into its slot first. Only the sampler takes and
// frees slots; slots below g_slot_count with page 0 are free (listed in g_free_slots).
struct Slot {
  std::atomic<uint64_t> page{0};
  uint32_t region = 0;
  std::atomic<uint32_t> outcome{0};
  uint64_t pc = 0;
  uint64_t address = 0;
  uint64_t fault_ns = 0;
  uint32_t tid = 0;
  uint8_t code_length = 0;
  uint8_t code[15] = {};
};
Slot* g_slots = nullptr;
std::atomic<uint32_t> g_slot_count{0};
uint32_t* g_free_slots = nullptr;  // the sampler's alone
uint32_t g_free_count = 0;

// Faults that found their page already accessible (restored between the fault and the handler)
// are retried; repeated faults at one address with nothing of ours in the way are the program's.
__thread uint64_t tls_retried_address __attribute__((tls_model("initial-exec")));
__thread uint32_t tls_retries __attribute__((tls_model("initial-exec")));

inline uint32_t state_of(uint64_t word) {
  return static_cast<uint32_t>((word & kStateMask) >> kStateShift);
}
inline uint64_t with_state(uint64_t word, uint32_t state) {
  return (word & ~kStateMask) | (uint64_t{state} << kStateShift);
}
// At least one block, every one of them the program's, and no system call using the page.
inline bool safe_to_protect(uint64_t word) {
  return (word & kBlockMask) != 0 && (word & (kPinned | kShared)) == 0 && word < kTaintUnit;
}

// glibc puts a secondary arena's header (heap_info, then the arena's malloc_state with its
// mutex) at the start of each heap, aligned to HEAP_MAX_SIZE (64 MiB on 64-bit), on a page its
// first chunks share. A contended arena mutex is a futex wait on that page, and glibc aborts on
// the EFAULT a protected page would give: such pages are never protected.
constexpr uint64_t kArenaHeapAlignment = uint64_t{64} << 20;
inline bool may_hold_arena_header(uint64_t page) {
  return (page & (kArenaHeapAlignment - 1)) == 0;
}

void relax(unsigned& spins) {
  if (++spins < 64) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  } else {
    sys::yield_cpu();
  }
}

Word* word_for(uint64_t page, bool create) {
  if (Word* word = detail::existing_word(page)) return word;
  std::atomic<Word*>* top = g_top;
  size_t index = page >> kLeafShift;
  if (!create || top == nullptr || index >= kTopEntries) return nullptr;
  Word* leaf = top[index].load(std::memory_order_acquire);
  if (leaf == nullptr) {
    size_t slot = g_leaf_count.fetch_add(1);
    if (slot >= kMaxLeaves) {
      g_leaf_count.fetch_sub(1);
      return nullptr;  // nothing here is covered or pinned: never sampled, which is safe
    }
    auto* fresh = static_cast<Word*>(sys::map_anonymous(kLeafWords * sizeof(Word), MAP_NORESERVE));
    if (fresh == nullptr) {
      g_leaf_addresses[slot].store(0);
      return nullptr;
    }
    if (top[index].compare_exchange_strong(leaf, fresh, std::memory_order_acq_rel)) {
      leaf = fresh;
      g_leaf_addresses[slot].store(reinterpret_cast<uint64_t>(fresh));
    } else {
      sys::unmap(fresh, kLeafWords * sizeof(Word));
      g_leaf_addresses[slot].store(0);
    }
  }
  return &leaf[(page >> kPageShift) & (kLeafWords - 1)];
}

Slot* slot_for(uint64_t page) {
  uint32_t count = g_slot_count.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < count; ++i) {
    if (g_slots[i].page.load(std::memory_order_relaxed) == page) return &g_slots[i];
  }
  return nullptr;
}

void clear_state(Word* word) {
  word->fetch_and(~kStateMask, std::memory_order_release);
}

// Restores access to `page` if it is protected, waiting out a protection or release in
// progress. `outcome` goes into the page's slot when this call is the one that restores it.
void make_accessible(Word* word, uint64_t page, uint32_t outcome) {
  unsigned spins = 0;
  for (;;) {
    uint64_t value = word->load(std::memory_order_acquire);
    switch (state_of(value)) {
      case kIdle:
        return;
      case kProtected:
        if (word->compare_exchange_weak(value, with_state(value, kReleasing),
                                        std::memory_order_acq_rel)) {
          sys::protect_raw(page, kPageSize, PROT_READ | PROT_WRITE);
          if (Slot* slot = slot_for(page)) slot->outcome.fetch_or(outcome);
          clear_state(word);
          return;
        }
        break;
      default:  // kProtecting, kReleasing: another thread is between two steps
        relax(spins);
        break;
    }
  }
}

// Applies `change` to the word of every page of [start, end) that has one.
template <typename Change>
void for_each_page(uint64_t start, uint64_t end, bool create, Change&& change) {
  for (uint64_t page = start; page < end; page += kPageSize) {
    Word* word = word_for(page, create);
    if (word == nullptr) {
      // No leaf: skip to the next 1 GiB (nothing there was ever covered).
      uint64_t next = ((page >> kLeafShift) + 1) << kLeafShift;
      page = next - kPageSize;
      continue;
    }
    change(word, page);
  }
}

inline uint64_t page_down(uint64_t address) {
  return address & ~(kPageSize - 1);
}
inline uint64_t page_up(uint64_t address) {
  return (address + kPageSize - 1) & ~(kPageSize - 1);
}

}  // namespace

bool enable() {
  if (g_disabled.load()) return false;
  if (g_top == nullptr) {
    g_top = static_cast<std::atomic<Word*>*>(
        sys::map_anonymous(kTopEntries * sizeof(std::atomic<Word*>), MAP_NORESERVE));
    g_slots = static_cast<Slot*>(internal_alloc::allocate_zeroed(kMaxSampledPages, sizeof(Slot)));
    g_free_slots =
        static_cast<uint32_t*>(internal_alloc::allocate_zeroed(kMaxSampledPages, sizeof(uint32_t)));
    if (g_top == nullptr || g_slots == nullptr || g_free_slots == nullptr) return false;
  }
  detail::g_enabled.store(true, std::memory_order_seq_cst);
  return true;
}

void disable(const char* reason) {
  const char* expected = nullptr;
  g_disabled_reason.compare_exchange_strong(expected, reason);
  if (g_disabled.exchange(true)) return;
  // A pause that never ends: nothing is protected from here on.
  pause_begin();
}

const char* disabled_reason() {
  return g_disabled_reason.load();
}

void add_block(uint64_t start, uint64_t end, bool shared) {
  if (end <= start || !enabled()) return;
  for_each_page(page_down(start), page_up(end), /*create=*/true,
                [shared](Word* word, uint64_t page) {
                  uint64_t before = word->load(std::memory_order_relaxed);
                  for (;;) {
                    // (A page holds at most 4,097 blocks of a byte or more: the count never
                    // saturates.)
                    if ((before & kPinned) != 0 || (before & kBlockMask) == kBlockMask) return;
                    // One atomic step for the count and SHARED: remove_block clears SHARED only
                    // while the count is zero, so the two can never be seen apart.
                    uint64_t after = (shared ? before | kShared : before) + kBlockUnit;
                    if (word->compare_exchange_weak(before, after, std::memory_order_acq_rel))
                      break;
                  }
                  // A program block on a protected page changes nothing (the program's own accesses
                  // fault as any other); a block the C library may hand to the kernel does.
                  if (shared && state_of(before) != kIdle)
                    make_accessible(word, page, kOutcomeDropped);
                });
}

void remove_block(uint64_t start, uint64_t end) {
  if (end <= start) return;
  for_each_page(page_down(start), page_up(end), /*create=*/false, [](Word* word, uint64_t page) {
    uint64_t before = word->load(std::memory_order_relaxed);
    uint64_t after;
    for (;;) {
      // Never below zero: a block counted nowhere (pinned, or saturated) is removed nowhere.
      if ((before & kPinned) != 0 || (before & kBlockMask) == 0) return;
      after = before - kBlockUnit;
      if ((after & kBlockMask) == 0) after &= ~kShared;
      if (word->compare_exchange_weak(before, after, std::memory_order_acq_rel)) break;
    }
    // The last block went: the allocator may now trim or unmap the page, which must not stay
    // protected behind its back.
    if ((after & kBlockMask) == 0 && state_of(after) != kIdle) {
      make_accessible(word, page, kOutcomeDropped);
    }
  });
}

void pin(uint64_t start, uint64_t end) {
  uint64_t first = page_down(start);
  uint64_t last = page_up(end);
  if (first >= last || g_top == nullptr) return;
  for_each_page(first, last, /*create=*/true, [](Word* word, uint64_t page) {
    uint64_t before = word->fetch_or(kPinned, std::memory_order_acq_rel);
    if (state_of(before) != kIdle) make_accessible(word, page, kOutcomeDropped);
  });
}

bool taint_begin(uint64_t start, uint64_t end) {
  uint64_t first = page_down(start);
  uint64_t last = page_up(end);
  if (first >= last || end < start) return false;
  bool marked = false;
  for_each_page(first, last, /*create=*/false, [&marked](Word* word, uint64_t page) {
    // A page that holds no block is never protected, and cannot gain one while the program
    // hands it to the kernel: memory handed over is a live block (which keeps its pages
    // counted), a stack, static data, or a pinned page, never a free chunk. Nothing to mark.
    if ((word->load(std::memory_order_relaxed) & kBlockMask) == 0) return;
    uint64_t before = word->fetch_add(kTaintUnit, std::memory_order_acq_rel);
    marked = true;
    if (state_of(before) != kIdle) make_accessible(word, page, kOutcomeKernel);
  });
  return marked;
}

void taint_end(uint64_t start, uint64_t end) {
  uint64_t first = page_down(start);
  uint64_t last = page_up(end);
  if (first >= last || end < start) return;
  for_each_page(first, last, /*create=*/false, [](Word* word, uint64_t) {
    uint64_t value = word->load(std::memory_order_relaxed);
    // taint_begin marked only pages with blocks; one without them then carries no count of
    // this call's (and a count never goes below zero).
    while (value >= kTaintUnit && (value & kBlockMask) != 0) {
      if (word->compare_exchange_weak(value, value - kTaintUnit, std::memory_order_acq_rel)) {
        return;
      }
    }
  });
}

void pause_begin() {
  g_pauses.fetch_add(1, std::memory_order_seq_cst);
  if (g_slots == nullptr) return;
  uint32_t count = g_slot_count.load(std::memory_order_seq_cst);
  for (uint32_t i = 0; i < count && i < kMaxSampledPages; ++i) {
    // seq_cst: ordered with arm()'s publication of a reused slot (see there).
    uint64_t page = g_slots[i].page.load(std::memory_order_seq_cst);
    if (page == 0) continue;
    if (Word* word = word_for(page, false)) make_accessible(word, page, kOutcomeDropped);
  }
}

void pause_end() {
  g_pauses.fetch_sub(1, std::memory_order_seq_cst);
}

bool handle_fault(uint64_t address, bool is_write, uint64_t pc) {
  uint64_t page = page_down(address);
  Word* word = word_for(page, false);
  if (word == nullptr) return false;
  unsigned spins = 0;
  bool waited = false;  // saw the page protected, or being protected or released, just now
  for (;;) {
    uint64_t value = word->load(std::memory_order_acquire);
    uint32_t state = state_of(value);
    if (state == kProtected) {
      if (!word->compare_exchange_weak(value, with_state(value, kReleasing),
                                       std::memory_order_acq_rel)) {
        continue;
      }
      sys::protect_raw(page, kPageSize, PROT_READ | PROT_WRITE);
      if (Slot* slot = slot_for(page)) {
        slot->pc = pc;
        slot->address = address;
        slot->fault_ns = sys::monotonic_ns();
        slot->tid = static_cast<uint32_t>(sys::current_tid());
        // The instruction's bytes, as far as they lie in its own (mapped, executable) page.
        uint64_t room = kPageSize - (pc & (kPageSize - 1));
        uint8_t length =
            static_cast<uint8_t>(room < sizeof(slot->code) ? room : sizeof(slot->code));
        const auto* code = reinterpret_cast<const uint8_t*>(pc);
        for (uint8_t i = 0; pc != 0 && i < length; ++i) slot->code[i] = code[i];
        slot->code_length = pc == 0 ? 0 : length;
        slot->outcome.fetch_or(is_write ? kOutcomeWrite : kOutcomeRead, std::memory_order_release);
      }
      clear_state(word);
      tls_retried_address = 0;
      return true;
    }
    if (state == kIdle) {
      if (waited) {
        // Released by another thread while this one waited: the access can go ahead now.
        tls_retried_address = 0;
        return true;
      }
      // Restored between the fault and this handler, or not ours at all. A page with blocks of
      // the program's is plain read-write memory that only the sampler ever makes
      // inaccessible, so it is retried (a bounded number of times); any other page once.
      if (tls_retried_address != address) {
        tls_retried_address = address;
        tls_retries = 0;
      }
      bool ours_only = (value & kBlockMask) != 0 && (value & kPinned) == 0;
      if (++tls_retries <= (ours_only ? 10000u : 1u)) return true;
      tls_retried_address = 0;
      return false;
    }
    waited = true;
    relax(spins);
  }
}

bool eligible(uint64_t page) {
  if (may_hold_arena_header(page)) return false;
  Word* word = word_for(page, false);
  if (word == nullptr) return false;
  uint64_t value = word->load(std::memory_order_relaxed);
  return safe_to_protect(value) && state_of(value) == kIdle;
}

namespace {
// A slot whose page is accessible again (its outcome final).
void copy_out(const Slot& slot, uint64_t page, SampledPage* out) {
  out->page = page;
  out->region = slot.region;
  out->outcome = slot.outcome.load(std::memory_order_acquire);
  out->pc = slot.pc;
  out->address = slot.address;
  out->fault_ns = slot.fault_ns;
  out->tid = slot.tid;
  out->code_length = slot.code_length;
  for (uint8_t b = 0; b < slot.code_length && b < sizeof(out->code); ++b) {
    out->code[b] = slot.code[b];
  }
}
}  // namespace

uint32_t arm(uint64_t page, uint32_t region) {
  if (g_slots == nullptr || g_disabled.load(std::memory_order_relaxed)) return kNoSlot;
  if (may_hold_arena_header(page)) return kNoSlot;
  Word* word = word_for(page, false);
  if (word == nullptr) return kNoSlot;
  uint64_t value = word->load(std::memory_order_acquire);
  if (!safe_to_protect(value) || state_of(value) != kIdle) return kNoSlot;
  bool reused = g_free_count > 0;
  uint32_t index =
      reused ? g_free_slots[g_free_count - 1] : g_slot_count.load(std::memory_order_relaxed);
  if (index >= kMaxSampledPages) return kNoSlot;
  // Publish the slot before the state change (pause_begin finds pages through the slots): a
  // reused slot by its page, a new one by the count too, both seq_cst, so that either the pause
  // sees the slot or this sees the pause.
  Slot& slot = g_slots[index];
  slot.region = region;
  slot.outcome.store(0, std::memory_order_relaxed);
  slot.pc = 0;
  slot.address = 0;
  slot.fault_ns = 0;
  slot.tid = 0;
  slot.code_length = 0;
  slot.page.store(page, std::memory_order_seq_cst);
  if (reused) {
    --g_free_count;
  } else {
    g_slot_count.store(index + 1, std::memory_order_seq_cst);
  }
  // Undoes the publication when the page could not be protected: a free slot holds no page.
  auto give_up = [&] {
    slot.page.store(0, std::memory_order_seq_cst);
    g_free_slots[g_free_count++] = index;
    return kNoSlot;
  };
  if (!word->compare_exchange_strong(value, with_state(value, kProtecting),
                                     std::memory_order_seq_cst)) {
    return give_up();
  }
  if (g_pauses.load(std::memory_order_seq_cst) != 0) {
    clear_state(word);
    return give_up();
  }
  if (sys::protect_raw(page, kPageSize, PROT_NONE) != 0) {
    clear_state(word);
    return give_up();
  }
  for (;;) {
    value = word->load(std::memory_order_acquire);
    if (safe_to_protect(value) && g_pauses.load(std::memory_order_seq_cst) == 0) {
      if (word->compare_exchange_weak(value, with_state(value, kProtected),
                                      std::memory_order_seq_cst)) {
        return index;
      }
      continue;
    }
    // Tainted, freed or paused while being protected: undo.
    sys::protect_raw(page, kPageSize, PROT_READ | PROT_WRITE);
    clear_state(word);
    return give_up();
  }
}

bool inspect(uint32_t index, SampledPage* out) {
  *out = SampledPage{};
  if (g_slots == nullptr || index >= g_slot_count.load(std::memory_order_relaxed)) return false;
  Slot& slot = g_slots[index];
  uint64_t page = slot.page.load(std::memory_order_relaxed);
  Word* word = page == 0 ? nullptr : word_for(page, false);
  if (word == nullptr) return false;
  // A release in progress (a fault, a taint, a free) writes the outcome before it ends: wait it
  // out, so that the slot is read whole. Only this thread protects, so PROTECTING is not seen.
  bool armed = false;
  unsigned spins = 0;
  for (;;) {
    uint32_t state = state_of(word->load(std::memory_order_acquire));
    if (state == kProtected) {
      armed = true;
      break;
    }
    if (state == kIdle) break;
    relax(spins);
  }
  if (armed) {
    // It may be touched any moment from now: that is the next interval's.
    out->page = page;
    out->region = slot.region;
    return true;
  }
  copy_out(slot, page, out);
  return false;
}

void disarm(uint32_t index) {
  if (g_slots == nullptr || index >= g_slot_count.load(std::memory_order_relaxed)) return;
  Slot& slot = g_slots[index];
  uint64_t page = slot.page.load(std::memory_order_relaxed);
  if (page == 0) return;
  if (Word* word = word_for(page, false)) make_accessible(word, page, 0);
  // After make_accessible no release of this page is under way: nobody writes the slot now.
  slot.page.store(0, std::memory_order_seq_cst);
  g_free_slots[g_free_count++] = index;
}

void disarm_all() {
  // From the top, so that the free slots are taken again lowest first.
  for (uint32_t i = g_slot_count.load(std::memory_order_relaxed); i > 0; --i) disarm(i - 1);
}

bool sampler_may_protect(uint64_t start, uint64_t end) {
  if (end <= start) return false;
  for (uint64_t page = page_down(start); page < end; page += kPageSize) {
    Word* word = word_for(page, false);
    if (word == nullptr) return false;
    uint64_t value = word->load(std::memory_order_relaxed);
    if ((value & kPinned) != 0) return false;
    if ((value & kBlockMask) == 0 && state_of(value) == kIdle) return false;
  }
  return true;
}

void begin_sampling() {
  disarm_all();
}

bool protect(uint64_t page, uint32_t region) {
  return arm(page, region) != kNoSlot;
}

size_t end_sampling(SampledPage* out, size_t capacity) {
  uint32_t count = g_slot_count.load(std::memory_order_acquire);
  size_t written = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t page = g_slots[i].page.load(std::memory_order_relaxed);
    Word* word = page == 0 ? nullptr : word_for(page, false);
    if (word == nullptr) continue;
    make_accessible(word, page, 0);  // the outcome is final from here
    if (written < capacity) copy_out(g_slots[i], page, &out[written++]);
  }
  disarm_all();
  return written;
}

void reset_after_fork() {
  // The fork happened inside a pause (see lifecycle.cpp): nothing is protected, but a slot's page
  // may carry a state the parent's sampler was about to roll back.
  uint32_t count = g_slot_count.load();
  for (uint32_t i = 0; i < count && g_slots != nullptr; ++i) {
    uint64_t page = g_slots[i].page.load();
    if (Word* word = page == 0 ? nullptr : word_for(page, false)) clear_state(word);
    g_slots[i].page.store(0);
  }
  g_slot_count.store(0);
  g_free_count = 0;
  g_pauses.store(g_disabled.load() ? 1 : 0);
}

size_t memory_ranges(uint64_t (*out)[2], size_t capacity) {
  size_t count = 0;
  if (g_top != nullptr && count < capacity) {
    out[count][0] = reinterpret_cast<uint64_t>(g_top);
    out[count][1] = out[count][0] + kTopEntries * sizeof(std::atomic<Word*>);
    ++count;
  }
  size_t leaves = g_leaf_count.load();
  for (size_t i = 0; i < leaves && i < kMaxLeaves && count < capacity; ++i) {
    uint64_t leaf = g_leaf_addresses[i].load();
    if (leaf == 0) continue;
    out[count][0] = leaf;
    out[count][1] = leaf + kLeafWords * sizeof(Word);
    ++count;
  }
  return count;
}

uint64_t page_word(uint64_t page) {
  Word* word = word_for(page, false);
  return word == nullptr ? 0 : word->load();
}

}  // namespace dprof::page_guard
