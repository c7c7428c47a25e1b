#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace flexai::partition {
namespace {

using testing::ErrorOf;
using testing::ParseBody;

using Labels = std::map<std::string, std::string>;

// `sharing` plus three overrides: a specific one, a broader one, and a catch-all.
SlicePolicy ThreeOverrides() {
  Result<SlicePolicy> policy = ParseBody(
      "sharing:\n"
      "  maxSlicesPerChip: 10\n"
      "  reservedMemoryMiB: 256\n"
      "nodeOverrides:\n"
      "  - selector:\n"
      "      matchLabels: {pool: training, gpu: h100}\n"
      "    maxSlicesPerChip: 2\n"
      "    isolationMode: mps\n"
      "  - selector:\n"
      "      matchLabels: {pool: training}\n"
      "    maxSlicesPerChip: 4\n"
      "    reservedMemoryMiB: 1024\n"
      "  - selector:\n"
      "      matchLabels: {}\n"
      "    memoryOversubscription: 2.0\n");
  EXPECT_TRUE(policy.ok()) << policy.error().message;
  return *policy;
}

TEST(NodeOverrides, FirstMatchingEntryWins) {
  SlicePolicy policy = ThreeOverrides();
  EXPECT_EQ(MatchingNodeOverride(policy, {{"pool", "training"}, {"gpu", "h100"}}), 0u);
  SharingSection s = EffectiveSharing(policy, {{"pool", "training"}, {"gpu", "h100"}});
  EXPECT_EQ(s.max_slices_per_chip, 2);
  EXPECT_EQ(s.isolation_mode, IsolationMode::kMps);
  EXPECT_EQ(s.reserved_memory_mib, 256);      // not overridden: from `sharing`
  EXPECT_EQ(s.memory_oversubscription, 1.0);  // the catch-all is never reached
}

TEST(NodeOverrides, LaterEntryAppliesWhenEarlierOnesDoNotMatch) {
  SlicePolicy policy = ThreeOverrides();
  SharingSection s = EffectiveSharing(policy, {{"pool", "training"}, {"gpu", "a100"}});
  EXPECT_EQ(MatchingNodeOverride(policy, {{"pool", "training"}, {"gpu", "a100"}}), 1u);
  EXPECT_EQ(s.max_slices_per_chip, 4);
  EXPECT_EQ(s.reserved_memory_mib, 1024);
  EXPECT_EQ(s.isolation_mode, IsolationMode::kHook);
}

TEST(NodeOverrides, EmptySelectorMatchesEveryNode) {
  SlicePolicy policy = ThreeOverrides();
  EXPECT_EQ(MatchingNodeOverride(policy, {}), 2u);
  EXPECT_EQ(EffectiveSharing(policy, {{"pool", "inference"}}).memory_oversubscription, 2.0);
}

TEST(NodeOverrides, NoMatchKeepsSharing) {
  Result<SlicePolicy> policy = ParseBody(
      "nodeOverrides:\n  - selector: {matchLabels: {pool: training}}\n    maxSlicesPerChip: 1\n");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_FALSE(MatchingNodeOverride(*policy, {{"pool", "Training"}}).has_value());
  EXPECT_EQ(EffectiveSharing(*policy, {{"pool", "Training"}}).max_slices_per_chip, 10);
}

TEST(CapacityFor, SubtractsReservedAndAppliesTheNodeOverride) {
  SlicePolicy policy = ThreeOverrides();
  Chip chip;
  chip.vendor = Vendor::kNvidia;
  chip.memory_mib = 81559;

  ChipCapacity plain = CapacityFor(policy, chip, {{"pool", "training"}, {"gpu", "h100"}});
  EXPECT_EQ(plain.memory_mib, 81559 - 256);
  EXPECT_EQ(plain.cores, 100);
  EXPECT_EQ(plain.max_slices, 2);
  EXPECT_EQ(plain.memory_oversubscription, 1.0);

  ChipCapacity training = CapacityFor(policy, chip, {{"pool", "training"}});
  EXPECT_EQ(training.memory_mib, 81559 - 1024);
  EXPECT_EQ(training.max_slices, 4);

  ChipCapacity other = CapacityFor(policy, chip, {{"pool", "inference"}});
  EXPECT_EQ(other.memory_mib, 81559 - 256);
  EXPECT_EQ(other.max_slices, 10);
  EXPECT_EQ(other.memory_oversubscription, 2.0);
  EXPECT_EQ(other.memory_limit_mib(), 2 * (81559 - 256));
}

TEST(CapacityFor, ReservedLargerThanTheChipLeavesNothing) {
  SlicePolicy policy = DefaultSlicePolicy();
  policy.sharing.reserved_memory_mib = 4096;
  Chip chip;
  chip.memory_mib = 2048;
  EXPECT_EQ(CapacityFor(policy, chip, {}).memory_mib, 0);
}

TEST(CapacityFor, DefaultsGiveTenSlicesAndTheWholeMemory) {
  Chip chip;
  chip.memory_mib = 16384;
  ChipCapacity c = CapacityFor(DefaultSlicePolicy(), chip, {});
  EXPECT_EQ(c.memory_mib, 16384);
  EXPECT_EQ(c.max_slices, 10);
  EXPECT_EQ(c.memory_oversubscription, 1.0);
}

TEST(NodeOverrides, ValuesAreCheckedLikeSharing) {
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  - selector: {matchLabels: {a: b}}\n"
                    "    memoryOversubscription: 0.9\n"),
            "policy.yaml: nodeOverrides[0].memoryOversubscription: must be a number >= 1.0, got "
            "\"0.9\"");
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  - selector: {matchLabels: {a: b}}\n"
                    "  - selector: {matchLabels: {a: c}}\n    isolationMode: vm\n"),
            "policy.yaml: nodeOverrides[1].isolationMode: must be one of mps, hook, none, got "
            "\"vm\"");
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  - selector: {matchLabels: {a: b}}\n"
                    "    maxSlicesPerChip: -3\n"),
            "policy.yaml: nodeOverrides[0].maxSlicesPerChip: must be an integer >= 1, got \"-3\"");
}

TEST(NodeOverrides, ShapeErrorsNameTheEntry) {
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  selector: {}\n"),
            "policy.yaml: nodeOverrides: must be a list, got a map");
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  - maxSlicesPerChip: 2\n"),
            "policy.yaml: nodeOverrides[0].selector: required");
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  - 3\n"),
            "policy.yaml: nodeOverrides[0]: must be a map with a selector, got \"3\"");
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  - selector: {}\n"),
            "policy.yaml: nodeOverrides[0].selector.matchLabels: required");
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  - selector: {matchExpressions: []}\n"),
            "policy.yaml: nodeOverrides[0].selector.matchExpressions: unknown field; expected "
            "one of: matchLabels");
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  - selector: {matchLabels: [a]}\n"),
            "policy.yaml: nodeOverrides[0].selector.matchLabels: must be a map, got a list");
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  - selector: {matchLabels: {flexai.io/pool: }}\n"),
            "policy.yaml: nodeOverrides[0].selector.matchLabels[\"flexai.io/pool\"]: must be a "
            "label value (write \"\" for an empty one), got nothing");
  EXPECT_EQ(ErrorOf("nodeOverrides:\n  - selector: {matchLabels: {a: b}}\n    maxSlices: 2\n"),
            "policy.yaml: nodeOverrides[0].maxSlices: unknown field; expected one of: selector, "
            "maxSlicesPerChip, memoryOversubscription, reservedMemoryMiB, isolationMode");
}

TEST(NodeOverrides, EmptyLabelValueMatchesEmptyLabel) {
  Result<SlicePolicy> policy = ParseBody(
      "nodeOverrides:\n  - selector: {matchLabels: {edge: \"\"}}\n    maxSlicesPerChip: 1\n");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(MatchingNodeOverride(*policy, {{"edge", ""}}), 0u);
  EXPECT_FALSE(MatchingNodeOverride(*policy, {{"edge", "yes"}}).has_value());
}

}  // namespace
}  // namespace flexai::partition
