#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "partition/policy/slice_policy.h"
#include "policy_test_util.h"

namespace flexai::partition {
namespace {

using testing::ErrorOf;
using testing::ParseBody;

const std::string kExamplePath = std::string(FLEXAI_SOURCE_DIR) + "/deploy/policy/policy.yaml";

TEST(PolicyLoader, ExampleFileLoadsWithEveryValue) {
  Result<SlicePolicy> policy = LoadSlicePolicyFile(kExamplePath);
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->source, kExamplePath);
  EXPECT_EQ(policy->resources.gpu.count, "flexai.io/gpu");
  EXPECT_EQ(policy->resources.npu.memory_percentage, "flexai.io/npu-memory-percentage");
  EXPECT_EQ(policy->sharing.max_slices_per_chip, 10);
  EXPECT_EQ(policy->sharing.isolation_mode, IsolationMode::kHook);
  ASSERT_EQ(policy->ascend.models.count("910B3"), 1u);
  const VnpuTemplate& t = policy->ascend.models.at("910B3").templates.at("vir05_1c_16g");
  EXPECT_EQ(t.ai_cores, 5);
  EXPECT_EQ(t.ai_cpus, 1);
  EXPECT_EQ(t.memory_mib, 16384);
  ASSERT_EQ(policy->node_overrides.size(), 2u);
  EXPECT_EQ(policy->node_overrides[0].selector.match_labels.at("flexai.io/pool"), "training");
  EXPECT_EQ(policy->node_overrides[0].sharing.isolation_mode, IsolationMode::kMps);
  EXPECT_EQ(policy->node_overrides[1].sharing.memory_oversubscription, 1.5);
  EXPECT_EQ(policy->scheduler.policy, "hi");
  EXPECT_EQ(policy->quotas.at("team-a").chips, 8);
  EXPECT_EQ(policy->quotas.at("research").cores, 200);
  EXPECT_FALSE(policy->quotas.at("research").chips.has_value());
}

TEST(PolicyLoader, ExampleFileStatesTheDefaults) {
  Result<SlicePolicy> policy = LoadSlicePolicyFile(kExamplePath);
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  SlicePolicy defaults = DefaultSlicePolicy();
  EXPECT_EQ(policy->resources.gpu.memory, defaults.resources.gpu.memory);
  EXPECT_EQ(policy->resources.npu.cores, defaults.resources.npu.cores);
  EXPECT_EQ(policy->sharing.max_slices_per_chip, defaults.sharing.max_slices_per_chip);
  EXPECT_EQ(policy->sharing.memory_oversubscription, defaults.sharing.memory_oversubscription);
  EXPECT_EQ(policy->sharing.reserved_memory_mib, defaults.sharing.reserved_memory_mib);
  EXPECT_EQ(policy->sharing.isolation_mode, defaults.sharing.isolation_mode);
  EXPECT_EQ(policy->scheduler.policy, defaults.scheduler.policy);
  EXPECT_EQ(policy->scheduler.weights, defaults.scheduler.weights);
  ASSERT_EQ(policy->ascend.models.size(), defaults.ascend.models.size());
  for (const auto& [model, spec] : defaults.ascend.models) {
    const AscendModel& loaded = policy->ascend.models.at(model);
    EXPECT_EQ(loaded.ai_cores, spec.ai_cores) << model;
    EXPECT_EQ(loaded.memory_mib, spec.memory_mib) << model;
    ASSERT_EQ(loaded.templates.size(), spec.templates.size()) << model;
    for (const auto& [name, t] : spec.templates) {
      EXPECT_EQ(loaded.templates.at(name).memory_mib, t.memory_mib) << model << " " << name;
      EXPECT_EQ(loaded.templates.at(name).ai_cores, t.ai_cores) << model << " " << name;
      EXPECT_EQ(loaded.templates.at(name).ai_cpus, t.ai_cpus) << model << " " << name;
    }
  }
  EXPECT_TRUE(defaults.node_overrides.empty());
  EXPECT_TRUE(defaults.quotas.empty());
}

TEST(PolicyLoader, HeaderOnlyGivesTheDefaults) {
  Result<SlicePolicy> policy = ParseBody("");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->source, "policy.yaml");
  EXPECT_EQ(policy->sharing.max_slices_per_chip, 10);
  EXPECT_EQ(policy->sharing.memory_oversubscription, 1.0);
  EXPECT_EQ(policy->resources.gpu.cores, "flexai.io/gpu-cores");
}

TEST(PolicyLoader, SectionWithNothingUnderItKeepsDefaults) {
  Result<SlicePolicy> policy = ParseBody("sharing:\n  # maxSlicesPerChip: 4\nquotas:\n");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->sharing.max_slices_per_chip, 10);
}

TEST(PolicyLoader, ApiVersionAndKindAreRequired) {
  EXPECT_EQ(ParseSlicePolicy("kind: SlicePolicy\n", "policy.yaml").error().message,
            "policy.yaml: apiVersion: required, must be \"flexai.io/v1\"");
  EXPECT_EQ(ParseSlicePolicy("apiVersion: flexai.io/v1\n", "policy.yaml").error().message,
            "policy.yaml: kind: required, must be \"SlicePolicy\"");
}

TEST(PolicyLoader, OtherVersionsAndKindsAreRefused) {
  EXPECT_EQ(
      ParseSlicePolicy("apiVersion: flexai.io/v2\nkind: SlicePolicy\n", "p.yaml").error().message,
      "p.yaml: apiVersion: must be \"flexai.io/v1\", got \"flexai.io/v2\"");
  EXPECT_EQ(
      ParseSlicePolicy("apiVersion: flexai.io/v1\nkind: ConfigMap\n", "p.yaml").error().message,
      "p.yaml: kind: must be \"SlicePolicy\", got \"ConfigMap\"");
}

TEST(PolicyLoader, UnknownTopLevelFieldIsRefused) {
  EXPECT_EQ(ErrorOf("shareing:\n  maxSlicesPerChip: 4\n"),
            "policy.yaml: shareing: unknown field; expected one of: apiVersion, kind, resources, "
            "sharing, ascend, nodeOverrides, scheduler, quotas");
}

TEST(PolicyLoader, MalformedYamlNamesLineAndColumn) {
  std::string text =
      "apiVersion: flexai.io/v1\n"
      "kind: SlicePolicy\n"
      "sharing:\n"
      "  maxSlicesPerChip: 4\n"
      "   isolationMode: mps\n";
  Result<SlicePolicy> policy = ParseSlicePolicy(text, "policy.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().message, "policy.yaml:5:17: illegal map value");
}

TEST(PolicyLoader, UnclosedFlowMapNamesWhereTheParserStopped) {
  Result<SlicePolicy> policy = ParseSlicePolicy(
      "apiVersion: flexai.io/v1\nkind: SlicePolicy\nsharing: {maxSlicesPerChip: 4\n", "x.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().message, "x.yaml:4:1: end of map flow not found");
}

TEST(PolicyLoader, EmptyTextIsRefused) {
  EXPECT_EQ(ParseSlicePolicy("# nothing here\n", "policy.yaml").error().message,
            "policy.yaml: empty policy; expected apiVersion: flexai.io/v1 and kind: SlicePolicy");
}

TEST(PolicyLoader, MoreThanOneDocumentIsRefused) {
  EXPECT_EQ(ErrorOf("---\napiVersion: flexai.io/v1\nkind: SlicePolicy\n"),
            "policy.yaml: holds more than one YAML document (a second starts at line 3), "
            "expected one");
}

TEST(PolicyLoader, StrayCommaIsASyntaxErrorNotAHang) {
  // yaml-cpp 0.7 alone would loop here (LoadAll) or drop everything after the comma (Load).
  EXPECT_EQ(ParseSlicePolicy(",\napiVersion: flexai.io/v1\nkind: SlicePolicy\n", "p.yaml")
                .error()
                .message,
            "p.yaml:1:1: unexpected \",\"");
  Result<SlicePolicy> policy = ParseBody("sharing:\n  maxSlicesPerChip: 4\n,\nquotas: {}\n");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().message.rfind("policy.yaml:", 0), 0u) << policy.error().message;
}

TEST(PolicyLoader, TopLevelMustBeAMap) {
  EXPECT_EQ(ParseSlicePolicy("- a\n- b\n", "policy.yaml").error().message,
            "policy.yaml: must be a map with apiVersion and kind, got a list");
}

TEST(PolicyLoader, RepeatedKeyIsRefused) {
  EXPECT_EQ(ErrorOf("sharing:\n  maxSlicesPerChip: 4\n  maxSlicesPerChip: 5\n"),
            "policy.yaml: sharing.maxSlicesPerChip: given more than once");
  EXPECT_EQ(ErrorOf("sharing: {}\nsharing: {}\n"), "policy.yaml: sharing: given more than once");
}

TEST(PolicyLoader, NonMapSectionIsRefused) {
  EXPECT_EQ(ErrorOf("sharing: 4\n"), "policy.yaml: sharing: must be a map, got \"4\"");
  EXPECT_EQ(ErrorOf("resources: [a]\n"), "policy.yaml: resources: must be a map, got a list");
}

TEST(PolicyLoader, DeeplyNestedInputFailsCleanly) {
  std::string text =
      "apiVersion: flexai.io/v1\nkind: SlicePolicy\nsharing: " + std::string(20000, '[') +
      std::string(20000, ']') + "\n";
  Result<SlicePolicy> policy = ParseSlicePolicy(text, "policy.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().message.rfind("policy.yaml", 0), 0u);
}

TEST(PolicyLoader, FailedLoadReturnsOnlyAnError) {
  // Valid sections come before the bad one; none of them may leak into a result.
  Result<SlicePolicy> policy =
      ParseBody("sharing:\n  maxSlicesPerChip: 3\nquotas:\n  team-a:\n    chips: -1\n");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().message,
            "policy.yaml: quotas.team-a.chips: must be an integer >= 0, got \"-1\"");
  // The caller keeps its old policy: a reload is "replace only when ok".
  SlicePolicy current = DefaultSlicePolicy();
  if (policy.ok()) current = *policy;
  EXPECT_EQ(current.sharing.max_slices_per_chip, 10);
}

TEST(PolicyLoader, MissingFileIsAnError) {
  Result<SlicePolicy> policy = LoadSlicePolicyFile("/nonexistent/flexai/policy.yaml");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().message, "/nonexistent/flexai/policy.yaml: cannot open the policy file");
}

TEST(PolicyLoader, FileErrorsNameTheFile) {
  std::string path = ::testing::TempDir() + "/flexai_policy_loader_test.yaml";
  {
    std::ofstream out(path);
    out << "apiVersion: flexai.io/v1\nkind: SlicePolicy\nsharing:\n  maxSlicesPerChip: abc\n";
  }
  Result<SlicePolicy> policy = LoadSlicePolicyFile(path);
  std::remove(path.c_str());
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().message,
            path + ": sharing.maxSlicesPerChip: must be an integer >= 1, got \"abc\"");
}

TEST(PolicyLoader, DirectoryIsNotAPolicyFile) {
  Result<SlicePolicy> policy = LoadSlicePolicyFile(FLEXAI_SOURCE_DIR);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().message,
            std::string(FLEXAI_SOURCE_DIR) + ": is a directory, not a policy file");
}

}  // namespace
}  // namespace flexai::partition
