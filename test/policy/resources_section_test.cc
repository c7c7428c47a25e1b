#include <gtest/gtest.h>

#include "policy_test_util.h"

namespace flexai::partition {
namespace {

using testing::ErrorOf;
using testing::ParseBody;

TEST(ResourcesSection, NamesCanBeRenamedOneByOne) {
  Result<SlicePolicy> policy = ParseBody(
      "resources:\n"
      "  gpu:\n"
      "    count: nvidia.com/gpu\n"
      "    memory: nvidia.com/gpumem\n");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->resources.gpu.count, "nvidia.com/gpu");
  EXPECT_EQ(policy->resources.gpu.memory, "nvidia.com/gpumem");
  EXPECT_EQ(policy->resources.gpu.cores, "flexai.io/gpu-cores");  // untouched
  EXPECT_EQ(policy->resources.npu.count, "flexai.io/npu");
}

TEST(ResourcesSection, DuplicateNamesAreRefused) {
  EXPECT_EQ(ErrorOf("resources:\n  npu:\n    count: flexai.io/gpu\n"),
            "policy.yaml: resources.npu.count: \"flexai.io/gpu\" is already used by "
            "resources.gpu.count");
  EXPECT_EQ(ErrorOf("resources:\n  gpu:\n    cores: flexai.io/gpu-memory\n"),
            "policy.yaml: resources.gpu.cores: \"flexai.io/gpu-memory\" is already used by "
            "resources.gpu.memory");
}

TEST(ResourcesSection, EmptyNamesAreRefused) {
  EXPECT_EQ(ErrorOf("resources:\n  gpu:\n    count: \"\"\n"),
            "policy.yaml: resources.gpu.count: must be a non-empty string, got the quoted string "
            "\"\"");
  EXPECT_EQ(ErrorOf("resources:\n  gpu:\n    count:\n"),
            "policy.yaml: resources.gpu.count: must be a non-empty string, got nothing");
}

TEST(ResourcesSection, NamesMustBeDomainSlashName) {
  EXPECT_EQ(ErrorOf("resources:\n  gpu:\n    count: gpu\n"),
            "policy.yaml: resources.gpu.count: must be an extended resource name like "
            "\"flexai.io/gpu\", got \"gpu\"");
  EXPECT_NE(ErrorOf("resources:\n  gpu:\n    count: a/b/c\n"), "<ok>");
  EXPECT_NE(ErrorOf("resources:\n  gpu:\n    count: \"flexai.io/g pu\"\n"), "<ok>");
  EXPECT_NE(ErrorOf("resources:\n  gpu:\n    count: [flexai.io/gpu]\n"), "<ok>");
}

TEST(ResourcesSection, UnknownKeysAreRefused) {
  EXPECT_EQ(ErrorOf("resources:\n  gpu:\n    number: flexai.io/gpus\n"),
            "policy.yaml: resources.gpu.number: unknown field; expected one of: count, memory, "
            "memoryPercentage, cores");
  EXPECT_EQ(ErrorOf("resources:\n  tpu: {}\n"),
            "policy.yaml: resources.tpu: unknown field; expected one of: gpu, npu, memoryUnit, "
            "coreUnit");
}

TEST(ResourcesSection, OnlyMiBAndPercentAreKnownUnits) {
  EXPECT_EQ(ErrorOf("resources:\n  memoryUnit: MiB\n  coreUnit: \"%\"\n"), "<ok>");
  EXPECT_EQ(ErrorOf("resources:\n  memoryUnit: GiB\n"),
            "policy.yaml: resources.memoryUnit: must be \"MiB\" (the only unit of apiVersion "
            "flexai.io/v1), got \"GiB\"");
  EXPECT_EQ(ErrorOf("resources:\n  coreUnit: cores\n"),
            "policy.yaml: resources.coreUnit: must be \"%\" (the only unit of apiVersion "
            "flexai.io/v1), got \"cores\"");
}

TEST(ResourcesSection, NameSetMustBeAMap) {
  EXPECT_EQ(ErrorOf("resources:\n  gpu: flexai.io/gpu\n"),
            "policy.yaml: resources.gpu: must be a map, got \"flexai.io/gpu\"");
}

}  // namespace
}  // namespace flexai::partition
