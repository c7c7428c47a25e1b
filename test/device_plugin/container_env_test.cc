#include "device_plugin/container_env.h"

#include <gtest/gtest.h>

#include "device_plugin/backend/sim/sim_backend.h"
#include "device_plugin/backend/sim/sim_config.h"

namespace flexai::device_plugin {
namespace {

class ContainerEnvTest : public ::testing::Test {
 protected:
  SimBackend backend_{"", "n"};
  std::vector<partition::Chip> chips_ = DefaultSimChips("n").chips;
  std::vector<partition::Chip> two_ = {chips_[2], chips_[5]};
  std::vector<partition::ChipGrant> grants_ = {{2, chips_[2].uuid, 20480, 30, false},
                                               {5, chips_[5].uuid, 10240, 50, false}};
  ContainerHostPaths paths_{"/host/shared/uid-1/main", "/host/mps/all/pipe"};
};

TEST_F(ContainerEnvTest, HookModeGivesPerDeviceLimitsPreloadAndSharedDir) {
  PluginSettings settings;
  settings.isolation = IsolationMode::kHook;
  ContainerSetup setup = BuildContainerSetup(backend_, settings, two_, grants_, paths_);
  EXPECT_EQ(setup.env["FLEXAI_ISOLATION"], "hook");
  EXPECT_EQ(setup.env["FLEXAI_VISIBLE_DEVICES"], chips_[2].uuid + "," + chips_[5].uuid);
  EXPECT_EQ(setup.env["FLEXAI_MEMORY_LIMIT_MIB"], "20480,10240");
  EXPECT_EQ(setup.env["FLEXAI_CORES_LIMIT"], "30,50");
  EXPECT_EQ(setup.env["LD_PRELOAD"], "/usr/local/flexai/lib/libflexai-cuda.so");
  EXPECT_EQ(setup.env["FLEXAI_SHARED_DIR"], "/var/run/flexai/shared");
  ASSERT_EQ(setup.mounts.size(), 2u);
  EXPECT_EQ(setup.mounts[0].container_path, "/usr/local/flexai/lib");
  EXPECT_TRUE(setup.mounts[0].read_only);
  EXPECT_EQ(setup.mounts[1].host_path, "/host/shared/uid-1/main");
}

TEST_F(ContainerEnvTest, MpsModeGivesMpsLimitsAndPipeMount) {
  PluginSettings settings;
  settings.isolation = IsolationMode::kMps;
  ContainerSetup setup = BuildContainerSetup(backend_, settings, two_, grants_, paths_);
  EXPECT_EQ(setup.env["FLEXAI_ISOLATION"], "mps");
  EXPECT_EQ(setup.env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"], "0=20480M,1=10240M");
  EXPECT_EQ(setup.env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"], "30");
  EXPECT_EQ(setup.env["CUDA_MPS_PIPE_DIRECTORY"], "/var/run/flexai/mps");
  EXPECT_EQ(setup.env.count("LD_PRELOAD"), 0u);
  ASSERT_EQ(setup.mounts.size(), 1u);
  EXPECT_EQ(setup.mounts[0].host_path, "/host/mps/all/pipe");
}

TEST_F(ContainerEnvTest, MpsMemoryOnlySliceReservesNoThreads) {
  PluginSettings settings;
  settings.isolation = IsolationMode::kMps;
  std::vector<partition::ChipGrant> memory_only = {{2, chips_[2].uuid, 4096, 0, false}};
  ContainerSetup setup = BuildContainerSetup(backend_, settings, {chips_[2]}, memory_only, paths_);
  EXPECT_EQ(setup.env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"], "0=4096M");
  EXPECT_EQ(setup.env.count("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), 0u);
}

TEST_F(ContainerEnvTest, WholeChipsNeedNoEnforcement) {
  PluginSettings settings;
  std::vector<partition::ChipGrant> whole = {{2, chips_[2].uuid, 81559, 100, true}};
  ContainerSetup setup = BuildContainerSetup(backend_, settings, {chips_[2]}, whole, paths_);
  EXPECT_EQ(setup.env["FLEXAI_ISOLATION"], "none");
  EXPECT_EQ(setup.env.count("LD_PRELOAD"), 0u);
  EXPECT_TRUE(setup.mounts.empty());
}

TEST_F(ContainerEnvTest, VisibleDevicesVariableFollowsTheVendor) {
  PluginSettings settings;
  settings.isolation = IsolationMode::kNone;
  ContainerSetup sim = BuildContainerSetup(backend_, settings, two_, grants_, paths_);
  EXPECT_EQ(sim.env["FLEXAI_SIM_VISIBLE_DEVICES"], chips_[2].uuid + "," + chips_[5].uuid);
  EXPECT_EQ(sim.env.count("NVIDIA_VISIBLE_DEVICES"), 0u);
}

}  // namespace
}  // namespace flexai::device_plugin
