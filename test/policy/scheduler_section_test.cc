#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace flexai::partition {
namespace {

using testing::ErrorOf;
using testing::ParseBody;

TEST(SchedulerSection, ReadsPolicyAndWeights) {
  Result<SlicePolicy> policy =
      ParseBody("scheduler:\n  policy: best-fit\n  weights:\n    binpack: 1\n    topology: 0.25\n");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->scheduler.policy, "best-fit");
  EXPECT_EQ(policy->scheduler.weights.size(), 2u);
  EXPECT_EQ(policy->scheduler.weights.at("binpack"), 1.0);
  EXPECT_EQ(policy->scheduler.weights.at("topology"), 0.25);
}

TEST(SchedulerSection, DefaultPolicyIsHi) {
  EXPECT_EQ(DefaultSlicePolicy().scheduler.policy, "hi");
  EXPECT_TRUE(DefaultSlicePolicy().scheduler.weights.empty());
}

TEST(SchedulerSection, BadValuesAreRefused) {
  EXPECT_EQ(ErrorOf("scheduler:\n  policy: \"\"\n"),
            "policy.yaml: scheduler.policy: must be a non-empty string, got the quoted string "
            "\"\"");
  EXPECT_EQ(ErrorOf("scheduler:\n  policy: {name: hi}\n"),
            "policy.yaml: scheduler.policy: must be a non-empty string, got a map");
  EXPECT_EQ(ErrorOf("scheduler:\n  weights:\n    binpack: -1\n"),
            "policy.yaml: scheduler.weights.binpack: must be a number >= 0.0, got \"-1\"");
  EXPECT_EQ(ErrorOf("scheduler:\n  weights:\n    binpack: heavy\n"),
            "policy.yaml: scheduler.weights.binpack: must be a number >= 0.0, got \"heavy\"");
  EXPECT_EQ(ErrorOf("scheduler:\n  weights: [1, 2]\n"),
            "policy.yaml: scheduler.weights: must be a map, got a list");
  EXPECT_EQ(ErrorOf("scheduler:\n  name: hi\n"),
            "policy.yaml: scheduler.name: unknown field; expected one of: policy, weights");
}

TEST(SchedulerSection, CallerListsTheKnownNames) {
  PolicyParseOptions options;
  options.known_scheduler_policies = {"exclusive", "best-fit", "hi"};
  options.known_scheduler_weights = {"binpack", "topology"};
  EXPECT_EQ(ErrorOf("scheduler:\n  policy: hi\n  weights: {binpack: 1}\n", options), "<ok>");
  EXPECT_EQ(
      ErrorOf("scheduler:\n  policy: fgd\n", options),
      "policy.yaml: scheduler.policy: unknown policy \"fgd\"; known: exclusive, best-fit, hi");
  EXPECT_EQ(ErrorOf("scheduler:\n  weights: {spread: 1}\n", options),
            "policy.yaml: scheduler.weights.spread: unknown weight; known: binpack, topology");
  // The default policy name is checked too when the section is left out.
  options.known_scheduler_policies = {"exclusive"};
  EXPECT_EQ(ErrorOf("", options),
            "policy.yaml: scheduler.policy: unknown policy \"hi\"; known: exclusive");
}

TEST(SchedulerSection, CheckAfterLoading) {
  Result<SlicePolicy> policy = ParseBody("scheduler:\n  policy: fgd\n");
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(CheckSchedulerKnobs(*policy, {}).ok());
  EXPECT_TRUE(CheckSchedulerKnobs(*policy, {"fgd", "hi"}).ok());
  Status s = CheckSchedulerKnobs(*policy, {"hi"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "policy.yaml: scheduler.policy: unknown policy \"fgd\"; known: hi");
}

}  // namespace
}  // namespace flexai::partition
