#include "partition/chip_ledger.h"

#include <gtest/gtest.h>

#include <random>

namespace flexai::partition {
namespace {

ChipCapacity Capacity(int64_t mib, double oversub = 1.0, int max_slices = 1 << 20) {
  ChipCapacity c;
  c.memory_mib = mib;
  c.memory_oversubscription = oversub;
  c.max_slices = max_slices;
  return c;
}

TEST(ChipLedger, AllocateIsIdempotentPerOwner) {
  ChipLedger ledger(Capacity(1000));
  Owner a{"pod-a", "main"};
  ASSERT_TRUE(ledger.Allocate(a, {400, 30, false}).ok());
  ASSERT_TRUE(ledger.Allocate(a, {400, 30, false}).ok());
  EXPECT_EQ(ledger.used_memory_mib(), 400);
  EXPECT_EQ(ledger.used_cores(), 30);
  EXPECT_EQ(ledger.slices().size(), 1u);
}

TEST(ChipLedger, SameOwnerWithDifferentAmountsIsRefused) {
  ChipLedger ledger(Capacity(1000));
  Owner a{"pod-a", "main"};
  ASSERT_TRUE(ledger.Allocate(a, {400, 30, false}).ok());
  Status s = ledger.Allocate(a, {500, 30, false});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("different slice"), std::string::npos);
  EXPECT_EQ(ledger.used_memory_mib(), 400);
}

TEST(ChipLedger, RefusesPastCapacityAndKeepsState) {
  ChipLedger ledger(Capacity(1000));
  ASSERT_TRUE(ledger.Allocate({"a", "c"}, {600, 60, false}).ok());
  Status s = ledger.Allocate({"b", "c"}, {500, 10, false});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not fit"), std::string::npos);
  EXPECT_FALSE(ledger.Allocate({"b", "c"}, {100, 50, false}).ok());
  EXPECT_EQ(ledger.slices().size(), 1u);
  EXPECT_EQ(ledger.free_memory_mib(), 400);
  EXPECT_EQ(ledger.free_cores(), 40);
}

TEST(ChipLedger, OversubscriptionScalesMemoryOnly) {
  ChipLedger ledger(Capacity(1000, 1.5));
  ASSERT_TRUE(ledger.Allocate({"a", "c"}, {800, 40, false}).ok());
  ASSERT_TRUE(ledger.Allocate({"b", "c"}, {700, 60, false}).ok());
  EXPECT_FALSE(ledger.Allocate({"c", "c"}, {1, 1, false}).ok());
}

TEST(ChipLedger, ExclusiveNeedsEmptyChipAndBlocksOthers) {
  ChipLedger ledger(Capacity(1000));
  ASSERT_TRUE(ledger.Allocate({"a", "c"}, {100, 10, false}).ok());
  EXPECT_FALSE(ledger.Allocate({"x", "c"}, {1000, 100, true}).ok());
  ASSERT_TRUE(ledger.Release({"a", "c"}));
  ASSERT_TRUE(ledger.Allocate({"x", "c"}, {1000, 100, true}).ok());
  EXPECT_FALSE(ledger.Allocate({"b", "c"}, {0, 0, false}).ok());
  ASSERT_TRUE(ledger.Release({"x", "c"}));
  EXPECT_FALSE(ledger.held_exclusively());
}

TEST(ChipLedger, MaxSlicesIsEnforced) {
  ChipLedger ledger(Capacity(1000, 1.0, 2));
  ASSERT_TRUE(ledger.Allocate({"a", "c"}, {10, 1, false}).ok());
  ASSERT_TRUE(ledger.Allocate({"b", "c"}, {10, 1, false}).ok());
  EXPECT_FALSE(ledger.Allocate({"c", "c"}, {10, 1, false}).ok());
}

TEST(ChipLedger, ReleaseIsIdempotent) {
  ChipLedger ledger(Capacity(1000));
  ASSERT_TRUE(ledger.Allocate({"a", "c"}, {100, 10, false}).ok());
  EXPECT_TRUE(ledger.Release({"a", "c"}));
  EXPECT_FALSE(ledger.Release({"a", "c"}));
  EXPECT_EQ(ledger.used_memory_mib(), 0);
  EXPECT_EQ(ledger.used_cores(), 0);
}

// Random operation sequences never push a chip past capacity, and the counters always equal the
// sum of the slices held.
TEST(ChipLedger, InvariantsHoldUnderRandomOperations) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    ChipLedger ledger(Capacity(16000, seed % 2 ? 1.0 : 1.5, 8));
    for (int step = 0; step < 2000; ++step) {
      Owner owner{"pod-" + std::to_string(rng() % 12), "c" + std::to_string(rng() % 2)};
      if (rng() % 3 == 0) {
        ledger.Release(owner);
      } else {
        bool exclusive = rng() % 10 == 0;
        ChipDemand d{exclusive ? 16000 : static_cast<int64_t>(rng() % 6000),
                     exclusive ? 100 : static_cast<int>(rng() % 60), exclusive};
        (void)ledger.Allocate(owner, d);
      }
      int64_t mem = 0;
      int cores = 0;
      bool exclusive = false;
      for (const auto& s : ledger.slices()) {
        mem += s.memory_mib;
        cores += s.cores;
        exclusive = exclusive || s.exclusive;
      }
      ASSERT_EQ(mem, ledger.used_memory_mib());
      ASSERT_EQ(cores, ledger.used_cores());
      ASSERT_LE(mem, ledger.capacity().memory_limit_mib());
      ASSERT_LE(cores, 100);
      ASSERT_LE(ledger.slices().size(), 8u);
      if (exclusive) {
        ASSERT_EQ(ledger.slices().size(), 1u);
      }
    }
  }
}

}  // namespace
}  // namespace flexai::partition
