#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace flexai::partition {
namespace {

using testing::ErrorOf;
using testing::ParseBody;

TEST(SharingSection, ReadsEveryKnob) {
  Result<SlicePolicy> policy = ParseBody(
      "sharing:\n"
      "  maxSlicesPerChip: 4\n"
      "  memoryOversubscription: 1.25\n"
      "  reservedMemoryMiB: 512\n"
      "  isolationMode: mps\n");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->sharing.max_slices_per_chip, 4);
  EXPECT_EQ(policy->sharing.memory_oversubscription, 1.25);
  EXPECT_EQ(policy->sharing.reserved_memory_mib, 512);
  EXPECT_EQ(policy->sharing.isolation_mode, IsolationMode::kMps);
}

// Above 1024 the device list of a big node no longer fits kubelet's 4 MiB message limit.
TEST(SharingSection, MaxSlicesIsAtMost1024) {
  Result<SlicePolicy> policy = ParseBody("sharing:\n  maxSlicesPerChip: 1024\n");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->sharing.max_slices_per_chip, 1024);
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: 1025\n"),
            "policy.yaml: sharing.maxSlicesPerChip: must be at most 1024 (kubelet takes the whole "
            "device list, chips x slices, in one message of at most 4 MiB), got 1025");
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: 4\nnodeOverrides:\n"
                    "  - selector: {matchLabels: {pool: a}}\n    maxSlicesPerChip: 1048576\n"),
            "policy.yaml: nodeOverrides[0].maxSlicesPerChip: must be at most 1024 (kubelet takes "
            "the whole device list, chips x slices, in one message of at most 4 MiB), got 1048576");
}

TEST(SharingSection, IntegerRatioIsANumber) {
  Result<SlicePolicy> policy = ParseBody("sharing:\n  memoryOversubscription: 2\n");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->sharing.memory_oversubscription, 2.0);
}

TEST(SharingSection, MaxSlicesMustBeAPositiveInteger) {
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: abc\n"),
            "policy.yaml: sharing.maxSlicesPerChip: must be an integer >= 1, got \"abc\"");
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: 0\n"),
            "policy.yaml: sharing.maxSlicesPerChip: must be an integer >= 1, got \"0\"");
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: 2.5\n"),
            "policy.yaml: sharing.maxSlicesPerChip: must be an integer >= 1, got \"2.5\"");
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: [4]\n"),
            "policy.yaml: sharing.maxSlicesPerChip: must be an integer >= 1, got a list");
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: 99999999\n"),
            "policy.yaml: sharing.maxSlicesPerChip: must be at most 1024 (kubelet takes the whole "
            "device list, chips x slices, in one message of at most 4 MiB), got 99999999");
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: 99999999999999999999999\n"),
            "policy.yaml: sharing.maxSlicesPerChip: must be an integer >= 1, got "
            "\"99999999999999999999999\"");
}

TEST(SharingSection, QuotedNumbersAreStringsNotNumbers) {
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: \"4\"\n"),
            "policy.yaml: sharing.maxSlicesPerChip: must be an integer >= 1, got the quoted "
            "string \"4\"");
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: 0x10\n"),
            "policy.yaml: sharing.maxSlicesPerChip: must be an integer >= 1, got \"0x10\"");
}

TEST(SharingSection, OversubscriptionBelowOneIsRefused) {
  EXPECT_EQ(ErrorOf("sharing:\n  memoryOversubscription: 0.5\n"),
            "policy.yaml: sharing.memoryOversubscription: must be a number >= 1.0, got \"0.5\"");
  EXPECT_EQ(ErrorOf("sharing:\n  memoryOversubscription: -2\n"),
            "policy.yaml: sharing.memoryOversubscription: must be a number >= 1.0, got \"-2\"");
  EXPECT_EQ(ErrorOf("sharing:\n  memoryOversubscription: .nan\n"),
            "policy.yaml: sharing.memoryOversubscription: must be a number >= 1.0, got \".nan\"");
  EXPECT_EQ(ErrorOf("sharing:\n  memoryOversubscription: inf\n"),
            "policy.yaml: sharing.memoryOversubscription: must be a number >= 1.0, got \"inf\"");
  EXPECT_EQ(ErrorOf("sharing:\n  memoryOversubscription: 1000\n"),
            "policy.yaml: sharing.memoryOversubscription: must be at most 100, got 1000");
}

TEST(SharingSection, ReservedMemoryMustNotBeNegative) {
  EXPECT_EQ(ErrorOf("sharing:\n  reservedMemoryMiB: -1\n"),
            "policy.yaml: sharing.reservedMemoryMiB: must be an integer >= 0, got \"-1\"");
  EXPECT_EQ(ErrorOf("sharing:\n  reservedMemoryMiB: 0\n"), "<ok>");
}

TEST(SharingSection, UnknownIsolationModeIsRefused) {
  EXPECT_EQ(ErrorOf("sharing:\n  isolationMode: mig\n"),
            "policy.yaml: sharing.isolationMode: must be one of mps, hook, none, got \"mig\"");
  EXPECT_EQ(ErrorOf("sharing:\n  isolationMode: MPS\n"),
            "policy.yaml: sharing.isolationMode: must be one of mps, hook, none, got \"MPS\"");
  EXPECT_EQ(ErrorOf("sharing:\n  isolationMode: none\n"), "<ok>");
}

TEST(SharingSection, UnknownKeyIsRefused) {
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicePerChip: 4\n"),
            "policy.yaml: sharing.maxSlicePerChip: unknown field; expected one of: "
            "maxSlicesPerChip, memoryOversubscription, reservedMemoryMiB, isolationMode");
}

TEST(IsolationMode, NamesRoundTrip) {
  for (IsolationMode mode : {IsolationMode::kMps, IsolationMode::kHook, IsolationMode::kNone}) {
    EXPECT_EQ(ParseIsolationMode(IsolationModeName(mode)), mode);
  }
  EXPECT_FALSE(ParseIsolationMode("").has_value());
}

}  // namespace
}  // namespace flexai::partition
