#include "device_plugin/settings_loader.h"

#include <gtest/gtest.h>

#include <fstream>

#include "test_kubelet.h"

namespace flexai::device_plugin {
namespace {

TEST(SettingsLoader, NoPolicyFileGivesThePolicyDefaults) {
  auto gpu = LoadPluginSettings("", partition::Vendor::kNvidia, {});
  ASSERT_TRUE(gpu.ok()) << gpu.error().message;
  EXPECT_EQ(gpu->resource_name, "flexai.io/gpu");
  EXPECT_EQ(gpu->max_slices_per_chip, 10);
  EXPECT_EQ(gpu->isolation, IsolationMode::kHook);
  auto npu = LoadPluginSettings("", partition::Vendor::kAscend, {});
  ASSERT_TRUE(npu.ok());
  EXPECT_EQ(npu->resource_name, "flexai.io/npu");
  EXPECT_EQ(npu->isolation, IsolationMode::kNone);
}

TEST(SettingsLoader, TheProjectPolicyAppliesNodeOverridesByLabel) {
  const std::string policy = std::string(FLEXAI_SOURCE_DIR) + "/deploy/policy/policy.yaml";
  auto plain = LoadPluginSettings(policy, partition::Vendor::kNvidia, {});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->max_slices_per_chip, 10);
  auto training =
      LoadPluginSettings(policy, partition::Vendor::kNvidia, {{"flexai.io/pool", "training"}});
  ASSERT_TRUE(training.ok());
  EXPECT_EQ(training->max_slices_per_chip, 4);
  EXPECT_EQ(training->isolation, IsolationMode::kMps);
}

TEST(SettingsLoader, ABrokenPolicyIsAnErrorNamingTheField) {
  testing::TempDir dir;
  std::ofstream(dir.File("policy.yaml"))
      << "apiVersion: flexai.io/v1\nkind: SlicePolicy\nsharing:\n  maxSlicesPerChip: 0\n";
  auto settings = LoadPluginSettings(dir.File("policy.yaml"), partition::Vendor::kNvidia, {});
  ASSERT_FALSE(settings.ok());
  EXPECT_NE(settings.error().message.find("maxSlicesPerChip"), std::string::npos)
      << settings.error().message;
}

}  // namespace
}  // namespace flexai::device_plugin
