#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace flexai::partition {
namespace {

using testing::ParseBody;
using Requests = std::map<std::string, int64_t>;

std::string ErrorFor(const Requests& requests) {
  Result<SliceRequest> r = SliceRequestFromResources(DefaultSlicePolicy(), requests);
  return r.ok() ? "<ok>" : r.error().message;
}

TEST(SliceRequestFromResources, CountAloneIsWholeChips) {
  Result<SliceRequest> r =
      SliceRequestFromResources(DefaultSlicePolicy(), {{"flexai.io/gpu", 2}, {"cpu", 4000}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->chips, 2);
  EXPECT_TRUE(r->exclusive());
  EXPECT_EQ(r->vendor, Vendor::kNvidia);
}

TEST(SliceRequestFromResources, MemoryAndCoresMakeASlice) {
  Result<SliceRequest> r = SliceRequestFromResources(
      DefaultSlicePolicy(),
      {{"flexai.io/gpu", 1}, {"flexai.io/gpu-memory", 4096}, {"flexai.io/gpu-cores", 30}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->chips, 1);
  EXPECT_EQ(r->memory_mib, 4096);
  EXPECT_EQ(r->cores, 30);
  EXPECT_FALSE(r->exclusive());
}

TEST(SliceRequestFromResources, PercentageForm) {
  Result<SliceRequest> r = SliceRequestFromResources(
      DefaultSlicePolicy(), {{"flexai.io/gpu", 1}, {"flexai.io/gpu-memory-percentage", 25}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->memory_percent, 25);
  EXPECT_EQ(r->memory_mib, 0);
}

TEST(SliceRequestFromResources, NpuNamesAskForAscend) {
  Result<SliceRequest> r = SliceRequestFromResources(
      DefaultSlicePolicy(), {{"flexai.io/npu", 1}, {"flexai.io/npu-memory", 16384}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->vendor, Vendor::kAscend);
  EXPECT_EQ(r->memory_mib, 16384);
}

TEST(SliceRequestFromResources, AmountsWithoutChipCountAreRefused) {
  EXPECT_EQ(ErrorFor({{"flexai.io/gpu-memory", 4096}}),
            "flexai.io/gpu-memory needs flexai.io/gpu (the number of chips) as well");
  EXPECT_EQ(ErrorFor({{"flexai.io/gpu", 0}, {"flexai.io/gpu-memory-percentage", 50}}),
            "flexai.io/gpu-memory-percentage needs flexai.io/gpu (the number of chips) as well");
  EXPECT_EQ(ErrorFor({{"flexai.io/npu-cores", 20}}),
            "flexai.io/npu-cores needs flexai.io/npu (the number of chips) as well");
}

TEST(SliceRequestFromResources, PercentagesAbove100AreRefused) {
  EXPECT_EQ(ErrorFor({{"flexai.io/gpu", 1}, {"flexai.io/gpu-memory-percentage", 150}}),
            "flexai.io/gpu-memory-percentage: must be within 1..100, got 150");
  EXPECT_EQ(ErrorFor({{"flexai.io/gpu", 1}, {"flexai.io/gpu-cores", 101}}),
            "flexai.io/gpu-cores: must be within 1..100 (percent of one chip), got 101");
}

TEST(SliceRequestFromResources, BothMemoryFormsAreRefused) {
  EXPECT_EQ(ErrorFor({{"flexai.io/gpu", 1},
                      {"flexai.io/gpu-memory", 1024},
                      {"flexai.io/gpu-memory-percentage", 10}}),
            "give flexai.io/gpu-memory or flexai.io/gpu-memory-percentage, not both");
}

TEST(SliceRequestFromResources, GpuAndNpuTogetherAreRefused) {
  EXPECT_EQ(ErrorFor({{"flexai.io/gpu", 1}, {"flexai.io/npu", 1}}),
            "asks for both flexai.io/gpu and flexai.io/npu resources; a container uses one kind "
            "of chip");
}

TEST(SliceRequestFromResources, NegativeAndOversizedCountsAreRefused) {
  EXPECT_EQ(ErrorFor({{"flexai.io/gpu", -1}}), "flexai.io/gpu: must not be negative, got -1");
  EXPECT_EQ(ErrorFor({{"flexai.io/gpu", 65}}),
            "flexai.io/gpu: at most 64 chips (one node's worth), got 65");
}

TEST(SliceRequestFromResources, NoFlexaiResourceIsAnError) {
  EXPECT_EQ(ErrorFor({{"cpu", 1000}, {"nvidia.com/gpu", 1}}),
            "asks for no flexai resource (flexai.io/gpu or flexai.io/npu)");
  EXPECT_EQ(ErrorFor({{"flexai.io/gpu", 0}}),
            "asks for no flexai resource (flexai.io/gpu or flexai.io/npu)");
}

TEST(SliceRequestFromResources, UsesTheConfiguredNames) {
  Result<SlicePolicy> policy =
      ParseBody("resources:\n  gpu: {count: nvidia.com/gpu, memory: nvidia.com/gpumem}\n");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  Result<SliceRequest> r = SliceRequestFromResources(
      *policy, {{"nvidia.com/gpu", 1}, {"nvidia.com/gpumem", 2000}, {"flexai.io/gpu", 3}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->chips, 1);
  EXPECT_EQ(r->memory_mib, 2000);
  EXPECT_TRUE(IsFlexaiResource(*policy, "nvidia.com/gpumem"));
  EXPECT_FALSE(IsFlexaiResource(*policy, "flexai.io/gpu"));
}

TEST(IsFlexaiResource, KnowsAllEightDefaultNames) {
  SlicePolicy policy = DefaultSlicePolicy();
  for (const char* name :
       {"flexai.io/gpu", "flexai.io/gpu-memory", "flexai.io/gpu-memory-percentage",
        "flexai.io/gpu-cores", "flexai.io/npu", "flexai.io/npu-memory",
        "flexai.io/npu-memory-percentage", "flexai.io/npu-cores"}) {
    EXPECT_TRUE(IsFlexaiResource(policy, name)) << name;
  }
  EXPECT_FALSE(IsFlexaiResource(policy, "cpu"));
  EXPECT_FALSE(IsFlexaiResource(policy, "nvidia.com/gpu"));
  EXPECT_FALSE(IsFlexaiResource(policy, ""));
}

TEST(RequestsFlexaiResource, PassesThroughPodsWithoutOurResources) {
  SlicePolicy policy = DefaultSlicePolicy();
  EXPECT_FALSE(RequestsFlexaiResource(policy, {{"cpu", 1000}, {"memory", 512}}));
  EXPECT_FALSE(RequestsFlexaiResource(policy, {{"flexai.io/gpu", 0}}));
  EXPECT_TRUE(RequestsFlexaiResource(policy, {{"flexai.io/npu-memory", 1}}));
}

TEST(SliceRequestVendor, GpuRequestsTakeNvidiaAndSimulatedChips) {
  SliceRequest r;
  r.vendor = Vendor::kNvidia;
  Chip chip;
  chip.vendor = Vendor::kNvidia;
  EXPECT_TRUE(r.Accepts(chip));
  chip.vendor = Vendor::kSim;
  EXPECT_TRUE(r.Accepts(chip));
  chip.vendor = Vendor::kAscend;
  EXPECT_FALSE(r.Accepts(chip));
}

TEST(SliceRequestVendor, NpuRequestsTakeOnlyAscendChips) {
  SliceRequest r;
  r.vendor = Vendor::kAscend;
  Chip chip;
  chip.vendor = Vendor::kAscend;
  EXPECT_TRUE(r.Accepts(chip));
  chip.vendor = Vendor::kSim;
  EXPECT_FALSE(r.Accepts(chip));
  chip.vendor = Vendor::kNvidia;
  EXPECT_FALSE(r.Accepts(chip));
}

TEST(SliceRequestVendor, NoVendorTakesAnyChip) {
  SliceRequest r;
  for (Vendor v : {Vendor::kNvidia, Vendor::kAscend, Vendor::kSim}) {
    Chip chip;
    chip.vendor = v;
    EXPECT_TRUE(r.Accepts(chip));
  }
}

}  // namespace
}  // namespace flexai::partition
