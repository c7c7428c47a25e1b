#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace flexai::partition {
namespace {

using testing::ErrorOf;
using testing::ParseBody;

TEST(QuotasSection, ReadsLimitsPerNamespace) {
  Result<SlicePolicy> policy = ParseBody(
      "quotas:\n"
      "  team-a: {chips: 8, memoryMiB: 327680, cores: 400}\n"
      "  research:\n"
      "    cores: 0\n");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  ASSERT_EQ(policy->quotas.size(), 2u);
  const NamespaceQuota& a = policy->quotas.at("team-a");
  EXPECT_EQ(a.chips, 8);
  EXPECT_EQ(a.memory_mib, 327680);
  EXPECT_EQ(a.cores, 400);
  const NamespaceQuota& r = policy->quotas.at("research");
  EXPECT_FALSE(r.chips.has_value());
  EXPECT_FALSE(r.memory_mib.has_value());
  EXPECT_EQ(r.cores, 0);  // zero is a limit (nothing allowed), not "unset"
}

TEST(QuotasSection, BadValuesAreRefused) {
  EXPECT_EQ(ErrorOf("quotas:\n  team-a: {chips: -1}\n"),
            "policy.yaml: quotas.team-a.chips: must be an integer >= 0, got \"-1\"");
  EXPECT_EQ(ErrorOf("quotas:\n  team-a: {memoryMiB: 1.5}\n"),
            "policy.yaml: quotas.team-a.memoryMiB: must be an integer >= 0, got \"1.5\"");
  EXPECT_EQ(ErrorOf("quotas:\n  team-a: {gpus: 1}\n"),
            "policy.yaml: quotas.team-a.gpus: unknown field; expected one of: chips, memoryMiB, "
            "cores");
  EXPECT_EQ(ErrorOf("quotas:\n  team-a: 4\n"),
            "policy.yaml: quotas.team-a: must be a map, got \"4\"");
  EXPECT_EQ(ErrorOf("quotas: [team-a]\n"), "policy.yaml: quotas: must be a map, got a list");
}

TEST(QuotasSection, KeysMustBeNamespaceNames) {
  EXPECT_EQ(ErrorOf("quotas:\n  Team_A: {chips: 1}\n"),
            "policy.yaml: quotas.Team_A: \"Team_A\" is not a namespace name (lower-case letters, "
            "digits and '-', at most 63)");
  EXPECT_NE(ErrorOf("quotas:\n  -team: {chips: 1}\n"), "<ok>");
  EXPECT_NE(ErrorOf("quotas:\n  " + std::string(64, 'a') + ": {chips: 1}\n"), "<ok>");
  EXPECT_EQ(ErrorOf("quotas:\n  " + std::string(63, 'a') + ": {chips: 1}\n"), "<ok>");
}

}  // namespace
}  // namespace flexai::partition
