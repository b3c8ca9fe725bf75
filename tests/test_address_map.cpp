#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>

#include "address_map.h"

using dprof::analyzer::AddressMap;

namespace {

struct Payload {
  uint64_t size = 0;
  uint64_t stack = 0;
};

// Heap-like keys: 16-byte aligned addresses in a few clustered ranges, so that probe sequences
// collide and erasures must shift entries back.
uint64_t heap_address(std::mt19937_64& random) {
  uint64_t base = (random() % 4) << 32;
  return base + (random() % (1u << 20)) * 16;
}

}  // namespace

TEST(AddressMap, AgreesWithAReferenceMapThroughMillionsOfRandomChanges) {
  AddressMap<Payload> map;
  std::unordered_map<uint64_t, Payload> reference;
  std::mt19937_64 random(7);
  for (int step = 0; step < 2000000; ++step) {
    uint64_t key = heap_address(random);
    if (random() % 3 != 0) {
      Payload payload{random() % 1000, random() % 50};
      bool inserted = map.insert(key, payload);
      ASSERT_EQ(inserted, reference.emplace(key, payload).second) << "step " << step;
    } else {
      Payload taken;
      bool found = map.take(key, &taken);
      auto expected = reference.find(key);
      ASSERT_EQ(found, expected != reference.end()) << "step " << step;
      if (found) {
        EXPECT_EQ(taken.size, expected->second.size);
        EXPECT_EQ(taken.stack, expected->second.stack);
        reference.erase(expected);
      }
    }
  }
  // Hundreds of thousands of entries: the table is large enough to live in its own mapping.
  ASSERT_GT(reference.size(), 100000u);
  ASSERT_EQ(map.size(), reference.size());
  for (const auto& [key, payload] : reference) {
    Payload* found = map.find(key);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->size, payload.size);
    EXPECT_EQ(found->stack, payload.stack);
  }
  size_t visited = 0;
  map.for_each([&](uint64_t key, Payload& payload) {
    ++visited;
    EXPECT_EQ(reference.at(key).size, payload.size);
  });
  EXPECT_EQ(visited, reference.size());
}

TEST(AddressMap, EveryKeyIsAKeyEvenZeroAndTheLargest) {
  AddressMap<Payload> map;
  EXPECT_EQ(map.find(0), nullptr);
  EXPECT_FALSE(map.erase(0));
  EXPECT_TRUE(map.insert(0, {1, 2}));
  EXPECT_TRUE(map.insert(UINT64_MAX, {3, 4}));
  EXPECT_FALSE(map.insert(0, {5, 6}));
  ASSERT_NE(map.find(0), nullptr);
  EXPECT_EQ(map.find(0)->size, 1u);
  EXPECT_EQ(map.find(UINT64_MAX)->stack, 4u);
  EXPECT_TRUE(map.erase(0));
  EXPECT_EQ(map.find(0), nullptr);
  EXPECT_EQ(map.size(), 1u);
}
