// A hash map from addresses to values, flat in one array (open addressing, linear probing,
// deletion by backward shift, so no tombstones ever slow it down). The heap model keeps every live
// block in one: millions of inserts and erases per second, without an allocation each as
// std::unordered_map's nodes cost. Pointers to values stay valid until the next insert or erase.
// A slot is its key and value, nothing more (an empty one holds kEmpty, whose own entry, should a
// crafted trace use that address, is kept aside): with the heap model's 24-byte blocks two slots
// share a cache line, and a lookup's probe, an erasure's shift and the table's memory are halved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "huge_page_allocator.h"

namespace dprof::analyzer {

template <typename Value>
class AddressMap {
 public:
  size_t size() const { return size_; }

  Value* find(uint64_t key) {
    if (key == kEmpty) return has_empty_key_ ? &empty_key_value_ : nullptr;
    if (slots_.empty()) return nullptr;
    for (size_t i = home(key);; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.key == kEmpty) return nullptr;
      if (slot.key == key) return &slot.value;
    }
  }

  // Starts loading the slot where a lookup of `key` begins (a hint; changes nothing).
  void prefetch(uint64_t key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[home(key)]);
  }

  // False (and nothing changed) when the key is already there.
  bool insert(uint64_t key, const Value& value) {
    if (key == kEmpty) {
      if (has_empty_key_) return false;
      has_empty_key_ = true;
      empty_key_value_ = value;
      ++size_;
      return true;
    }
    if ((size_ + 1) * 2 > slots_.size()) grow();
    for (size_t i = home(key);; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.key == kEmpty) {
        slot.key = key;
        slot.value = value;
        ++size_;
        return true;
      }
      if (slot.key == key) return false;
    }
  }

  bool erase(uint64_t key) {
    Value ignored;
    return take(key, &ignored);
  }

  // Moves the key's value into `out` and erases it, in one probe; false when absent.
  bool take(uint64_t key, Value* out) {
    if (key == kEmpty) {
      if (!has_empty_key_) return false;
      *out = std::move(empty_key_value_);
      has_empty_key_ = false;
      --size_;
      return true;
    }
    if (slots_.empty()) return false;
    size_t hole = home(key);
    while (true) {
      if (slots_[hole].key == kEmpty) return false;
      if (slots_[hole].key == key) break;
      hole = (hole + 1) & mask_;
    }
    *out = std::move(slots_[hole].value);
    // Entries after the hole that could live in it move back, so every probe sequence stays
    // unbroken.
    for (size_t next = (hole + 1) & mask_; slots_[next].key != kEmpty; next = (next + 1) & mask_) {
      size_t wanted = home(slots_[next].key);
      bool stays =
          hole <= next ? (wanted > hole && wanted <= next) : (wanted > hole || wanted <= next);
      if (!stays) {
        slots_[hole] = std::move(slots_[next]);
        hole = next;
      }
    }
    slots_[hole].key = kEmpty;
    --size_;
    return true;
  }

  // Calls visit(key, value&) for every entry, in no particular order.
  template <typename Visit>
  void for_each(Visit&& visit) {
    for (Slot& slot : slots_) {
      if (slot.key != kEmpty) visit(slot.key, slot.value);
    }
    if (has_empty_key_) visit(kEmpty, empty_key_value_);
  }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  struct Slot {
    uint64_t key = kEmpty;
    Value value{};
  };

  size_t home(uint64_t key) const {
    // Fibonacci hashing: the high bits of the product mix every bit of the address.
    return static_cast<size_t>((key * 0x9e3779b97f4a7c15ull) >> shift_);
  }

  void grow() {
    std::vector<Slot, HugePageAllocator<Slot>> old = std::move(slots_);
    size_t capacity = old.empty() ? 1024 : old.size() * 2;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    shift_ = 64;
    for (size_t bits = capacity; bits > 1; bits >>= 1) --shift_;
    for (Slot& slot : old) {
      if (slot.key != kEmpty) place(slot.key, slot.value);
    }
  }

  // Puts an entry known to be absent into a table known to have room (growing).
  void place(uint64_t key, const Value& value) {
    size_t i = home(key);
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i].key = key;
    slots_[i].value = value;
  }

  std::vector<Slot, HugePageAllocator<Slot>> slots_;
  size_t size_ = 0;  // entries, the one aside included
  bool has_empty_key_ = false;
  Value empty_key_value_{};
  size_t mask_ = 0;
  unsigned shift_ = 64;
};

}  // namespace dprof::analyzer
