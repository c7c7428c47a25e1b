// How the hook reads the environment the device plugin gives a container.
#include "isolation/hook/hook_config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "isolation/usage_layout.h"

namespace flexai::isolation {
namespace {

HookConfig Parse(const std::map<std::string, std::string>& env) {
  return ParseHookConfig([&](const char* name) -> const char* {
    auto found = env.find(name);
    return found == env.end() ? nullptr : found->second.c_str();
  });
}

constexpr std::uint64_t kMiB = 1 << 20;

TEST(HookConfigTest, ListsGiveOneValuePerVisibleDeviceInOrder) {
  HookConfig config = Parse({{"FLEXAI_MEMORY_LIMIT_MIB", "4096, 2048"},
                             {"FLEXAI_CORES_LIMIT", "30,70"},
                             {"FLEXAI_SHARED_DIR", "/flexai"},
                             {"FLEXAI_ACTIVITY_DIR", "/boards"},
                             {"FLEXAI_ISOLATION", "hook"}});
  EXPECT_TRUE(config.warnings.empty());
  EXPECT_EQ(config.MemoryLimitBytes(0), 4096 * kMiB);
  EXPECT_EQ(config.MemoryLimitBytes(1), 2048 * kMiB);
  EXPECT_EQ(config.CoresPercent(0), 30u);
  EXPECT_EQ(config.CoresPercent(1), 70u);
  EXPECT_EQ(config.shared_dir, "/flexai");
  EXPECT_EQ(config.activity_dir, "/boards");
  EXPECT_TRUE(config.Enforces());
}

TEST(HookConfigTest, UnsetVariablesMeanNoLimitOfThatKind) {
  HookConfig config = Parse({});
  EXPECT_EQ(config.mode, IsolationMode::kHook);
  EXPECT_TRUE(config.activity_dir.empty());
  EXPECT_EQ(config.MemoryLimitBytes(0), kUnlimitedBytes);
  EXPECT_EQ(config.CoresPercent(3), 100u);
}

TEST(HookConfigTest, UnlimitedIsSpelledOut) {
  HookConfig config = Parse({{"FLEXAI_MEMORY_LIMIT_MIB", "unlimited,0"}});
  EXPECT_EQ(config.MemoryLimitBytes(0), kUnlimitedBytes);
  EXPECT_EQ(config.MemoryLimitBytes(1), 0u);  // 0 means zero bytes, not "no limit"
}

TEST(HookConfigTest, MalformedMemoryEntryFailsClosedWithAWarning) {
  HookConfig config = Parse({{"FLEXAI_MEMORY_LIMIT_MIB", "4G,1024,"}});
  EXPECT_EQ(config.MemoryLimitBytes(0), 0u);
  EXPECT_EQ(config.MemoryLimitBytes(1), 1024 * kMiB);
  EXPECT_EQ(config.MemoryLimitBytes(2), 0u);
  ASSERT_EQ(config.warnings.size(), 2u);
  EXPECT_NE(config.warnings[0].find("'4G'"), std::string::npos);
}

TEST(HookConfigTest, DevicesPastTheListFailClosed) {
  HookConfig config = Parse({{"FLEXAI_MEMORY_LIMIT_MIB", "100"}, {"FLEXAI_CORES_LIMIT", "50"}});
  EXPECT_EQ(config.MemoryLimitBytes(1), 0u);
  EXPECT_EQ(config.CoresPercent(1), 1u);
}

TEST(HookConfigTest, ZeroCoresMeansBestEffortNotThrottled) {
  // A memory-only slice reserves no compute (the partition core's rule) and is not throttled.
  HookConfig config = Parse({{"FLEXAI_CORES_LIMIT", "0,40"}});
  EXPECT_TRUE(config.warnings.empty());
  EXPECT_EQ(config.CoresPercent(0), 100u);
  EXPECT_EQ(config.CoresPercent(1), 40u);
}

TEST(HookConfigTest, CoresOutsideZeroToHundredThrottleToOnePercent) {
  HookConfig config = Parse({{"FLEXAI_CORES_LIMIT", "-5,101,abc,100"}});
  EXPECT_EQ(config.CoresPercent(0), 1u);
  EXPECT_EQ(config.CoresPercent(1), 1u);
  EXPECT_EQ(config.CoresPercent(2), 1u);
  EXPECT_EQ(config.CoresPercent(3), 100u);
  EXPECT_EQ(config.warnings.size(), 3u);
}

TEST(HookConfigTest, MpsAndNoneModesDoNotEnforce) {
  EXPECT_FALSE(Parse({{"FLEXAI_ISOLATION", "mps"}}).Enforces());
  EXPECT_FALSE(Parse({{"FLEXAI_ISOLATION", "none"}}).Enforces());
}

TEST(HookConfigTest, UnknownModeEnforcesAndWarns) {
  HookConfig config = Parse({{"FLEXAI_ISOLATION", "strict"}});
  EXPECT_TRUE(config.Enforces());
  EXPECT_EQ(config.warnings.size(), 1u);
}

TEST(HookConfigTest, OverflowingMebibytesAreMalformed) {
  HookConfig config = Parse({{"FLEXAI_MEMORY_LIMIT_MIB", "99999999999999999999"}});
  EXPECT_EQ(config.MemoryLimitBytes(0), 0u);
  EXPECT_EQ(config.warnings.size(), 1u);
}

TEST(HookConfigTest, VisibleDevicesGiveEachChipUuidItsOrdinal) {
  HookConfig config = Parse({{"FLEXAI_VISIBLE_DEVICES", "GPU-aaaa, GPU-bbbb,GPU-cccc"}});
  EXPECT_EQ(config.VisibleDeviceOfUuid("GPU-aaaa"), 0);
  EXPECT_EQ(config.VisibleDeviceOfUuid("GPU-bbbb"), 1);
  EXPECT_EQ(config.VisibleDeviceOfUuid("GPU-cccc"), 2);
  EXPECT_EQ(config.VisibleDeviceOfUuid("GPU-dddd"), -1);
  EXPECT_EQ(config.VisibleDeviceOfUuid("GPU-aaa"), -1);
  EXPECT_EQ(config.VisibleDeviceOfUuid(""), -1);
  EXPECT_TRUE(config.warnings.empty());
}

TEST(HookConfigTest, WithoutVisibleDevicesNoUuidIsKnown) {
  EXPECT_EQ(Parse({}).VisibleDeviceOfUuid("GPU-aaaa"), -1);
  // An empty entry keeps the positions of the others and matches nothing.
  HookConfig config = Parse({{"FLEXAI_VISIBLE_DEVICES", ",GPU-bbbb"}});
  EXPECT_EQ(config.VisibleDeviceOfUuid("GPU-bbbb"), 1);
  EXPECT_EQ(config.VisibleDeviceOfUuid(""), -1);
}

}  // namespace
}  // namespace flexai::isolation
