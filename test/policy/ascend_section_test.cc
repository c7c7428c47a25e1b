#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace flexai::partition {
namespace {

using testing::ErrorOf;
using testing::ParseBody;

constexpr const char* k910B3 =
    "ascend:\n"
    "  models:\n"
    "    910B3:\n"
    "      aiCores: 20\n"
    "      aiCpus: 7\n"
    "      memoryMiB: 65536\n"
    "      templates:\n"
    "        vir05_1c_16g: {aiCores: 5, aiCpus: 1, memoryMiB: 16384}\n"
    "        vir10_3c_32g: {aiCores: 10, aiCpus: 3, memoryMiB: 32768}\n";

TEST(AscendSection, ReadsModelsAndTemplates) {
  Result<SlicePolicy> policy = ParseBody(k910B3);
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  ASSERT_EQ(policy->ascend.models.size(), 1u);  // replaces the default table
  const AscendModel& m = policy->ascend.models.at("910B3");
  EXPECT_EQ(m.ai_cores, 20);
  EXPECT_EQ(m.ai_cpus, 7);
  EXPECT_EQ(m.memory_mib, 65536);
  ASSERT_EQ(m.templates.size(), 2u);
  EXPECT_EQ(m.templates.at("vir10_3c_32g").ai_cores, 10);
  EXPECT_EQ(m.templates.at("vir10_3c_32g").memory_mib, 32768);
}

TEST(AscendSection, DefaultsCarryTheCommonChips) {
  SlicePolicy policy = DefaultSlicePolicy();
  EXPECT_EQ(policy.ascend.models.at("910B3").templates.at("vir05_1c_16g").memory_mib, 16384);
  EXPECT_EQ(policy.ascend.models.at("310P3").templates.at("vir04").ai_cores, 4);
  EXPECT_EQ(policy.ascend.models.at("910A").templates.size(), 4u);
}

TEST(AscendSection, SmallestTemplateThatHoldsTheRequest) {
  SlicePolicy policy = DefaultSlicePolicy();
  auto t = SmallestVnpuTemplate(policy, "910B3", 10000, 1);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->name, "vir05_1c_16g");
  t = SmallestVnpuTemplate(policy, "910B3", 20000, 0);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->name, "vir10_3c_32g");
  t = SmallestVnpuTemplate(policy, "910B3", 1000, 6);  // cores decide
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->name, "vir10_3c_32g");
  EXPECT_FALSE(SmallestVnpuTemplate(policy, "910B3", 40000, 0).has_value());
  EXPECT_FALSE(SmallestVnpuTemplate(policy, "H100", 1, 0).has_value());
}

TEST(AscendSection, TemplateLargerThanItsChipIsRefused) {
  EXPECT_EQ(ErrorOf("ascend:\n  models:\n    910B3:\n      aiCores: 20\n      memoryMiB: 65536\n"
                    "      templates:\n        big: {aiCores: 24, memoryMiB: 1024}\n"),
            "policy.yaml: ascend.models.910B3.templates.big.aiCores: must be an integer within "
            "1..20, got \"24\"");
  EXPECT_EQ(ErrorOf("ascend:\n  models:\n    910B3:\n      aiCores: 20\n      memoryMiB: 65536\n"
                    "      templates:\n        big: {aiCores: 2, memoryMiB: 70000}\n"),
            "policy.yaml: ascend.models.910B3.templates.big.memoryMiB: must be an integer within "
            "1..65536, got \"70000\"");
  EXPECT_EQ(ErrorOf("ascend:\n  models:\n    910B3:\n      aiCores: 20\n      aiCpus: 7\n"
                    "      memoryMiB: 65536\n"
                    "      templates:\n        t: {aiCores: 2, aiCpus: 8, memoryMiB: 1024}\n"),
            "policy.yaml: ascend.models.910B3.templates.t.aiCpus: must be at most the model's "
            "aiCpus (7), got 8");
}

TEST(AscendSection, RequiredFieldsAreNamed) {
  EXPECT_EQ(ErrorOf("ascend:\n  models:\n    910B3:\n      memoryMiB: 65536\n"),
            "policy.yaml: ascend.models.910B3.aiCores: required");
  EXPECT_EQ(ErrorOf("ascend:\n  models:\n    910B3:\n      aiCores: 20\n      memoryMiB: 65536\n"
                    "      templates:\n        t: {aiCores: 2}\n"),
            "policy.yaml: ascend.models.910B3.templates.t.memoryMiB: required");
}

TEST(AscendSection, BadShapesAreRefused) {
  EXPECT_EQ(ErrorOf("ascend:\n  models: [910B3]\n"),
            "policy.yaml: ascend.models: must be a map, got a list");
  EXPECT_EQ(ErrorOf("ascend:\n  models:\n    910B3:\n      aiCores: -1\n      memoryMiB: 1\n"),
            "policy.yaml: ascend.models.910B3.aiCores: must be an integer within 1..1024, got "
            "\"-1\"");
  EXPECT_EQ(ErrorOf("ascend:\n  templates: {}\n"),
            "policy.yaml: ascend.templates: unknown field; expected one of: models");
  EXPECT_EQ(ErrorOf("ascend:\n  models:\n    910B3:\n      aiCores: 20\n      memoryMiB: 65536\n"
                    "      templates:\n        t: {aiCores: 2, memory: 1024}\n"),
            "policy.yaml: ascend.models.910B3.templates.t.memory: unknown field; expected one "
            "of: aiCores, aiCpus, memoryMiB");
}

}  // namespace
}  // namespace flexai::partition
