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
  ContainerHostPaths paths_{"/host/shared/uid-1/main", "/host/mps/all/pipe", "/host/mps/shm", {}};
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

TEST_F(ContainerEnvTest, HookModeMountsTheActivityBoardOfEachChipByUuid) {
  PluginSettings settings;
  settings.isolation = IsolationMode::kHook;
  ContainerHostPaths paths = paths_;
  paths.activity_boards = {"/host/shared/activity-a", "/host/shared/activity-b"};  // folders
  ContainerSetup setup = BuildContainerSetup(backend_, settings, two_, grants_, paths);
  EXPECT_EQ(setup.env["FLEXAI_ACTIVITY_DIR"], "/var/run/flexai/activity");
  ASSERT_EQ(setup.mounts.size(), 4u);
  EXPECT_EQ(setup.mounts[2].container_path, "/var/run/flexai/activity/" + chips_[2].uuid);
  EXPECT_EQ(setup.mounts[2].host_path, "/host/shared/activity-a");
  EXPECT_TRUE(setup.mounts[2].read_only);  // a container writes only its own boards
  EXPECT_EQ(setup.mounts[3].container_path, "/var/run/flexai/activity/" + chips_[5].uuid);
  EXPECT_EQ(setup.mounts[3].host_path, "/host/shared/activity-b");
  // MPS partitions the GPU and the hook throttles nothing there: no board.
  settings.isolation = IsolationMode::kMps;
  setup = BuildContainerSetup(backend_, settings, two_, grants_, paths);
  EXPECT_EQ(setup.env.count("FLEXAI_ACTIVITY_DIR"), 0u);
  ASSERT_EQ(setup.mounts.size(), 4u);  // the hook, accounting, MPS pipe and /dev/shm
  EXPECT_EQ(setup.mounts[2].container_path, "/var/run/flexai/mps");
}

TEST_F(ContainerEnvTest, MpsModeGivesMpsLimitsPipeAndSharedMemoryMounts) {
  PluginSettings settings;
  settings.isolation = IsolationMode::kMps;
  ContainerSetup setup = BuildContainerSetup(backend_, settings, two_, grants_, paths_);
  EXPECT_EQ(setup.env["FLEXAI_ISOLATION"], "mps");
  // Each slice plus the headroom for the client's context, which MPS counts in its limit.
  EXPECT_EQ(setup.env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"], "0=21504M,1=11264M");
  // The node-wide daemon sees every GPU: the client names its own, in the limits' order.
  EXPECT_EQ(setup.env["CUDA_VISIBLE_DEVICES"], two_[0].uuid + "," + two_[1].uuid);
  EXPECT_EQ(setup.env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"], "30");
  EXPECT_EQ(setup.env["CUDA_MPS_PIPE_DIRECTORY"], "/var/run/flexai/mps");
  // The hook is preloaded for accounting only (it reads FLEXAI_ISOLATION=mps): live usage.
  EXPECT_EQ(setup.env["LD_PRELOAD"], "/usr/local/flexai/lib/libflexai-cuda.so");
  EXPECT_EQ(setup.env["FLEXAI_SHARED_DIR"], "/var/run/flexai/shared");
  ASSERT_EQ(setup.mounts.size(), 4u);
  EXPECT_EQ(setup.mounts[0].container_path, "/usr/local/flexai/lib");
  EXPECT_EQ(setup.mounts[1].host_path, "/host/shared/uid-1/main");
  EXPECT_EQ(setup.mounts[2].container_path, "/var/run/flexai/mps");
  EXPECT_EQ(setup.mounts[2].host_path, "/host/mps/all/pipe");
  // The server's /dev/shm: MPS clients and server share POSIX shared memory.
  EXPECT_EQ(setup.mounts[3].container_path, "/dev/shm");
  EXPECT_EQ(setup.mounts[3].host_path, "/host/mps/shm");
  EXPECT_FALSE(setup.mounts[3].read_only);
}

TEST_F(ContainerEnvTest, MpsMemoryOnlySliceReservesNoThreads) {
  PluginSettings settings;
  settings.isolation = IsolationMode::kMps;
  std::vector<partition::ChipGrant> memory_only = {{2, chips_[2].uuid, 4096, 0, false}};
  ContainerSetup setup = BuildContainerSetup(backend_, settings, {chips_[2]}, memory_only, paths_);
  EXPECT_EQ(setup.env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"], "0=5120M");
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

TEST_F(ContainerEnvTest, IsolationAnnotationMustNameTheModeTheNodeRuns) {
  PluginSettings mps;
  mps.isolation = IsolationMode::kMps;
  const auto nvidia = partition::Vendor::kNvidia;
  auto asks = [](const std::string& mode) {
    return std::map<std::string, std::string>{{"flexai.io/isolation", mode}};
  };
  EXPECT_EQ(IsolationConflict({}, grants_, mps, nvidia), "");
  EXPECT_EQ(IsolationConflict(asks("mps"), grants_, mps, nvidia), "");
  EXPECT_EQ(IsolationConflict(asks("hook"), grants_, mps, nvidia),
            "the pod asks flexai.io/isolation=hook, this node's slice policy runs isolation mps");
  EXPECT_EQ(IsolationConflict(asks("none"), grants_, mps, nvidia),
            "flexai.io/isolation=none is not hook or mps");
  EXPECT_EQ(IsolationConflict(asks("strict"), grants_, mps, nvidia),
            "flexai.io/isolation=strict is not hook or mps");
  // Whole chips are never enforced, so any valid mode is served.
  std::vector<partition::ChipGrant> whole = {{2, chips_[2].uuid, 81559, 100, true}};
  EXPECT_EQ(IsolationConflict(asks("hook"), whole, mps, nvidia), "");
  EXPECT_NE(IsolationConflict(asks("mps"), grants_, mps, partition::Vendor::kAscend), "");
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

namespace flexai::device_plugin {
namespace {

// An Ascend node as the backend interface shows it (no DCMI needed).
class AscendLikeBackend : public Backend {
 public:
  partition::Vendor vendor() const override { return partition::Vendor::kAscend; }
  Result<std::vector<partition::Chip>> Discover() override {
    return std::vector<partition::Chip>{};
  }
  Result<HealthReport> CheckHealth() override { return HealthReport{}; }
  std::map<std::string, std::string> VisibleDevicesEnv(
      const std::vector<partition::Chip>& chips) const override {
    return {{"ASCEND_VISIBLE_DEVICES", std::to_string(chips.front().index)}};
  }
};

// An NVIDIA node as the backend interface shows it (no NVML needed).
class NvidiaLikeBackend : public Backend {
 public:
  partition::Vendor vendor() const override { return partition::Vendor::kNvidia; }
  Result<std::vector<partition::Chip>> Discover() override {
    return std::vector<partition::Chip>{};
  }
  Result<HealthReport> CheckHealth() override { return HealthReport{}; }
  std::map<std::string, std::string> VisibleDevicesEnv(
      const std::vector<partition::Chip>& chips) const override {
    std::string uuids;
    for (const auto& chip : chips) uuids += (uuids.empty() ? "" : ",") + chip.uuid;
    return {{"NVIDIA_VISIBLE_DEVICES", uuids}};
  }
};

TEST(DeviceListStrategy, VolumeMountsNameEachGpuByAMountInsteadOfTheVariable) {
  NvidiaLikeBackend backend;
  std::vector<partition::Chip> chips = DefaultSimChips("n").chips;
  std::vector<partition::Chip> two = {chips[1], chips[4]};
  std::vector<partition::ChipGrant> whole = {{1, chips[1].uuid, 81559, 100, true},
                                             {4, chips[4].uuid, 81559, 100, true}};
  PluginSettings settings;
  ContainerSetup envvar = BuildContainerSetup(backend, settings, two, whole, {});
  EXPECT_EQ(envvar.env["NVIDIA_VISIBLE_DEVICES"], chips[1].uuid + "," + chips[4].uuid);
  EXPECT_TRUE(envvar.mounts.empty());

  settings.device_list_as_volume_mounts = true;
  ContainerSetup mounts = BuildContainerSetup(backend, settings, two, whole, {});
  EXPECT_EQ(mounts.env["NVIDIA_VISIBLE_DEVICES"], "/var/run/nvidia-container-devices");
  ASSERT_EQ(mounts.mounts.size(), 2u);
  EXPECT_EQ(mounts.mounts[0].container_path, "/var/run/nvidia-container-devices/" + chips[1].uuid);
  EXPECT_EQ(mounts.mounts[0].host_path, "/dev/null");
  EXPECT_EQ(mounts.mounts[1].container_path, "/var/run/nvidia-container-devices/" + chips[4].uuid);
  // FLEXAI_VISIBLE_DEVICES still lists the chips for the hook library.
  EXPECT_EQ(mounts.env["FLEXAI_VISIBLE_DEVICES"], chips[1].uuid + "," + chips[4].uuid);
}

TEST(DeviceListStrategy, OnlyNvidiaGpusAreNamedByMounts) {
  SimBackend sim{"", "n"};
  std::vector<partition::Chip> chips = DefaultSimChips("n").chips;
  PluginSettings settings;
  settings.device_list_as_volume_mounts = true;
  ContainerSetup setup =
      BuildContainerSetup(sim, settings, {chips[0]}, {{0, chips[0].uuid, 81559, 100, true}}, {});
  EXPECT_TRUE(setup.mounts.empty());
  EXPECT_EQ(setup.env.count("NVIDIA_VISIBLE_DEVICES"), 0u);
}

partition::Chip Npu(const std::string& model) {
  partition::Chip chip;
  chip.vendor = partition::Vendor::kAscend;
  chip.index = 3;
  chip.uuid = "Ascend-x";
  chip.model = model;
  chip.memory_mib = 65536;
  return chip;
}

class VnpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto policy = partition::LoadSlicePolicyFile(std::string(FLEXAI_SOURCE_DIR) +
                                                 "/deploy/policy/policy.yaml");
    ASSERT_TRUE(policy.ok()) << policy.error().message;
    settings_.policy = *policy;
    settings_.isolation = IsolationMode::kNone;
  }
  std::map<std::string, std::string> EnvFor(const std::string& model, int64_t mib, int cores) {
    partition::Chip chip = Npu(model);
    return BuildContainerSetup(backend_, settings_, {chip}, {{3, chip.uuid, mib, cores, false}}, {})
        .env;
  }
  AscendLikeBackend backend_;
  PluginSettings settings_;
};

TEST_F(VnpuTest, AscendSliceGetsTheSmallestTemplateThatHoldsIt) {
  // 25% of a 910B3's 20 AI cores = 5 cores, 16 GiB: vir05_1c_16g.
  auto env = EnvFor("910B3", 16384, 25);
  EXPECT_EQ(env["ASCEND_VNPU_SPECS"], "vir05_1c_16g");
  EXPECT_EQ(env["ASCEND_VISIBLE_DEVICES"], "3");
  EXPECT_EQ(EnvFor("910B3", 20000, 25)["ASCEND_VNPU_SPECS"], "vir10_3c_32g");
}

// The chip's own AI core count (DCMI) wins over the policy's for its model: 25% of a variant
// with 40 AI cores is 10 cores, which vir05_1c_16g does not hold.
TEST_F(VnpuTest, TheChipsOwnAiCoreCountSizesItsVnpu) {
  partition::Chip chip = Npu("910B3");
  chip.compute_units = 40;
  auto env =
      BuildContainerSetup(backend_, settings_, {chip}, {{3, chip.uuid, 16384, 25, false}}, {}).env;
  EXPECT_EQ(env["ASCEND_VNPU_SPECS"], "vir10_3c_32g");
}

TEST_F(VnpuTest, NoTemplateMeansNoVnpu) {
  EXPECT_EQ(EnvFor("910B3", 40000, 25).count("ASCEND_VNPU_SPECS"), 0u);
  EXPECT_EQ(EnvFor("UnknownModel", 1024, 10).count("ASCEND_VNPU_SPECS"), 0u);
}

}  // namespace
}  // namespace flexai::device_plugin
