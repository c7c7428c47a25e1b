#include "partition/quota/quota_check.h"

#include <gtest/gtest.h>

namespace flexai::partition {
namespace {

PodRequest Ask(int chips, int64_t memory_mib, int cores, int memory_percent = 0) {
  PodRequest p;
  p.uid = "new";
  SliceRequest s;
  s.chips = chips;
  s.memory_mib = memory_mib;
  s.cores = cores;
  s.memory_percent = memory_percent;
  p.containers.push_back({"main", s});
  return p;
}

TEST(QuotaCheck, MessageNamesTheLimitTheUseTheAskAndTheExcess) {
  NamespaceQuota quota;
  quota.memory_mib = 32768;
  Status s = CheckQuota("team-a", quota, {1, 30000, 50}, {1, 8192, 0});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "namespace team-a: quota memoryMiB 32768 MiB, in use 30000 MiB, this pod asks "
            "8192 MiB: over by 5424 MiB");
}

TEST(QuotaCheck, ChipsAndCoresLimitsSayTheirUnits) {
  NamespaceQuota quota;
  quota.chips = 4;
  quota.cores = 400;
  EXPECT_EQ(CheckQuota("ml", quota, {3, 0, 100}, {2, 0, 50}).message(),
            "namespace ml: quota chips 4 chip(s), in use 3 chip(s), this pod asks 2 chip(s): over "
            "by 1 chip(s)");
  EXPECT_EQ(CheckQuota("ml", quota, {1, 0, 350}, {1, 0, 100}).message(),
            "namespace ml: quota cores 400%, in use 350%, this pod asks 100%: over by 50%");
}

TEST(QuotaCheck, ExactlyReachingALimitIsAllowedAndUnsetLimitsNeverRefuse) {
  NamespaceQuota quota;
  quota.memory_mib = 32768;
  EXPECT_TRUE(CheckQuota("a", quota, {0, 24576, 0}, {9, 8192, 900}).ok());
  EXPECT_TRUE(CheckQuota("a", NamespaceQuota{}, {100, 1 << 30, 10000}, {8, 8, 800}).ok());
  NamespaceQuota none;
  none.chips = 0;
  EXPECT_FALSE(CheckQuota("a", none, {}, {1, 0, 0}).ok());
}

TEST(QuotaCheck, AmountsOfAPlacedPodSumItsGrants) {
  PodAssignment a;
  a.containers = {{"main", {{0, "GPU-0", 10000, 30, false}, {1, "GPU-1", 10000, 30, false}}},
                  {"side", {{2, "GPU-2", 80000, 100, true}}}};
  EXPECT_EQ(AmountsOf(a), (QuotaAmounts{3, 100000, 160}));
}

TEST(QuotaCheck, MinimumAskCountsChipsCoresAndMemoryGivenInMib) {
  EXPECT_EQ(MinimumAsk(Ask(2, 8000, 25)), (QuotaAmounts{2, 16000, 50}));
  EXPECT_EQ(MinimumAsk(Ask(1, 0, 0)), (QuotaAmounts{1, 0, 100}));  // a whole chip
  EXPECT_FALSE(MemoryDependsOnChip(Ask(2, 8000, 25)));
  EXPECT_TRUE(MemoryDependsOnChip(Ask(1, 0, 0, 50)));
}

TEST(QuotaCheck, ChipDependentMemoryIsResolvedOnTheSmallestAcceptingChip) {
  std::vector<Chip> chips(2);
  chips[0].uuid = "GPU-big";
  chips[0].memory_mib = 80000;
  chips[1].index = 1;
  chips[1].uuid = "GPU-small";
  chips[1].memory_mib = 40000;
  std::vector<ChipCapacity> caps(2);
  caps[0].memory_mib = 80000;
  caps[1].memory_mib = 40000;
  NodeState node("n1", {1000, 1000}, chips, caps);
  EXPECT_EQ(MinimumAsk(Ask(1, 0, 0, 50), &node).memory_mib, 20000);
  EXPECT_EQ(MinimumAsk(Ask(2, 0, 0), &node), (QuotaAmounts{2, 80000, 200}));
}

}  // namespace
}  // namespace flexai::partition
